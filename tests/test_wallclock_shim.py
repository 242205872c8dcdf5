"""The soak's wall-clock shim (quranbot/soak/wallclock.c), built with the machine's compiler and preloaded
into a real Python process: a step moves what `time.time()`, `datetime.now()` and the `date` command see
at once, while the monotonic clock, and so every sleep and timeout, goes on untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from quranbot.soak.wallclock import WallClock, build_shim

#: A child that prints its clocks, waits for a line on stdin, sleeps 0.2 s and prints them again.
CHILD = """
import datetime, json, sys, time
def clocks():
    return {"wall": time.time(), "mono": time.monotonic(), "date": datetime.datetime.now().timestamp()}
print(json.dumps(clocks()), flush=True)
sys.stdin.readline()
time.sleep(0.2)
print(json.dumps(clocks()), flush=True)
"""


def run_child(clock: WallClock, step: int) -> tuple[dict[str, float], dict[str, float]]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env={**os.environ, **clock.environment()},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    before = json.loads(child.stdout.readline())
    clock.step(step)
    child.stdin.write("go\n")
    child.stdin.flush()
    after = json.loads(child.stdout.readline())
    assert child.wait(10) == 0
    return before, after


def test_a_step_moves_the_wall_clock_and_not_the_monotonic_one(tmp_path: Path) -> None:
    clock = WallClock(build_shim(tmp_path / "shim"), tmp_path / "offset")
    before, after = run_child(clock, +3600)
    assert 0.19 < after["mono"] - before["mono"] < 2.0  # slept 0.2 s on the real monotonic clock
    assert 3600.19 < after["wall"] - before["wall"] < 3602.0
    assert abs(after["date"] - after["wall"]) < 1.0

    before, after = run_child(clock, -7200)  # from +1 h to -1 h
    assert -7200 < after["wall"] - before["wall"] < -7198
    assert 0.19 < after["mono"] - before["mono"] < 2.0


def test_other_programs_see_the_step_too(tmp_path: Path) -> None:
    """ffmpeg and any other child of the bot inherit the preload: `date` reads the stepped clock."""
    clock = WallClock(build_shim(tmp_path / "shim"), tmp_path / "offset")
    clock.step(-3600)
    true_now = int(subprocess.run(["date", "+%s"], capture_output=True, text=True, check=True).stdout)
    env = {**os.environ, **clock.environment()}
    stepped = int(subprocess.run(["date", "+%s"], capture_output=True, text=True, env=env, check=True).stdout)
    assert -3602 <= stepped - true_now <= -3598
