"""`quranbot demo` as a newcomer runs it: in a real terminal (tmux), the TUI comes up on a reciting bot
with a listener, a key steers it, q quits, and the demo prints what the voice channel heard."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

SESSION = "quranbot-demo-test"


def tmux(*args: str) -> str:
    """tmux on a server of its own (`-L`), so nothing here touches anyone's sessions."""
    return subprocess.run(["tmux", "-u", "-L", SESSION, *args], capture_output=True, text=True, check=True,
                          timeout=10).stdout  # fmt: skip


def screen() -> str:
    return tmux("capture-pane", "-p", "-J", "-t", SESSION)


def wait_for(check: Callable[[str], bool], timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = screen()
        if check(text):
            return text
        assert time.monotonic() < deadline, f"the screen never showed it:\n{text}"  # full text, untruncated
        time.sleep(0.2)


def test_the_demo_opens_the_tui_and_prints_what_was_heard(tmp_path: Path) -> None:
    # The pane's shell may inherit COLUMNS=80/LINES=24 from a tmux server started without a terminal;
    # those would override the real 120x40 for Textual (shutil.get_terminal_size reads them first).
    demo = f"{shlex.quote(sys.executable)} -m quranbot --home {shlex.quote(str(tmp_path))} demo"
    command = f"env -u COLUMNS -u LINES {demo}; sleep 60"
    tmux("new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40", command)
    try:
        expected = ("demo · sandbox Discord at https://127.0.0.1:", "Listeners (1)", "▶ playing", "Packets/s",
                    "Sample tones (not a recitation)", "voice connected")  # fmt: skip
        wait_for(lambda s: all(text in s for text in expected))
        tmux("send-keys", "-t", SESSION, "n")
        wait_for(lambda s: "Skipped to the next surah" in s)
        tmux("send-keys", "-t", SESSION, "q")
        summary = wait_for(lambda s: "surahs heard:" in s)
        line = next(row for row in summary.splitlines() if row.startswith("demo: channel=#Quran"))
        assert "lost=0" in line
        heard = [int(n) for n in line.split("surahs heard: ")[1].split(" largest")[0].split(", ")]
        assert heard[0] == 1 and len(heard) >= 2 and heard == sorted(heard)
    finally:
        subprocess.run(["tmux", "-L", SESSION, "kill-server"], capture_output=True, timeout=10)
    # nothing outside --home: the sample reciter and the state are there
    assert (tmp_path / "state" / "audio" / "sample-tones" / "manifest.json").is_file()
