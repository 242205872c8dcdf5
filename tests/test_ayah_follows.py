"""While a per-ayah reciter plays, the control panel and the TUI show the ayah being recited (Tanzil's
text byte for byte, Pickthall's translation) and move with the recitation; with per-surah audio they
show the surah only.

The per-ayah reciter is `sample-ayat`: Al-Ikhlas (112) as four tones of 2.5 s, one per ayah, so the
ayah on screen can be checked against the ayah heard.
"""

from __future__ import annotations

import re
from pathlib import Path

from running_bot import RunningBot
from test_panel import EDIT_WAIT, panels, the_panel, until
from test_tui import SIZE, preset, shows, tui

from quranbot.audio.levels import dominant_frequency
from quranbot.audio.sample import AYAH_SAMPLE_SLUG, ayah_sample_frequency, write_sample_ayah_reciter
from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox
from quranbot.store.records import GuildPlayback, GuildSettings
from quranbot.tui.now_playing import NowPlaying

DATA = Path(__file__).resolve().parent.parent / "data"
AYAHS = [(112, n) for n in range(1, 5)]
AYAH_SECONDS = 2.5


def data_line(name: str, surah: int, ayah: int) -> str:
    prefix = f"{surah}|{ayah}|"
    line = next(x for x in (DATA / name).read_bytes().decode("utf-8").split("\n") if x.startswith(prefix))
    return line[len(prefix) :]


def panel_ayah(description: str) -> int | None:
    found = re.search(r"Al-Ikhlaas\*\* — .* · ayah (\d+)", description)
    return int(found.group(1)) if found else None


async def test_the_panel_and_the_tui_follow_the_ayah_being_recited(sandbox: Sandbox, home: Path) -> None:
    write_sample_ayah_reciter(Paths.under(home).audio_dir, AYAHS, AYAH_SECONDS)
    d = sandbox.default
    preset(
        home,
        GuildSettings(d.guild.id, voice_channel_id=d.voice.id, panel_channel_id=d.panel.id),
        GuildPlayback(d.guild.id, reciter=AYAH_SAMPLE_SLUG, surah=112, ayah=1),
    )
    await sandbox.join_voice(d.listener, d.voice)
    listener = sandbox.listener(d.voice)
    seen: dict[int, str] = {}
    async with RunningBot(sandbox, home), tui(home).run_test(size=SIZE) as pilot:
        await the_panel(sandbox)
        await shows(pilot, "Say: He is Allah, the One!", timeout=15)  # 112:1, as it is recited
        widget = pilot.app.query_one(NowPlaying).query_one("#np-ayah")
        assert data_line("quran-uthmani.txt", 112, 1) in str(widget.render())

        def panel_moved() -> bool:
            description = panels(sandbox)[0].embeds[0]["description"]
            number = panel_ayah(description)
            if number is not None:
                seen[number] = description
            return len(seen) >= 2

        await until(panel_moved, 3 * EDIT_WAIT, "the panel to show two ayahs as they are recited")
        # the ayah on screen is the one the channel hears
        await shows(pilot, "And there is none comparable unto Him.", timeout=4 * AYAH_SECONDS + 5)
        heard = dominant_frequency(listener.pcm()[-96000:])  # the last half second: 112:4's tone
        assert heard is not None and abs(heard - ayah_sample_frequency(3)) < 3, heard

    for number, description in seen.items():
        arabic, english = (
            data_line("quran-uthmani.txt", 112, number),
            data_line("en.pickthall.txt", 112, number),
        )
        assert description.endswith(f"\n\n{arabic}\n{english}")  # verbatim
    assert sorted(seen) == list(seen)  # forwards with the recitation


async def test_with_per_surah_audio_the_panel_shows_the_surah_only(sandbox: Sandbox, home: Path) -> None:
    d = sandbox.default
    preset(
        home,
        GuildSettings(d.guild.id, voice_channel_id=d.voice.id, panel_channel_id=d.panel.id),
        GuildPlayback(d.guild.id, surah=1, loop=True),
    )
    async with RunningBot(sandbox, home), tui(home).run_test(size=SIZE) as pilot:
        panel = await the_panel(sandbox)
        await shows(pilot, "1. Al-Faatiha", timeout=15)
        assert not pilot.app.query_one(NowPlaying).has_class("-ayah")
    description = panel.embeds[0]["description"]
    assert "ayah" not in description and data_line("quran-uthmani.txt", 1, 1) not in description
