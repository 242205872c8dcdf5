"""The pacer (audio/pacer.py): one thread gives every stream its turn each tick, a stream that raises is
dropped and reported while the others go on, a long stall restarts the schedule instead of bursting the
missed frames, and closing ends the thread. Real threads and the real clock; no Discord."""

from __future__ import annotations

import statistics
import threading
import time

import pytest

from quranbot.audio.pacer import MAX_BEHIND, TICK_SECONDS, Pacer, Stream


class Recorder:
    """A stream that notes when it was ticked and on which thread."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.threads: set[str] = set()
        self.block_once = 0.0

    def tick(self) -> None:
        self.times.append(time.perf_counter())
        self.threads.add(threading.current_thread().name)
        if self.block_once:
            pause, self.block_once = self.block_once, 0.0
            time.sleep(pause)


class Broken:
    def __init__(self) -> None:
        self.calls = 0

    def tick(self) -> None:
        self.calls += 1
        raise ValueError("a frame that cannot be sent")


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_every_stream_is_ticked_on_one_thread_at_the_frame_rate() -> None:
    pacer = Pacer()
    streams = [Recorder() for _ in range(20)]
    try:
        for stream in streams:
            pacer.add(stream)
        time.sleep(1.0)
    finally:
        pacer.close()
    assert {name for s in streams for name in s.threads} == {"audio pacer"}
    counts = [len(s.times) for s in streams]
    # 1 s at 50 ticks a second; streams added a moment apart, a loaded machine may lose a few ticks
    assert all(40 <= n <= 52 for n in counts), counts
    assert not any(t.name == "audio pacer" and t.is_alive() for t in threading.enumerate())


def test_a_stream_that_raises_is_dropped_and_reported_and_the_others_go_on() -> None:
    failures: list[tuple[Stream, BaseException]] = []
    pacer = Pacer(on_error=lambda stream, exc: failures.append((stream, exc)))
    good, broken = Recorder(), Broken()
    try:
        pacer.add(broken)
        pacer.add(good)
        wait_for(lambda: len(good.times) >= 10)
    finally:
        pacer.close()
    assert broken.calls == 1
    assert [(s, str(e)) for s, e in failures] == [(broken, "a frame that cannot be sent")]
    assert pacer.streams == ()


def test_a_long_stall_restarts_the_schedule_instead_of_bursting() -> None:
    pacer = Pacer()
    stream = Recorder()
    try:
        pacer.add(stream)
        wait_for(lambda: len(stream.times) >= 5)
        stream.block_once = (MAX_BEHIND + 10) * TICK_SECONDS  # the process froze for 15 ticks
        wait_for(lambda: len(stream.times) >= 30)
    finally:
        pacer.close()
    gaps = [b - a for a, b in zip(stream.times, stream.times[1:], strict=False)]
    after_stall = gaps[gaps.index(max(gaps)) + 1 :]
    # no catch-up burst: the frames after the stall keep (about) the frame interval apart
    assert min(after_stall[:10]) > TICK_SECONDS / 2, after_stall[:10]
    assert pacer.restarts == 1


def test_removed_streams_are_not_ticked_and_a_closed_pacer_takes_none() -> None:
    pacer = Pacer()
    stream = Recorder()
    pacer.add(stream)
    wait_for(lambda: len(stream.times) >= 3)
    pacer.remove(stream)
    time.sleep(2 * TICK_SECONDS)  # a tick running at remove() may still call it once
    ticked = len(stream.times)
    time.sleep(5 * TICK_SECONDS)
    assert len(stream.times) == ticked
    pacer.close()
    with pytest.raises(RuntimeError, match="closed"):
        pacer.add(stream)


def test_streams_take_turns_in_slots_so_none_waits_for_every_other() -> None:
    """Eight streams in four slots: each turn (5 ms apart) serves two of them, every stream still once per
    tick; so a stream's frame waits for one slot's streams, not all of the process's."""
    pacer = Pacer(slots=4)
    streams = [Recorder() for _ in range(8)]
    try:
        for stream in streams:
            pacer.add(stream)
        time.sleep(0.6)
    finally:
        pacer.close()
    counts = [len(s.times) for s in streams]
    assert all(24 <= n <= 31 for n in counts), counts  # 50 a second each
    ticks = sorted((t, index) for index, s in enumerate(streams) for t in s.times[5:-2])
    turns: list[set[int]] = []
    last = -1.0
    for at, index in ticks:  # a turn's streams are ticked back to back; turns are ~5 ms apart
        if at - last > 0.002:
            turns.append(set())
        turns[-1].add(index)
        last = at
    # (a turn that ran late may run into the next one on a loaded machine: most turns, not every one)
    assert statistics.median(len(turn) for turn in turns) == 2, turns[:8]
