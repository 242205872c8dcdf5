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
from quranbot.bot.localizer import replies
from quranbot.i18n.catalog import N_, Language, Messages, said
from quranbot.i18n.surah_names import surah_name
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
TANZIL_DATA_CREDIT = N_("Quran data: Tanzil Project, tanzil.net")
COLOURS = {"open": discord.Colour.blurple(), "revealed": discord.Colour.green()}
#: Categories and difficulties as members read them (the ids stay English in commands and files).
NAMES = {
    "quran": N_("Quran"),
    "hadith": N_("Hadith"),
    "fiqh": N_("Fiqh"),
    "history": N_("History"),
    "beginner": N_("Beginner"),
    "intermediate": N_("Intermediate"),
    "advanced": N_("Advanced"),
}


def shown_name(name: str, text: Messages) -> str:
    """A category's or difficulty's name in the reader's language."""
    return text.t(NAMES[name]) if name in NAMES else name.capitalize()


def _title(question: Question, text: Messages) -> str:
    return text.t(
        "Quiz · {category} · {difficulty}",
        category=shown_name(question.category, text),
        difficulty=shown_name(question.difficulty, text),
    )


def _question_text(question: Question, text: Messages) -> str:
    """A generated question in the reader's language (its wording is the catalog's, its facts the
    data's). A bank's question as the bank has it: its English, and its Arabic where the bank gives one
    (first, for an Arabic-speaking server); the catalog never rewrites a bank's question."""
    quote = f"\n\n> {question.quote}" if question.quote else ""
    if question.wording is not None:
        return f"**{question.wording.question.said_in(text)}**{quote}"
    if question.question_ar and text.language is Language.ARABIC:
        return f"**{question.question_ar}**\n{question.question}{quote}"
    arabic = f"\n{question.question_ar}" if question.question_ar else ""
    return f"**{question.question}**{arabic}{quote}"


def shown_choices(question: Question, text: Messages) -> tuple[str, ...]:
    """The four choices as the reader reads them (a generated question's in their language), in order."""
    if question.wording is None:
        return question.choices
    return tuple(said(choice, text) for choice in question.wording.choices)


def shown_explanation(question: Question, text: Messages) -> str:
    if question.wording is None:
        return question.explanation
    return question.wording.explanation.said_in(text)


def _choices(
    question: Question, text: Messages, counts: Sequence[int] | None = None, reveal: bool = False
) -> str:
    lines = []
    for index, (letter, choice) in enumerate(zip(LETTERS, shown_choices(question, text), strict=True)):
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


def credits(question: Question, revealed: bool, text: Messages) -> str:
    """The attributions a message showing this question (and, revealed, its references) needs."""
    shows_ayahs = revealed and any(r.is_quran for r in question.references)
    parts = []
    if shows_ayahs or _quoted_in(question, ARABIC_FILE):
        parts.append(ARABIC_CREDIT)
    if shows_ayahs or _quoted_in(question, TRANSLATION_FILE):
        parts.append(TRANSLATION_CREDIT)
    if not parts and question.source == "generated":
        parts.append(TANZIL_DATA_CREDIT)
    return " · ".join(text.t(part) for part in parts)


def question_embed(
    question: Question, deadline: float, asked_by: str | None, text: Messages
) -> discord.Embed:
    closes = int(deadline)
    embed = discord.Embed(
        title=_title(question, text),
        description=f"{_question_text(question, text)}\n\n{_choices(question, text)}",
        colour=COLOURS["open"],
    )
    embed.add_field(
        name=text.t("Closes"),
        value=text.t("{relative} (at {time})", relative=f"<t:{closes}:R>", time=f"<t:{closes}:T>"),
        inline=False,
    )
    footer = text.t("Asked by {name}", name=asked_by) if asked_by else text.t("Scheduled quiz")
    footer += " · " + text.t("one answer each; the first counts")
    credit = credits(question, revealed=False, text=text)
    embed.set_footer(text=f"{footer} · {credit}" if credit else footer)
    return embed


def reference_text(reference: Reference, budget: int, text: Messages) -> str:
    """A reference as a reader checks it: its label and, for the Quran, its ayahs (Arabic and Pickthall)
    in full, as many as fit in `budget` characters; never half an ayah."""
    if not reference.is_quran:
        label = reference.citation or ""
        return f"📖 {label}" + (f" — {reference.url}" if reference.url else "")
    assert reference.surah is not None and reference.first_ayah is not None
    surah = load_metadata().surah(reference.surah)
    last = reference.last_ayah or reference.first_ayah
    head = f"📖 **{surah_name(surah.number, text.language)} {text.ltr(reference.label())}**"
    lines = [head]
    used = len(head)
    arabic, english = load_text(), load_text(TRANSLATION_FILE)
    for ayah in range(reference.first_ayah, last + 1):
        where = text.ltr(f"{surah.number}:{ayah}")
        block = f"> {arabic.ayah(surah.number, ayah)}\n*{english.ayah(surah.number, ayah)}* ({where})"
        if used + len(block) + 1 > budget:
            lines.append(text.t("… continues to {ref} (tanzil.net)", ref=text.ltr(f"{surah.number}:{last}")))
            break
        lines.append(block)
        used += len(block) + 1
    return "\n".join(lines)


def _names(user_ids: Sequence[int], text: Messages) -> str:
    shown = " ".join(f"<@{u}>" for u in user_ids[:NAMED_LIMIT])
    more = len(user_ids) - NAMED_LIMIT
    return shown + (" " + text.t("and {count} more", count=more) if more > 0 else "")


def _lines_within(lines: Sequence[str], room: int, text: Messages) -> str:
    """As many whole lines as fit in `room` characters, then "and N more"."""
    shown: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > room - 20:
            break
        shown.append(line)
        used += len(line) + 1
    more = len(lines) - len(shown)
    return "\n".join(shown) + ("\n" + text.t("and {count} more", count=more) if more else "")


def _shortened(text: str, room: int) -> str:
    """`text` cut at a word to fit `room` characters, marked with an ellipsis (never used on Quran text)."""
    if len(text) <= room:
        return text
    return text[: max(0, room - 1)].rsplit(" ", 1)[0] + "…"


def reveal_embed(
    question: Question, results: Sequence[AnswerResult], text: Messages, note: str | None = None
) -> discord.Embed:
    """The answer, drawn within Discord's limits: fields and footer first, then the description in the
    room left (4,096 characters at most, 6,000 for the whole embed), references last, whole ayahs only.
    `note` is a message id, said in `text`'s language."""
    title = text.t("{title} · Answer", title=_title(question, text))
    embed = discord.Embed(title=title, colour=COLOURS["revealed"])
    right = [r.user_id for r in results if r.correct]
    summary = _names(right, text) if right else text.t("Nobody this time.")
    counted = text.t("{right} of {answers}", right=len(right), answers=len(results))
    embed.add_field(name=text.t("Right ({count})", count=counted), value=summary, inline=False)
    best = max((r for r in results if r.correct), key=lambda r: (r.points, -r.seconds), default=None)
    if best is not None:
        embed.add_field(
            name=text.t("Most points"), value=f"<@{best.user_id}> {text.ltr(f'+{best.points}')}", inline=False
        )
    earned = [
        text.t(
            "{member} earned **{name}** ({description})",
            member=f"<@{r.user_id}>",
            name=text.t(a.name),
            description=a.description.said_in(text),
        )
        for r in results
        for a in r.earned
    ]
    if earned:
        embed.add_field(
            name=text.t("Achievements"), value=_lines_within(earned, FIELD_LIMIT, text), inline=False
        )
    said_note = text.t(note) if note else None
    footer = " · ".join(p for p in (said_note, credits(question, revealed=True, text=text)) if p)
    if footer:
        embed.set_footer(text=footer)
    room = min(DESCRIPTION_LIMIT, EMBED_LIMIT - len(embed)) - 10
    counts = [sum(1 for r in results if r.choice == i) for i in range(len(LETTERS))]
    head = f"{_question_text(question, text)}\n\n{_choices(question, text, counts, reveal=True)}"
    answer = "\n\n**" + text.t("Answer: {letter}", letter=LETTERS[question.answer]) + "** · "
    arabic = f"\n{question.explanation_ar}" if question.explanation_ar else ""
    explanation = shown_explanation(question, text)
    left = room - len(head) - len(answer)
    if len(explanation) + len(arabic) > left:
        arabic = ""  # the longest curated question: its Arabic explanation is the first thing to go
    description = head + answer + _shortened(explanation, left) + arabic
    budget = room - len(description)
    for reference in sorted(question.references, key=lambda r: r.is_quran):  # short citations first
        if budget <= 80:
            break
        block = "\n\n" + reference_text(reference, budget - 2, text)
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
    await interaction.response.send_message(
        replies(interaction).t("The quiz is not running right now."), ephemeral=True
    )
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
def stats_embed(name: str, score: QuizScore, rank: int | None, members: int, text: Messages) -> discord.Embed:
    embed = discord.Embed(title=text.t("Quiz · {name}", name=name), colour=discord.Colour.blurple())
    if not score.answered:
        embed.description = text.t("No answers yet: `/quiz start` asks a question.")
        return embed
    place = text.t("#{rank} of {members}", rank=rank, members=members) if rank is not None else "—"
    embed.add_field(name=text.t("Points"), value=text.ltr(f"{score.points:,}"))
    embed.add_field(name=text.t("Rank"), value=place)
    embed.add_field(
        name=text.t("Accuracy"), value=text.ltr(f"{accuracy(score):.0%} ({score.correct}/{score.answered})")
    )
    embed.add_field(
        name=text.t("Streak"),
        value=text.t("{streak} now · best {best}", streak=score.streak, best=score.best_streak),
    )
    if score.last_activity:
        embed.add_field(name=text.t("Last answer"), value=f"<t:{int(score.last_activity)}:R>")
    if score.categories:
        lines = [
            f"{shown_name(category, text)}: {text.ltr(f'{correct}/{answered}')}"
            for category, (correct, answered) in sorted(score.categories.items())
        ]
        embed.add_field(name=text.t("By category"), value="\n".join(lines), inline=False)
    earned = [BY_ID[a] for a in score.achievements if a in BY_ID]
    if earned:
        embed.add_field(name=text.t("Achievements"), value=_achievement_lines(earned, text), inline=False)
    return embed


def _achievement_lines(earned: Sequence[Achievement], text: Messages) -> str:
    lines = [f"🏅 **{text.t(a.name)}** — {a.description.said_in(text)}" for a in earned]
    return _lines_within(lines, FIELD_LIMIT, text)
