"""Player events posted on the pacer's thread reach the event loop after the pacer's turn, not in it.

A real Pacer thread and a real asyncio loop: a stream posts an event and then holds its turn open for
60 ms; the event must not run on the loop until that turn has ended.
"""

from __future__ import annotations

import asyncio
import time

from quranbot.audio.pacer import Pacer
from quranbot.bot.tick_handoff import TickHandoff


class _PostThenStall:
    """Posts an event, then holds its turn open for 60 ms."""

    def __init__(self, handoff: TickHandoff, seen: list[str]) -> None:
        self.handoff, self.seen, self.turns = handoff, seen, 0

    def tick(self) -> None:
        if self.turns == 3:
            return
        self.turns += 1
        number = self.turns
        self.handoff.call(lambda: self.seen.append(f"event {number}"))
        time.sleep(0.060)
        self.seen.append(f"turn {number} over")


async def test_an_event_from_a_turn_runs_on_the_loop_after_that_turn_ends() -> None:
    pacer = Pacer()
    seen: list[str] = []
    try:
        pacer.add(_PostThenStall(TickHandoff(asyncio.get_running_loop(), pacer), seen))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if len(seen) == 6:
                break
    finally:
        await asyncio.to_thread(pacer.close)
    # Handed over at once, each event would run on the loop during its turn's 60 ms stall.
    assert seen == ["turn 1 over", "event 1", "turn 2 over", "event 2", "turn 3 over", "event 3"]


async def test_a_call_from_another_thread_runs_without_waiting_for_a_tick() -> None:
    pacer = Pacer()  # no streams: its thread never ticks
    handoff = TickHandoff(asyncio.get_running_loop(), pacer)
    ran = asyncio.Event()
    handoff.call(ran.set)
    await asyncio.wait_for(ran.wait(), 1.0)
    pacer.close()


async def test_a_failing_callback_does_not_drop_the_others() -> None:
    pacer = Pacer()
    handoff = TickHandoff(asyncio.get_running_loop(), pacer)
    ran: list[int] = []

    def broken() -> None:
        raise RuntimeError("a handler's bug")

    handoff.call(broken)
    handoff.call(ran.append, 2)
    for _ in range(50):
        await asyncio.sleep(0.01)
        if ran:
            break
    assert ran == [2]
    pacer.close()


class _LongTurn:
    """A turn that takes 8 ms of every 20 (one slot), noting when each began and ended."""

    def __init__(self) -> None:
        self.turns: list[tuple[float, float]] = []

    def tick(self) -> None:
        began = time.perf_counter()
        time.sleep(0.008)
        self.turns.append((began, time.perf_counter()))


async def test_a_gap_comes_between_the_pacers_turns_never_inside_one() -> None:
    """The state flush waits for gap(): it must land while the pacer sleeps. Turns fill 40 % of the
    time here, so ten gaps taken at random moments would land inside one about four times."""
    pacer = Pacer(slots=1)
    handoff = TickHandoff(asyncio.get_running_loop(), pacer)
    stream = _LongTurn()
    pacer.add(stream)
    landed: list[float] = []
    try:
        while len(stream.turns) < 3:
            await asyncio.sleep(0.01)
        for _ in range(10):
            await asyncio.sleep(0.013)  # somewhere in the cycle
            await handoff.gap()
            landed.append(time.perf_counter())
    finally:
        await asyncio.to_thread(pacer.close)
    for at in landed:
        assert not any(began <= at <= ended for began, ended in stream.turns), at
        assert min(at - ended for _, ended in stream.turns if ended <= at) < 0.010  # soon after one


async def test_a_gap_is_at_once_when_the_pacer_sends_nothing() -> None:
    pacer = Pacer()
    handoff = TickHandoff(asyncio.get_running_loop(), pacer)
    started = time.perf_counter()
    await handoff.gap()
    assert time.perf_counter() - started < 0.005
    pacer.close()
