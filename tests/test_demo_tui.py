"""`quranbot demo` as a newcomer runs it: in a real terminal (tmux), the TUI comes up on a reciting bot
with a listener, a key steers it, q quits, and the demo prints what the voice channel heard."""

from __future__ import annotations

import sys
from pathlib import Path

from tmux import Tmux


async def test_the_demo_opens_the_tui_and_prints_what_was_heard(tmp_path: Path) -> None:
    tmux = Tmux()
    demo = [sys.executable, "-m", "quranbot", "--home", str(tmp_path), "demo"]
    try:
        await tmux.start(["sh", "-c", '"$@"; sleep 60', "demo", *demo])  # keep the summary on screen
        await tmux.until_shows("demo · sandbox Discord at https://127.0.0.1:", "Listeners (1)", "▶ playing",
                               "Packets/s", "Sample tones (not a recitation)", "voice connected",
                               timeout=20)  # fmt: skip
        await tmux.keys("n")
        await tmux.until_shows("Skipped to the next surah")
        await tmux.keys("q")
        summary = await tmux.until_shows("surahs heard:")
    finally:
        await tmux.kill()
    joined = summary.replace("\n", "")  # the summary line wraps at 120 columns
    line = joined[joined.index("demo: channel=#Quran") :]
    assert "lost=0" in line
    heard = [int(n) for n in line.split("surahs heard: ")[1].split(" largest")[0].split(", ")]
    assert heard[0] == 1 and len(heard) >= 2 and heard == sorted(heard)
    # nothing outside --home: the sample reciter and the state are there
    assert (tmp_path / "state" / "audio" / "sample-tones" / "manifest.json").is_file()
