"""What a quiz looks like in Discord: the question, its answer buttons, the reveal, a member's stats.

Rendering only; `QuizHost` (quranbot/bot/quiz_host.py) decides what happens. The answer buttons are
`DynamicItem`s: their custom_id carries the quiz they belong to, so a click on a message posted before
a restart still reaches the bot. (The leaderboard is drawn by quranbot/bot/leaderboard_view.py.)

Quran text shown here is Tanzil's, verbatim, and always credited; a reference's ayahs are shown whole
(never cut in two) while they fit the embed, and the rest is named so a reader can look it up.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import discord
from discord.ext import commands

from quranbot.bot.audit_trail import refuse, reported
from quranbot.quiz.achievements import BY_ID, Achievement
from quranbot.quiz.member_stats import AnswerResult, accuracy
from quranbot.quiz.question import LETTERS, Question, Reference
from quranbot.quran.metadata import load_metadata
from quranbot.quran.text import ARABIC_CREDIT, ARABIC_FILE, TRANSLATION_CREDIT, TRANSLATION_FILE, load_text
from quranbot.store.records import QuizScore

ANSWER_PREFIX = "quranbot:quiz:"
#: Discord's limits on an embed's description and on all of its text.
DESCRIPTION_LIMIT, EMBED_LIMIT, FIELD_LIMIT = 4096, 6000, 1024
#: Members named in a reveal before "and N more".
NAMED_LIMIT = 20
#: Generated questions state facts from Tanzil's metadata (names, counts, order, juz).
TANZIL_DATA_CREDIT = "Quran data: Tanzil Project, tanzil.net"
COLOURS = {"open": discord.Colour.blurple(), "revealed": discord.Colour.green()}


def _title(question: Question) -> str:
    return f"Quiz · {question.category.capitalize()} · {question.difficulty.capitalize()}"


def _question_text(question: Question) -> str:
    quote = f"\n\n> {question.quote}" if question.quote else ""
    arabic = f"\n{question.question_ar}" if question.question_ar else ""
    return f"**{question.question}**{arabic}{quote}"


def _choices(question: Question, counts: Sequence[int] | None = None, reveal: bool = False) -> str:
    lines = []
    for index, (letter, choice) in enumerate(zip(LETTERS, question.choices, strict=True)):
        mark = ("✅ " if index == question.answer else "▫️ ") if reveal else ""
        tally = f" — {counts[index]}" if counts is not None else ""
        lines.append(f"{mark}**{letter}** · {discord.utils.escape_markdown(choice)}{tally}")
    return "\n".join(lines)


def _quoted_in(question: Question, name: str) -> bool:
    """Does the question quote an ayah it references, as it reads in this file (Arabic or Pickthall)?"""
    quote = question.quote
    if not quote:
        return False
    text = load_text(name)
    for ref in question.references:
        if ref.surah is not None and ref.first_ayah is not None:
            last = ref.last_ayah or ref.first_ayah
            if any(quote in text.ayah(ref.surah, a) for a in range(ref.first_ayah, last + 1)):
                return True
    return False


def credits(question: Question, revealed: bool) -> str:
    """The attributions a message showing this question (and, revealed, its references) needs."""
    shows_ayahs = revealed and any(r.is_quran for r in question.references)
    parts = []
    if shows_ayahs or _quoted_in(question, ARABIC_FILE):
        parts.append(ARABIC_CREDIT)
    if shows_ayahs or _quoted_in(question, TRANSLATION_FILE):
        parts.append(TRANSLATION_CREDIT)
    if not parts and question.source == "generated":
        parts.append(TANZIL_DATA_CREDIT)
    return " · ".join(parts)


def question_embed(question: Question, deadline: float, asked_by: str | None) -> discord.Embed:
    closes = int(deadline)
    embed = discord.Embed(
        title=_title(question),
        description=f"{_question_text(question)}\n\n{_choices(question)}",
        colour=COLOURS["open"],
    )
    embed.add_field(name="Closes", value=f"<t:{closes}:R> (at <t:{closes}:T>)", inline=False)
    footer = f"Asked by {asked_by}" if asked_by else "Scheduled quiz"
    footer += " · one answer each; the first counts"
    credit = credits(question, revealed=False)
    embed.set_footer(text=f"{footer} · {credit}" if credit else footer)
    return embed


def reference_text(reference: Reference, budget: int) -> str:
    """A reference as a reader checks it: its label and, for the Quran, its ayahs (Arabic and Pickthall)
    in full, as many as fit in `budget` characters; never half an ayah."""
    if not reference.is_quran:
        label = reference.citation or ""
        return f"📖 {label}" + (f" — {reference.url}" if reference.url else "")
    assert reference.surah is not None and reference.first_ayah is not None
    surah = load_metadata().surah(reference.surah)
    last = reference.last_ayah or reference.first_ayah
    head = f"📖 **{surah.name} {reference.label()}**"
    lines = [head]
    used = len(head)
    arabic, english = load_text(), load_text(TRANSLATION_FILE)
    for ayah in range(reference.first_ayah, last + 1):
        where = f"{surah.number}:{ayah}"
        block = f"> {arabic.ayah(surah.number, ayah)}\n*{english.ayah(surah.number, ayah)}* ({where})"
        if used + len(block) + 1 > budget:
            lines.append(f"… continues to {surah.number}:{last} (tanzil.net)")
            break
        lines.append(block)
        used += len(block) + 1
    return "\n".join(lines)


def _names(user_ids: Sequence[int]) -> str:
    shown = " ".join(f"<@{u}>" for u in user_ids[:NAMED_LIMIT])
    more = len(user_ids) - NAMED_LIMIT
    return shown + (f" and {more} more" if more > 0 else "")


def _lines_within(lines: Sequence[str], room: int) -> str:
    """As many whole lines as fit in `room` characters, then "and N more"."""
    shown: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > room - 20:
            break
        shown.append(line)
        used += len(line) + 1
    more = len(lines) - len(shown)
    return "\n".join(shown) + (f"\nand {more} more" if more else "")


def _shortened(text: str, room: int) -> str:
    """`text` cut at a word to fit `room` characters, marked with an ellipsis (never used on Quran text)."""
    if len(text) <= room:
        return text
    return text[: max(0, room - 1)].rsplit(" ", 1)[0] + "…"


def reveal_embed(
    question: Question, results: Sequence[AnswerResult], note: str | None = None
) -> discord.Embed:
    """The answer, drawn within Discord's limits: fields and footer first, then the description in the
    room left (4,096 characters at most, 6,000 for the whole embed), references last, whole ayahs only."""
    embed = discord.Embed(title=_title(question) + " · Answer", colour=COLOURS["revealed"])
    right = [r.user_id for r in results if r.correct]
    summary = _names(right) if right else "Nobody this time."
    embed.add_field(name=f"Right ({len(right)} of {len(results)})", value=summary, inline=False)
    best = max((r for r in results if r.correct), key=lambda r: (r.points, -r.seconds), default=None)
    if best is not None:
        embed.add_field(name="Most points", value=f"<@{best.user_id}> +{best.points}", inline=False)
    earned = [f"<@{r.user_id}> earned **{a.name}** ({a.description})" for r in results for a in r.earned]
    if earned:
        embed.add_field(name="Achievements", value=_lines_within(earned, FIELD_LIMIT), inline=False)
    footer = " · ".join(p for p in (note, credits(question, revealed=True)) if p)
    if footer:
        embed.set_footer(text=footer)
    room = min(DESCRIPTION_LIMIT, EMBED_LIMIT - len(embed)) - 10
    counts = [sum(1 for r in results if r.choice == i) for i in range(len(LETTERS))]
    head = f"{_question_text(question)}\n\n{_choices(question, counts, reveal=True)}"
    answer = f"\n\n**Answer: {LETTERS[question.answer]}** · "
    arabic = f"\n{question.explanation_ar}" if question.explanation_ar else ""
    left = room - len(head) - len(answer)
    if len(question.explanation) + len(arabic) > left:
        arabic = ""  # the longest curated question: its Arabic explanation is the first thing to go
    description = head + answer + _shortened(question.explanation, left) + arabic
    budget = room - len(description)
    for reference in sorted(question.references, key=lambda r: r.is_quran):  # short citations first
        if budget <= 80:
            break
        block = "\n\n" + reference_text(reference, budget - 2)
        description += block
        budget -= len(block)
    embed.description = description
    return embed


# -- buttons ---------------------------------------------------------------------------------------------
@runtime_checkable
class QuizActions(Protocol):
    """What the quiz's buttons ask of the cog behind them (found by name: buttons outlive views)."""

    async def answer(self, interaction: discord.Interaction, quiz_id: int, choice: int) -> None: ...


QUIZ_COG = "QuizCog"


async def _actions(interaction: discord.Interaction) -> QuizActions | None:
    client = interaction.client
    cog = client.get_cog(QUIZ_COG) if isinstance(client, commands.Bot) else None
    if isinstance(cog, QuizActions):
        return cog
    refuse(interaction, "the quiz is not running")
    await interaction.response.send_message("The quiz is not running right now.", ephemeral=True)
    return None


class AnswerButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=ANSWER_PREFIX + r"(?P<quiz>[0-9a-f]+):(?P<choice>[0-3])",
):
    """One choice of one quiz: `quranbot:quiz:<quiz id hex>:<0-3>`."""

    def __init__(
        self,
        quiz_id: int,
        choice: int,
        *,
        disabled: bool = False,
        style: discord.ButtonStyle = discord.ButtonStyle.primary,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=LETTERS[choice],
                custom_id=f"{ANSWER_PREFIX}{quiz_id:x}:{choice}",
                style=style,
                disabled=disabled,
            )
        )
        self.quiz_id = quiz_id
        self.choice = choice

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AnswerButton:
        return cls(int(match["quiz"], 16), int(match["choice"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        # The choice is left out of the record: no answer is published before the reveal.
        async with reported(interaction, "quiz.answer", quiz=f"{self.quiz_id:x}"):
            actions = await _actions(interaction)
            if actions is not None:
                await actions.answer(interaction, self.quiz_id, self.choice)


def answer_view(quiz_id: int, question: Question | None = None, revealed: bool = False) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for choice in range(len(LETTERS)):
        style = discord.ButtonStyle.primary
        if revealed and question is not None:
            style = (
                discord.ButtonStyle.success if choice == question.answer else discord.ButtonStyle.secondary
            )
        view.add_item(AnswerButton(quiz_id, choice, disabled=revealed, style=style))
    return view


# -- stats --------------------------------------------------------------------------------------
def stats_embed(name: str, score: QuizScore, rank: int | None, members: int) -> discord.Embed:
    embed = discord.Embed(title=f"Quiz · {name}", colour=discord.Colour.blurple())
    if not score.answered:
        embed.description = "No answers yet: `/quiz start` asks a question."
        return embed
    place = f"#{rank} of {members}" if rank is not None else "—"
    embed.add_field(name="Points", value=f"{score.points:,}")
    embed.add_field(name="Rank", value=place)
    embed.add_field(name="Accuracy", value=f"{accuracy(score):.0%} ({score.correct}/{score.answered})")
    embed.add_field(name="Streak", value=f"{score.streak} now · best {score.best_streak}")
    if score.last_activity:
        embed.add_field(name="Last answer", value=f"<t:{int(score.last_activity)}:R>")
    if score.categories:
        lines = [
            f"{category.capitalize()}: {correct}/{answered}"
            for category, (correct, answered) in sorted(score.categories.items())
        ]
        embed.add_field(name="By category", value="\n".join(lines), inline=False)
    earned = [BY_ID[a] for a in score.achievements if a in BY_ID]
    if earned:
        embed.add_field(name="Achievements", value=_achievement_lines(earned), inline=False)
    return embed


def _achievement_lines(earned: Sequence[Achievement]) -> str:
    return _lines_within([f"🏅 **{a.name}** — {a.description}" for a in earned], FIELD_LIMIT)
