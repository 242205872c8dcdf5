"""Languages with the real bot on the sandbox: the command sync, `/language`, and `/setup language ar`
turning the panel and the daily verse Arabic, read from the messages the bot actually posted.

Expected Arabic is read from the catalog (quranbot/i18n/locales), never typed here; the Quran's text
is compared with the data files' bytes, as tests/test_daily_verse_discord.py does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from running_bot import RunningBot
from test_daily_verse_discord import ARABIC, ENGLISH, skip_midnight, utc_in
from test_panel import configure, panels, until

from quranbot.i18n.bidi import LRI, PDI
from quranbot.i18n.catalog import Catalogs, Language
from quranbot.sandbox.command_locales import DISCORD_LOCALES, bad_localizations
from quranbot.sandbox.model import Message
from quranbot.sandbox.server import Sandbox

CATALOGS = Catalogs()
AR = CATALOGS.messages(Language.ARABIC)
#: A placeholder left unfilled: `{name}` in the text a member reads.
UNFILLED = re.compile(r"\{[a-z_]+\}")


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
