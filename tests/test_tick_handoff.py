"""Player events posted on the pacer's thread reach the event loop after the tick, not in the middle of it.

A real Pacer thread and a real asyncio loop: a slow second stream holds the tick open for 60 ms, and the
event the first stream posted must not run on the loop until that tick has ended.
"""

from __future__ import annotations

import asyncio
import time

from quranbot.audio.pacer import Pacer
from quranbot.bot.tick_handoff import TickHandoff


class _Posting:
    def __init__(self, handoff: TickHandoff, seen: list[tuple[str, float]]) -> None:
        self.handoff, self.seen, self.posted = handoff, seen, 0

    def tick(self) -> None:
        if self.seen and self.posted < 3:  # from the first tick that has the slow stream after this one
            self.posted += 1
            ended = sum(1 for what, _ in self.seen if what == "tick end")  # ticks over before this one
            self.handoff.call(lambda n: self.seen.append((f"event {n}", time.perf_counter())), ended)


class _Slow:
    def __init__(self, seen: list[tuple[str, float]]) -> None:
        self.seen = seen

    def tick(self) -> None:
        time.sleep(0.060)
        self.seen.append(("tick end", time.perf_counter()))


async def test_an_event_from_a_tick_runs_on_the_loop_after_that_tick_ends() -> None:
    loop = asyncio.get_running_loop()
    pacer = Pacer()
    handoff = TickHandoff(loop, pacer)
    seen: list[tuple[str, float]] = []
    try:
        pacer.add(_Posting(handoff, seen))
        pacer.add(_Slow(seen))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if sum(1 for what, _ in seen if what.startswith("event")) == 3:
                break
    finally:
        await asyncio.to_thread(pacer.close)
    order = [what for what, _ in seen]
    events = [(position, what) for position, what in enumerate(order) if what.startswith("event")]
    assert len(events) == 3, order
    for position, what in events:  # each after the end of the tick that posted it, never inside it
        ended_before_post = int(what.split()[1])
        assert order[:position].count("tick end") > ended_before_post, order


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
