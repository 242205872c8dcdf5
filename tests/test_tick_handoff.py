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
