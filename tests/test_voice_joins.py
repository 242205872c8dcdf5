"""Voice joins paced to the gateway's command limit (quranbot/bot/voice_joins.py): never more than the
limit in any window, in the order asked, and no wait at all below it. Real asyncio time, a small window."""

from __future__ import annotations

import asyncio
import time

from quranbot.bot.voice_joins import VoiceJoins


async def test_no_window_holds_more_than_the_limit_and_joins_go_in_order() -> None:
    joins = VoiceJoins(limit=3, window=0.5)
    started = time.monotonic()
    sent: list[tuple[int, float]] = []

    async def join(guild: int) -> None:
        await joins.take()
        sent.append((guild, time.monotonic() - started))

    await asyncio.gather(*(join(guild) for guild in range(8)))
    assert [guild for guild, _ in sent] == list(range(8))
    times = [at for _, at in sent]
    for at in times:
        assert sum(1 for other in times if at - 0.5 < other <= at) <= 3, times
    assert times[2] < 0.1  # the first three at once
    assert 0.95 <= times[7] < 1.5  # the eighth in the third window
    assert joins.waited == 5


async def test_below_the_limit_nothing_waits() -> None:
    joins = VoiceJoins(limit=100, window=60.0)
    started = time.monotonic()
    for _ in range(100):
        await joins.take()
    assert time.monotonic() - started < 0.1
    assert joins.waited == 0
