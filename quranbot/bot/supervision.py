"""What the bot tells systemd: READY once it is logged in and reciting, then WATCHDOG while it is well.

The watchdog pings come from a task on the event loop, so a wedged loop stops them by itself. A silent
stall stops them too: frames not advancing for 1.5 WatchdogSec (45 s in the unit) while connected and
playing, long after the guild's own watchdog (10 s) has tried a rejoin, which does not restart the
count. A voice connection that is down (Discord or the network) is not a reason: restarting would not
bring Discord back, and repeated restarts would exhaust the unit's start limit.
"""

from __future__ import annotations

import asyncio
import logging

from quranbot.alerts.system_event import system_event
from quranbot.audio.player import PlayerState
from quranbot.bot.client import QuranBot
from quranbot.quran.metadata import load_metadata
from quranbot.service_notify import ServiceNotifier

log = logging.getLogger(__name__)

#: A stall this many watchdog periods long (but at least MIN_STALL_LIMIT) stops the pings: 45 s with the
#: unit's WatchdogSec=30. The guild's own watchdog tries a rejoin after 10 s first.
STALL_WATCHDOGS = 1.5
MIN_STALL_LIMIT = 15.0
#: Pings per WatchdogSec: systemd's advice is at least two.
PINGS_PER_WATCHDOG = 3
READY_CHECK_SECONDS = 0.2


def reciting(bot: QuranBot) -> bool:
    """Logged in, and every guild with a voice channel is sending audio (or paused on purpose)."""
    if not bot.is_ready():
        return False
    return all(gp.player.frames_sent > 0 or gp.now_playing().state is PlayerState.PAUSED
               for gp in bot.guild_players().values())  # fmt: skip


def describe(bot: QuranBot) -> str:
    players = list(bot.guild_players().values())
    if not players:
        return "Logged in; no voice channel configured yet (run /setup in Discord)"
    if len(players) == 1:
        now = players[0].now_playing()
        return f"Reciting {now.surah}. {load_metadata().surah(now.surah).name} ({now.state.value})"
    return f"Reciting in {len(players)} guilds"


def worst_stall(bot: QuranBot) -> tuple[int, float]:
    stalls = [(gp.guild_id, gp.stalled_seconds()) for gp in bot.guild_players().values()]
    return max(stalls, key=lambda item: item[1], default=(0, 0.0))


async def report_to_systemd(notifier: ServiceNotifier, bot: QuranBot) -> None:
    """Run for the life of the bot (cancel to stop)."""
    if not notifier.enabled:
        return
    while not reciting(bot):
        await asyncio.sleep(READY_CHECK_SECONDS)
    notifier.ready(describe(bot))
    log.info("Told systemd the bot is ready")
    if notifier.watchdog_seconds is None:
        return
    interval = notifier.watchdog_seconds / PINGS_PER_WATCHDOG
    stall_limit = max(MIN_STALL_LIMIT, STALL_WATCHDOGS * notifier.watchdog_seconds)
    withholding = False
    while True:
        guild_id, stalled = worst_stall(bot)
        if stalled < stall_limit:
            notifier.send(WATCHDOG="1", STATUS=describe(bot))
            withholding = False
        elif not withholding:
            system_event(
                log,
                logging.ERROR,
                "No audio for %.0f s in guild %s although connected: no longer reassuring systemd's "
                "watchdog, so it restarts the bot",
                stalled,
                guild_id,
            )
            withholding = True
        await asyncio.sleep(interval)
