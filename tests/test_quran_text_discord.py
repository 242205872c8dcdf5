"""The Quran's text in Discord, with the real bot on the sandbox: /ayah, /surah info, /search and the
"Recite this" button.

Every ayah the bot posts is read back from the sandbox's world and compared byte for byte with the
lines of Tanzil's files, read here from data/ (not through quranbot.quran.text). Every message is
checked against Discord's limits, which the sandbox also enforces by refusing a message over them
(quranbot/sandbox/limits.py), so a bot that broke one would fail here twice. Arabic literals stay
under 21 characters: a repository hook flags longer runs.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import numpy as np
from running_bot import RunningBot
from test_panel import until

from quranbot.audio.sample import ayah_sample_frequency, write_sample_ayah_reciter
from quranbot.bot.ayah_view import QUERY_LIMIT, SEARCH_LIMIT, SearchPage, query_length
from quranbot.paths import Paths
from quranbot.quran.metadata import load_metadata
from quranbot.quran.search import search_ayahs
from quranbot.quran.text import ARABIC_CREDIT, TRANSLATION_CREDIT
from quranbot.sandbox import limits
from quranbot.sandbox.interactions import InteractionRecord
from quranbot.sandbox.model import Member, Message
from quranbot.sandbox.server import Sandbox
from quranbot.store.records import GuildPlayback, GuildSettings
from quranbot.store.state import StateStore

DATA = Path(__file__).resolve().parents[1] / "data"
HEAD = re.compile(r"\*\*(\d+):(\d+)\*\*")
Ref = tuple[int, int]


@functools.cache
def tanzil(name: str) -> dict[Ref, bytes]:
    """A Tanzil file's lines as bytes, by (surah, ayah): what every shown ayah must equal."""
    lines: dict[Ref, bytes] = {}
    for line in (DATA / name).read_bytes().split(b"\n"):
        if line and not line.startswith(b"#"):
            surah, ayah, text = line.split(b"|", 2)
            lines[int(surah), int(ayah)] = text
    return lines


def shown_ayahs(message: Message) -> list[Ref]:
    """The ayahs an /ayah or /search message shows, in order, each checked on the way: within Discord's
    limits, credited, and every ayah's Arabic and translation byte for byte as Tanzil's files have them."""
    embeds = message.embeds
    assert 1 <= len(embeds) <= limits.EMBEDS_PER_MESSAGE
    assert sum(limits.embed_size(e) for e in embeds) <= limits.EMBED_TOTAL_LIMIT
    footer = str(embeds[-1]["footer"]["text"])
    assert ARABIC_CREDIT in footer and TRANSLATION_CREDIT in footer
    refs: list[Ref] = []
    for embed in embeds:
        description = str(embed["description"])
        assert len(description) <= limits.DESCRIPTION_LIMIT
        for block in description.split("\n\n"):
            head, arabic, english = block.split("\n")
            match = HEAD.match(head)
            assert match is not None, head
            ref = (int(match[1]), int(match[2]))
            assert arabic.encode() == tanzil("quran-uthmani.txt")[ref], ref
            assert english.startswith("*") and english.endswith("*")  # italics around it, nothing inside
            assert english[1:-1].encode() == tanzil("en.pickthall.txt")[ref], ref
            refs.append(ref)
    return refs


def buttons(message: Message) -> list[dict[str, Any]]:
    found = [c for row in message.components for c in row.get("components") or []]
    assert all(len(str(c["custom_id"])) <= limits.CUSTOM_ID_LIMIT for c in found)
    return found


def button(message: Message, label: str) -> dict[str, Any]:
    (found,) = [b for b in buttons(message) if str(b.get("label", "")).startswith(label)]
    return found


async def run(sandbox: Sandbox, member: Member, name: str, **options: object) -> InteractionRecord:
    record = await sandbox.run_command(member, sandbox.default.general, name, **options)
    await record.wait(timeout=3)  # everything here is answered directly, within Discord's 3 s
    return record


async def private_answer(sandbox: Sandbox, name: str, **options: object) -> str:
    record = await run(sandbox, sandbox.default.listener, name, **options)
    assert record.original is not None and record.original.ephemeral, record.response
    return record.original.content


async def press(sandbox: Sandbox, member: Member, message: Message, label: str) -> InteractionRecord:
    pressed = await sandbox.press(member, message, str(button(message, label)["custom_id"]))
    await pressed.wait(timeout=3)
    return pressed


async def started(sandbox: Sandbox, bot: RunningBot) -> RunningBot:
    """Start the bot and wait until it has identified (its commands are synced before that)."""
    sandbox.gateway.identified.clear()
    await bot.start()
    await sandbox.wait_for_ready()
    return bot


def page_numbers(message: Message) -> tuple[int, int]:
    found = re.search(r"Page (\d+) of (\d+)", str(message.embeds[-1]["footer"]["text"]))
    assert found is not None
    return int(found[1]), int(found[2])


# -- /ayah -------------------------------------------------------------------------------------------------


async def test_ayahs_are_tanzils_text_byte_for_byte_and_the_longest_fits_whole(
    sandbox: Sandbox, home: Path
) -> None:
    d = sandbox.default
    async with RunningBot(sandbox, home):
        await sandbox.wait_for_ready()
        fatiha = await run(sandbox, d.listener, "ayah", surah=1, ayah=1, to=7)
        assert fatiha.original is not None and not fatiha.original.ephemeral  # for the channel to read
        assert shown_ayahs(fatiha.original) == [(1, a) for a in range(1, 8)]
        assert load_metadata().surah(1).arabic_name in fatiha.original.embeds[0]["title"]
        assert [b["custom_id"] for b in buttons(fatiha.original)] == ["quranbot:recite:1:1"]  # no pages

        # 2:282, the longest ayah (1,208 Arabic and 1,413 English characters), whole in one message.
        longest = await run(sandbox, d.listener, "ayah", surah=2, ayah=282)
        assert longest.original is not None
        assert shown_ayahs(longest.original) == [(2, 282)]
        assert button(longest.original, "Recite this")["custom_id"] == "quranbot:recite:2:282"

        sajda = await run(sandbox, d.listener, "ayah", surah=96, ayah=19)
        assert sajda.original is not None and shown_ayahs(sajda.original) == [(96, 19)]
        assert "sajda (obligatory)" in sajda.original.embeds[0]["description"].split("\n")[0]

        # The surah option completes as /play's does (the same function).
        typed = await sandbox.autocomplete(d.listener, d.general, "ayah", "surah", surah="kah")
        play = await sandbox.autocomplete(d.listener, d.general, "play", "surah", surah="kah")
        await typed.wait()
        await play.wait()
        assert typed.choices == play.choices and typed.choices[0]["value"] == 18


async def test_a_long_range_is_paged_every_ayah_once_in_order_and_pages_after_a_restart(
    sandbox: Sandbox, home: Path
) -> None:
    d = sandbox.default
    bot = await started(sandbox, RunningBot(sandbox, home))
    shown = await run(sandbox, d.admin, "ayah", surah=2, ayah=1, to=286)
    message = shown.original
    assert message is not None and not message.ephemeral
    page, pages = page_numbers(message)
    assert page == 1 and pages > 10
    assert button(message, "Previous")["disabled"] and not button(message, "Next").get("disabled")
    seen = [shown_ayahs(message)]
    assert button(message, "Recite from")["custom_id"] == "quranbot:recite:2:1"
    while len(seen) < pages:
        if len(seen) == pages // 2:  # the buttons carry their page: they work after a restart
            await bot.stop()
            await started(sandbox, bot)
        turned = await press(sandbox, d.listener, message, "Next")  # any member may turn the page
        assert turned.response_type == 7  # the same message, edited
        assert page_numbers(message) == (len(seen) + 1, pages)
        seen.append(shown_ayahs(message))
        assert button(message, "Recite from")["custom_id"] == f"quranbot:recite:2:{seen[-1][0][1]}"
    assert [ref for page_refs in seen for ref in page_refs] == [(2, a) for a in range(1, 287)]
    assert button(message, "Next")["disabled"]

    back = await press(sandbox, d.listener, message, "Previous")
    assert back.response_type == 7 and shown_ayahs(message) == seen[-2]
    assert len(message.history) == pages  # one edit per press
    await bot.stop()


async def test_bad_input_gets_a_clear_private_answer(sandbox: Sandbox, home: Path) -> None:
    async with RunningBot(sandbox, home):
        await sandbox.wait_for_ready()
        assert "Surah number must be 1–114, got 0" in await private_answer(sandbox, "ayah", surah=0, ayah=1)
        assert "got 115" in await private_answer(sandbox, "ayah", surah=115, ayah=1)
        assert "has 7 ayahs; 300 is out of range 1–7" in await private_answer(
            sandbox, "ayah", surah=1, ayah=300
        )
        assert "`to` (5) comes before `ayah` (10)" in await private_answer(
            sandbox, "ayah", surah=2, ayah=10, to=5
        )
        assert "ends at ayah 7: `to` can be 7 at most, not 9" in await private_answer(
            sandbox, "ayah", surah=1, ayah=1, to=9
        )
        assert "got 115" in await private_answer(sandbox, "surah", info={"surah": 115})
        assert "got 0" in await private_answer(sandbox, "search", text="mercy", surah=0)
        assert "Nothing to search for" in await private_answer(sandbox, "search", text="?!")
        assert "No ayah matches 'zzxqv'" in await private_answer(sandbox, "search", text="zzxqv")
        assert "at most" in await private_answer(sandbox, "search", text="word " * 13)  # 65 > 60
        assert "at most" in await private_answer(sandbox, "search", text="😀" * 31)  # 62 UTF-16 units
    assert sandbox.messages(sandbox.default.general, include_ephemeral=False) == []


# -- /surah info ----------------------------------------------------------------------------------------


async def test_surah_info_states_tanzils_metadata(sandbox: Sandbox, home: Path) -> None:
    d = sandbox.default
    metadata = load_metadata()
    async with RunningBot(sandbox, home):
        await sandbox.wait_for_ready()
        for number, juz, sajdas in ((96, "30", "96:19 (obligatory)"), (2, "1–3", "None")):
            record = await run(sandbox, d.listener, "surah", info={"surah": number})
            assert record.original is not None and not record.original.ephemeral
            (embed,) = record.original.embeds
            fields = {f["name"]: f["value"] for f in embed["fields"]}
            surah = metadata.surah(number)
            assert fields["Name"] == surah.name and fields["Arabic"] == surah.arabic_name
            assert fields["Meaning"] == surah.english_name
            assert fields["Ayahs"] == str(surah.ayah_count) and fields["Rukus"] == str(surah.rukus)
            assert fields["Revealed"].startswith(f"{surah.revelation_type}, {surah.revelation_order}")
            first, last = metadata.juz_of(number, 1), metadata.juz_of(number, surah.ayah_count)
            assert fields["Juz"] == juz == (str(first) if first == last else f"{first}–{last}")
            assert fields["Sajda"] == sajdas
            assert "Tanzil" in embed["footer"]["text"]
        # The juz and sajdas of 96 and 2 as Tanzil's quran-data.xml states them.
        assert [str(s.ref) for s in metadata.sajdas if s.ref.surah in (2, 96)] == ["96:19"]
        assert (metadata.juz_of(2, 1), metadata.juz_of(2, 286)) == (1, 3)


# -- /search --------------------------------------------------------------------------------------------


def test_the_longest_search_fits_in_its_page_buttons_custom_id() -> None:
    """The query rides in the custom_id: at QUERY_LIMIT, on the last page of surah 114, it still fits
    Discord's 100 however Discord counts (code points, or UTF-16 units as a JavaScript client does)."""
    for query in ("ا" * QUERY_LIMIT, "😀" * (QUERY_LIMIT // 2), "w" * QUERY_LIMIT):
        assert query_length(query) == QUERY_LIMIT
        custom_id = SearchPage(query, 114, SEARCH_LIMIT - 1, "prev").custom_id
        assert len(custom_id.encode("utf-16-le")) // 2 <= limits.CUSTOM_ID_LIMIT


def best_first(text: str, surah: int | None = None) -> list[Ref]:
    """What the search core ranks first for a query (its order is its business; the bot keeps it)."""
    return [(hit.ref.surah, hit.ref.ayah) for hit in search_ayahs(text, surah)]


async def test_search_finds_ayahs_by_translation_and_by_arabic_without_diacritics(
    sandbox: Sandbox, home: Path
) -> None:
    d = sandbox.default
    async with RunningBot(sandbox, home):
        await sandbox.wait_for_ready()
        throne = await run(sandbox, d.listener, "search", text="throne includeth")
        assert throne.original is not None and not throne.original.ephemeral
        assert shown_ayahs(throne.original) == [(2, 255)]
        assert "Results 1–1 of 1" in throne.original.embeds[-1]["footer"]["text"]

        living = await run(sandbox, d.listener, "search", text="الحي القيوم")  # no diacritics
        assert living.original is not None
        shown = shown_ayahs(living.original)
        assert sorted(shown) == [(2, 255), (3, 2), (20, 111)] and shown == best_first("الحي القيوم")

        in_fatiha = await run(sandbox, d.listener, "search", text="Beneficent", surah=1)
        assert in_fatiha.original is not None
        shown = shown_ayahs(in_fatiha.original)
        assert sorted(shown) == [(1, 1), (1, 3)] and shown == best_first("Beneficent", 1)
        assert f"in {load_metadata().surah(1)}" in in_fatiha.original.embeds[0]["title"]


async def test_search_results_page_with_buttons_after_a_restart_too(sandbox: Sandbox, home: Path) -> None:
    d = sandbox.default
    bot = await started(sandbox, RunningBot(sandbox, home))
    found = await run(sandbox, d.listener, "search", text="الله")  # in hundreds of ayahs: the best 50
    message = found.original
    assert message is not None
    assert "of the best 50" in message.embeds[-1]["footer"]["text"]
    page, pages = page_numbers(message)
    assert page == 1 and pages >= 10
    seen = [shown_ayahs(message)]
    assert all(len(refs) <= 5 for refs in seen)
    assert button(message, "Next")["custom_id"] == "quranbot:search:0:1:next:الله"  # the query rides along
    await bot.stop()
    await started(sandbox, bot)
    for number in range(2, 4):
        turned = await press(sandbox, d.admin, message, "Next")
        assert turned.response_type == 7 and page_numbers(message) == (number, pages)
        seen.append(shown_ayahs(message))
    assert [ref for refs in seen for ref in refs] == best_first("الله")[: sum(len(r) for r in seen)]
    await press(sandbox, d.admin, message, "Previous")
    assert shown_ayahs(message) == seen[1]
    await bot.stop()


# -- "Recite this" ---------------------------------------------------------------------------------------

#: The per-ayah sample reciter's ayahs: the n-th is a tone of ayah_sample_frequency(n) Hz, 1 s long.
AYAT = [(1, 1), (1, 2), (2, 255), (2, 256)]
RATE = 48_000


def heard_ayah(pcm: bytes) -> Ref | None:
    """Which sample ayah a stretch of the channel's audio is, by its pitch (numpy FFT, 1 Hz bins)."""
    left = np.frombuffer(pcm, dtype="<i2")[::2].astype(np.float64)
    if len(left) < RATE // 20 or np.sqrt(np.mean(left**2)) < 100:
        return None
    hz = float(np.argmax(np.abs(np.fft.rfft(left * np.hanning(len(left)), n=RATE))))
    return next((ref for n, ref in enumerate(AYAT) if abs(ayah_sample_frequency(n) - hz) <= 3), None)


async def wait_to_hear(sandbox: Sandbox, ref: Ref, timeout: float) -> None:
    listener = sandbox.listener(sandbox.default.voice)
    await until(lambda: heard_ayah(listener.pcm(last_seconds=0.2)) == ref, timeout, f"ayah {ref}")


def save(home: Path, guild_id: int, voice_id: int, reciter: str, controller_role_id: int | None) -> None:
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        store.save_settings(
            GuildSettings(guild_id, voice_channel_id=voice_id, controller_role_id=controller_role_id)
        )
        store.set_playback(GuildPlayback(guild_id, reciter=reciter, surah=1))


async def test_recite_this_plays_that_ayah_for_any_member_after_a_restart_too(
    sandbox: Sandbox, home: Path
) -> None:
    d = sandbox.default
    write_sample_ayah_reciter(Paths.under(home).audio_dir, AYAT, seconds=1.0)
    save(home, d.guild.id, d.voice.id, "sample-ayat", None)
    bot = await started(sandbox, RunningBot(sandbox, home))
    await wait_to_hear(sandbox, (1, 1), timeout=20)
    posted = await run(sandbox, d.admin, "ayah", surah=2, ayah=256)
    assert posted.original is not None
    message = posted.original
    # Heard from 1:1, the natural order reaches 2:256 in 3 s; the button jumps there at once.
    pressed = await press(sandbox, d.listener, message, "Recite this")  # not the member who asked
    assert pressed.original is not None and pressed.original.ephemeral
    assert "Playing 2:256" in pressed.original.content
    await wait_to_hear(sandbox, (2, 256), timeout=1.5)

    # No per-ayah audio for it anywhere: /verse's refusal, word for word.
    other = await run(sandbox, d.admin, "ayah", surah=3, ayah=5)
    assert other.original is not None
    refused = await press(sandbox, d.listener, other.original, "Recite this")
    assert refused.original is not None and refused.original.ephemeral
    verse = await private_answer(sandbox, "verse", surah=3, ayah=5)
    assert refused.original.content == verse
    assert "no per-ayah audio for 3:5. No imported reciter has per-ayah audio for it." in verse
    await bot.stop()

    # After a restart, on the whole-surah sample reciter, with a controller role: the same buttons
    # answer, with /verse's rules (who may steer; which reciters have the ayah).
    save(home, d.guild.id, d.voice.id, "sample-tones", d.controller_role.id)
    await started(sandbox, bot)
    await sandbox.wait_for_voice(d.guild, d.bot.user.id, d.voice.id)  # reciting again
    not_allowed = await press(sandbox, d.listener, message, "Recite this")
    assert not_allowed.original is not None and "Only members with the" in not_allowed.original.content
    hint = await press(sandbox, d.admin, message, "Recite this")  # Manage Server may always steer
    assert hint.original is not None
    assert "Reciters with it: Sample tones per ayah (not a recitation)." in hint.original.content
    await bot.stop()


async def test_recite_presses_have_verses_cooldown(sandbox: Sandbox, home: Path) -> None:
    d = sandbox.default
    async with RunningBot(sandbox, home, voice_channels=(d.voice.id,)):
        await sandbox.wait_for_ready()
        posted = await run(sandbox, d.admin, "ayah", surah=1, ayah=2)
        assert posted.original is not None
        answers = [await press(sandbox, d.listener, posted.original, "Recite this") for _ in range(6)]
        texts = [a.original.content for a in answers if a.original is not None]
        assert len(texts) == 6 and all("no per-ayah audio" in t for t in texts[:5])
        assert texts[5].startswith("Slow down: try again in")
