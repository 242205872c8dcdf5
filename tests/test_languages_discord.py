"""Languages with the real bot on the sandbox: the command sync, `/language`, and `/setup language ar`
turning the panel and the daily verse Arabic, read from the messages the bot actually posted.

Expected Arabic is read from the catalog (quranbot/i18n/locales), never typed here; the Quran's text
is compared with the data files' bytes, as tests/test_daily_verse_discord.py does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import discord
import pytest
from quiz_helpers import click, description
from running_bot import RunningBot
from test_daily_verse_discord import ARABIC, ENGLISH, skip_midnight, utc_in
from test_panel import configure, panels, until
from test_quiz_discord import scores

from quranbot.bot.ayah_view import SEARCH_LIMIT, ayah_message, ayah_pages, search_message
from quranbot.i18n.bidi import LRI, PDI
from quranbot.i18n.catalog import Catalogs, Language, said
from quranbot.paths import Paths
from quranbot.quiz.bank import BankLoader
from quranbot.quiz.question import LETTERS
from quranbot.quran.metadata import AyahRef, load_metadata
from quranbot.quran.search import search_ayahs
from quranbot.sandbox.command_locales import DISCORD_LOCALES, bad_localizations
from quranbot.sandbox.limits import EMBED_TOTAL_LIMIT, check_message, embed_size
from quranbot.sandbox.model import Message
from quranbot.sandbox.server import Sandbox
from quranbot.store.state import StateStore

CATALOGS = Catalogs()
AR = CATALOGS.messages(Language.ARABIC)
#: A placeholder left unfilled: `{name}` in the text a member reads.
UNFILLED = re.compile(r"\{[a-z_]+\}")
ARABIC_LETTER = re.compile("[\u0621-\u064a]")
#: The longest query a page button can carry (QUERY_LIMIT, 60), matching 2:282 (the longest ayah).
LONG_QUERY = "O ye who believe! When ye contract a debt for a fixed term"


def texts(message: Message) -> list[str]:
    """Every string of a message a member reads: content, embed titles, descriptions, fields, footers,
    button labels and select placeholders and options."""
    found = [message.content]
    for embed in message.embeds:
        found += [
            embed.get("title", ""),
            embed.get("description", ""),
            embed.get("footer", {}).get("text", ""),
        ]
        found += [part for field in embed.get("fields", []) for part in (field["name"], field["value"])]

    def walk(component: Any) -> None:
        if isinstance(component, dict):
            found.extend(
                str(component[k]) for k in ("label", "placeholder", "description") if component.get(k)
            )
            for value in component.values():
                walk(value)
        elif isinstance(component, list):
            for item in component:
                walk(item)

    walk(message.components)
    return found


def localisations(commands: list[dict[str, Any]]) -> set[str]:
    """Every locale key sent in any name/description localisation, at any depth."""
    keys: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key.endswith("_localizations") and isinstance(item, dict):
                    keys.update(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(commands)
    return keys


def test_the_sandbox_refuses_a_locale_discord_does_not_have() -> None:
    command = {"name": "pause", "description": "x", "description_localizations": {"ar": "y", "fr": "z"}}
    options = {"name": "x", "options": [{"name": "o", "name_localizations": {"ar-SA": "o"}}]}
    assert bad_localizations([command, options]) == [
        "0.description_localizations.ar",
        "1.options.0.name_localizations.ar-SA",
    ]
    assert "ar" not in DISCORD_LOCALES and "fr" in DISCORD_LOCALES


async def test_the_sync_succeeds_with_english_names_and_no_arabic_localisation(
    sandbox: Sandbox, home: Path
) -> None:
    configure(sandbox, home)
    async with RunningBot(sandbox, home):
        await sandbox.wait_for_ready()
        await until(lambda: sandbox.world.command_syncs, what="the command sync")
        registered = sandbox.default.application.global_commands
        assert {"language", "setup", "play", "quiz"} <= {c["name"] for c in registered}
    (sent,) = sandbox.world.command_syncs
    # The translator answered None for every Discord locale: no localisation at all was sent.
    assert localisations(sent) == set()
    setup = next(c for c in sent if c["name"] == "setup")
    language = next(o for o in setup["options"] if o["name"] == "language")
    assert [c["value"] for c in language["choices"]] == ["en", "ar"]


async def test_language_switches_one_members_replies_only(sandbox: Sandbox, home: Path) -> None:
    d = sandbox.default
    configure(sandbox, home)
    async with RunningBot(sandbox, home):
        await sandbox.wait_for_ready()
        before = await sandbox.run_command(d.listener, d.general, "ping")
        await before.wait()
        assert before.original is not None and before.original.content.startswith("Pong! Gateway latency: ")

        chosen = await sandbox.run_command(d.listener, d.general, "language", language="ar")
        await chosen.wait()
        assert chosen.original is not None
        assert chosen.original.content == AR.t("From now on I answer you in {language}.", language="العربية")

        after = await sandbox.run_command(d.listener, d.general, "ping")
        await after.wait()
        assert after.original is not None
        head = AR.t("Pong! Gateway latency: {latency}.").split("{")[0]
        assert head and after.original.content.startswith(head) and "Pong" not in after.original.content
        assert not UNFILLED.search(after.original.content)

        other = await sandbox.run_command(d.admin, d.general, "ping")
        await other.wait()
        assert other.original is not None and other.original.content.startswith("Pong! Gateway latency: ")

        back = await sandbox.run_command(d.listener, d.general, "language", language="server")
        await back.wait()
        assert back.original is not None
        assert back.original.content == "I answer you in this server's language again."


async def test_setup_language_ar_turns_the_panel_and_the_daily_verse_arabic(
    sandbox: Sandbox, home: Path
) -> None:
    skip_midnight()
    d = sandbox.default
    configure(sandbox, home)
    async with RunningBot(sandbox, home, timezone="UTC"):
        await sandbox.wait_for_ready()
        await until(lambda: panels(sandbox), what="the panel")
        assert panels(sandbox)[0].embeds[0]["fields"][0]["name"] == "Reciter"  # English until /setup

        done = await sandbox.run_command(
            d.admin,
            d.general,
            "setup",
            language="ar",
            daily_verse_channel=d.general.id,
            daily_verse_time=utc_in(4),
        )
        await done.wait()
        assert done.original is not None
        assert done.original.content.startswith(AR.t("Reciting in {channel}").split("{")[0])

        def arabic_panel() -> bool:
            embeds = panels(sandbox)[0].embeds
            return bool(embeds) and embeds[0]["fields"][0]["name"] == AR.t("Reciter")

        await until(arabic_panel, 10, "the panel drawn in Arabic")
        panel = panels(sandbox)[0]
        embed = panel.embeds[0]
        assert embed["title"] in {AR.t("Now reciting"), AR.t("Paused"), AR.t("Ready")}
        progress = next(f for f in embed["fields"] if f["name"] == AR.t("Progress"))
        # the clock pair reads left to right inside the Arabic: "00:03 / 00:01:30", not reversed
        assert re.search(f"`{LRI}[0-9:]+ / [0-9:]+{PDI}`", progress["value"])
        labels = [c.get("label") for r in panel.components for c in r["components"] if c.get("label")]
        assert AR.t("Previous") in labels and AR.t("Next") in labels
        for text in texts(panel):
            assert not UNFILLED.search(text), text

        def verses() -> list[Message]:
            title = AR.t("Verse of the day · {surah} {ref}").split("{")[0]
            return [
                m
                for m in sandbox.messages(d.general, include_ephemeral=False)
                if m.embeds and str(m.embeds[0].get("title", "")).startswith(title)
            ]

        await until(verses, 10, "the daily verse in Arabic")
        verse = verses()[0].embeds[0]
        match = re.search(f"{LRI}([0-9]+):([0-9]+){PDI}$", verse["title"])
        assert match is not None, verse["title"]
        ref = int(match.group(1)), int(match.group(2))
        # the Quran's text is the data's, byte for byte, whatever the language
        assert verse["description"].encode() == f"{ARABIC[ref]}\n\n{ENGLISH[ref]}".encode()
        assert AR.t("Quran text: Tanzil Project, tanzil.net") in verse["footer"]["text"]
        for text in texts(verses()[0]):
            assert not UNFILLED.search(text), text


def _payload(embeds: list[discord.Embed], view: discord.ui.View) -> dict[str, Any]:
    """The body discord.py sends for these embeds and view."""
    return {"embeds": [e.to_dict() for e in embeds], "components": view.to_components()}


def _search_hits(query: str, surah: int | None) -> tuple[list[AyahRef], bool]:
    hits = [hit.ref for hit in search_ayahs(query, surah, limit=SEARCH_LIMIT + 1)]
    return hits[:SEARCH_LIMIT], len(hits) > SEARCH_LIMIT


@pytest.mark.parametrize("language", list(Language))
def test_every_page_of_2_1_286_and_of_long_searches_is_within_discords_limits(language: Language) -> None:
    """Pages are packed with the English title's and footer's widths (so a page holds the same ayahs
    for every reader); each page as drawn in each language, Arabic too, passes the sandbox's copy of
    Discord's checks. The fullest /ayah page of 2:1–286 is within 25 characters of the 6,000."""
    text = CATALOGS.messages(language)
    english = CATALOGS.messages(Language.ENGLISH)
    sizes, pages = [], []
    for page in range(len(ayah_pages(2, 1, 286, text)[1])):
        embeds, view = ayah_message(2, 1, 286, page, text)
        payload = _payload(embeds, view)
        check_message(payload)
        sizes.append(sum(embed_size(e) for e in payload["embeds"]))
        shown = [str(e.description) for e in embeds]
        assert shown == [str(e.description) for e in ayah_message(2, 1, 286, page, english)[0]]
        pages.append(shown)
    assert len(pages) > 10 and EMBED_TOTAL_LIMIT - 25 <= max(sizes) <= EMBED_TOTAL_LIMIT
    assert "**2:282**" in "".join(d for shown in pages for d in shown)

    for query, surah in (("witnesses", None), ("witnesses", 2), (LONG_QUERY, None), (LONG_QUERY, 2)):
        hits, more = _search_hits(query, surah)
        assert AyahRef(2, 282) in hits, query
        for page in range(SEARCH_LIMIT):  # until the last page (its Next button disabled)
            payload = _payload(*search_message(query, surah, hits, more, page, text))
            check_message(payload)
            nexts = [
                c for row in payload["components"] for c in row["components"] if ":next:" in c["custom_id"]
            ]
            if not nexts or nexts[0].get("disabled"):
                break


def _arabic_guild(sandbox: Sandbox, home: Path, history: list[str] | None = None) -> None:
    """The guild set to Arabic (as `/setup language ar` leaves it), and the quiz history given."""
    d = sandbox.default
    configure(sandbox, home)
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        settings = store.settings(d.guild.id)
        settings.language = "ar"
        store.save_settings(settings)
        if history is not None:
            quiz_guild = store.quiz_guild(d.guild.id)
            quiz_guild.history = history
            store.save_quiz_guild(quiz_guild)


async def test_an_arabic_server_is_asked_a_generated_question_in_arabic_with_the_same_answer(
    sandbox: Sandbox, home: Path
) -> None:
    d = sandbox.default
    bank = BankLoader(Paths.under(home).quiz_banks_dir).bank()
    curated = [q.id for q in bank.questions("quran") if q.source != "generated"]
    # Every bank question already asked here: the picker takes a generated one (it prefers fresh ones).
    _arabic_guild(sandbox, home, history=curated)
    generated = [q for q in bank.questions("quran") if q.wording is not None]
    async with RunningBot(sandbox, home, quiz_deadline_seconds=4):
        await sandbox.wait_for_ready()
        asked = await sandbox.run_command(d.admin, d.general, "quiz", start={"category": "quran"})
        await asked.wait_for_followups()
        title = AR.t("Quiz · {category} · {difficulty}").split("{")[0]
        (message,) = [
            m
            for m in sandbox.messages(d.general, include_ephemeral=False)
            if m.embeds and str(m.embeds[0].get("title", "")).startswith(title)
        ]
        shown = description(message)

        def choices(q: Any) -> list[str]:
            return [discord.utils.escape_markdown(said(c, AR)) for c in q.wording.choices]

        (question,) = [
            q
            for q in generated
            if f"**{q.wording.question.said_in(AR)}**" in shown
            and all(f"**{letter}** · {c}" in shown for letter, c in zip(LETTERS, choices(q), strict=True))
        ]
        assert question.question not in shown and ARABIC_LETTER.search(shown.split("\n")[0])
        for text in texts(message):
            assert not UNFILLED.search(text), text

        # The right letter is the English question's: a member pressing it is counted right.
        english = bank.get(question.id)
        assert english is not None and english.answer == question.answer
        reply = await click(sandbox, d.listener, message, english.answer)
        assert reply.startswith(AR.t("Your answer: {picked}. The answer is revealed {reveal}.").split("{")[0])
        assert choices(question)[english.answer] in reply

        answer = AR.t("{title} · Answer").split("}")[-1]
        await until(lambda: answer in str(message.embeds[0].get("title", "")), 10, "the reveal in Arabic")
        revealed = description(message)
        assert f"✅ **{LETTERS[english.answer]}** · {choices(question)[english.answer]}" in revealed
        assert question.wording.explanation.said_in(AR) in revealed
        assert english.explanation not in revealed
        for text in texts(message):
            assert not UNFILLED.search(text), text
    record = scores(home, d.guild.id)[d.listener.user.id]
    assert record["correct"] == record["answered"] == 1


async def test_an_arabic_member_is_refused_in_arabic_and_reads_2_1_286_within_discords_limits(
    sandbox: Sandbox, home: Path
) -> None:
    d = sandbox.default
    _arabic_guild(sandbox, home)
    fatiha = load_metadata().surah(1)
    async with RunningBot(sandbox, home):
        await sandbox.wait_for_ready()
        refused = await sandbox.run_command(d.listener, d.general, "ayah", surah=1, ayah=9)
        await refused.wait()
        assert refused.original is not None and refused.original.ephemeral
        assert refused.original.content == AR.t(
            "Surah {number} ({name}) has {count} ayahs; {ayah} is out of range 1–{count}",
            number=1,
            name=fatiha.arabic_name,
            count=7,
            ayah=9,
        )

        shown = await sandbox.run_command(d.listener, d.general, "ayah", surah=2, ayah=1, to=286)
        await shown.wait()
        message = shown.original
        assert message is not None and AR.t("Recite from {ref}").split("{")[0] in str(message.components)
        turns = 0
        # The sandbox refuses an edit over Discord's limits: every page is drawn, in Arabic, or this fails.
        while (nexts := [b for b in _buttons(message) if b["custom_id"].endswith(":next")]) and not nexts[
            0
        ].get("disabled"):
            pressed = await sandbox.press(d.listener, message, nexts[0]["custom_id"])
            await pressed.wait(timeout=3)
            assert pressed.response_type == 7, pressed.response
            turns += 1
        assert turns > 10 and "**2:286**" in str(message.embeds[-1]["description"])


def _buttons(message: Message) -> list[dict[str, Any]]:
    return [c for row in message.components for c in row.get("components") or []]
