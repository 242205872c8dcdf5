"""The alerts of a running bot, wired to it: the handler is on the root logger before the state is opened
(a file repaired from a backup is an alert), the sender starts once the client exists, the destination is
the webhook when one is saved and otherwise the alert channel, and a stop delivers what is queued before
the client closes. Also the two events only the bot can tell: it started (logged in), and the daily
heartbeat, a job on the bot's APScheduler like the daily verse's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiohttp
from apscheduler.jobstores.base import JobLookupError  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from quranbot.alerts.destination import Answer, Destination
from quranbot.alerts.handler import AlertHandler
from quranbot.alerts.heartbeat import HeartbeatFigures, log_heartbeat
from quranbot.alerts.queue import AlertQueue
from quranbot.alerts.sender import AlertSender
from quranbot.alerts.settings import AlertSettings
from quranbot.alerts.system_event import system_event
from quranbot.alerts.webhook import WebhookDestination
from quranbot.audio.player import FRAMES_PER_SECOND
from quranbot.bot.alert_channel import ChannelDestination
from quranbot.bot.client import QuranBot
from quranbot.daily_verse.timing import parse_time_of_day
from quranbot.log_setup import RedactingFilter

log = logging.getLogger(__name__)

HEARTBEAT_JOB = "alerts heartbeat"
#: A stop waits this long at most for queued alerts (the "stopping" one included) to be delivered.
FLUSH_SECONDS = 3.0
#: A heartbeat missed while the machine slept is still sent this late.
HEARTBEAT_GRACE_SECONDS = 3600


class BotAlerts:
    def __init__(self, settings: AlertSettings, redactor: RedactingFilter) -> None:
        self.settings = settings
        self.queue = AlertQueue()
        self.handler = AlertHandler(self.queue, redactor, settings.min_level, settings.categories)
        self.sender: AlertSender | None = None
        self._bot: QuranBot | None = None
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._started = time.monotonic()
        self._errors_before = 0
        self._announced = False
        self._stopped = False

    def install(self) -> None:
        """Listen to the root logger from now on (alerts queue until `start`)."""
        logging.getLogger().addHandler(self.handler)

    def start(self, bot: QuranBot, connector: aiohttp.BaseConnector | None = None) -> None:
        """Deliver from now on; `connector` is the client's (the sandbox's), shared and left open."""
        self._bot = bot
        self.sender = AlertSender(self.queue, self._destination(bot, connector), self.settings.ping)
        self._task = asyncio.create_task(self.sender.run(), name="alert sender")
        bot.add_listener(self.on_ready, "on_ready")
        bot.add_listener(self.on_guild_settings_changed, "on_guild_settings_changed")
        self._arm_heartbeat(bot)

    def _destination(self, bot: QuranBot, connector: aiohttp.BaseConnector | None) -> Destination:
        if self.settings.webhook is not None:
            self._session = aiohttp.ClientSession(connector=connector, connector_owner=connector is None)
            return WebhookDestination(self.settings.webhook, self._session)
        return ChannelDestination(bot, self.channel_ids)

    def channel_ids(self) -> list[int]:
        """The channels servers chose with /setup log_channel; else config.toml's `alerts.channel`."""
        if self._bot is None:
            return []
        chosen = sorted({s.log_channel_id for s in self._bot.store.all_settings() if s.log_channel_id})
        if chosen:
            return chosen
        return [] if self.settings.channel_id is None else [self.settings.channel_id]

    async def stop(self) -> None:
        """Deliver what is queued (a few seconds at most), then stop listening and sending; once only."""
        if self._stopped:
            return
        self._stopped = True
        if self.sender is not None and self._task is not None and not self._task.done():
            await self.sender.flush(FLUSH_SECONDS)
        logging.getLogger().removeHandler(self.handler)
        if self._bot is not None:
            self._bot.remove_listener(self.on_ready, "on_ready")
            self._bot.remove_listener(self.on_guild_settings_changed, "on_guild_settings_changed")
            if self._bot.scheduler.running:
                with contextlib.suppress(JobLookupError):
                    self._bot.scheduler.remove_job(HEARTBEAT_JOB)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    async def send_test(self, text: str) -> Answer:
        """For `quranbot alerts test` through the control socket (the channel destination)."""
        if self.sender is None:
            raise RuntimeError("alerts have not started")
        return await self.sender.send_test(text)

    # -- what only the bot can tell ---------------------------------------------------------------------
    async def on_ready(self) -> None:
        if self._announced or self._bot is None or self._bot.user is None:
            return  # on_ready comes again after a gateway reconnect: started is said once
        self._announced = True
        system_event(
            log,
            logging.INFO,
            "QuranBot started: logged in as %s in %d server(s)",
            self._bot.user,
            len(self._bot.guilds),
        )

    async def on_guild_settings_changed(self, guild_id: int) -> None:
        """A new /setup log_channel may fix a channel that refused alerts: try it again."""
        if self.sender is not None and isinstance(self.sender.destination, ChannelDestination):
            self.sender.disabled = None

    def _arm_heartbeat(self, bot: QuranBot) -> None:
        if self.settings.heartbeat is None or not bot.scheduler.running:
            return
        at = parse_time_of_day(self.settings.heartbeat)
        bot.scheduler.add_job(
            self.heartbeat,
            trigger=CronTrigger(hour=at.hour, minute=at.minute, second=at.second, timezone=bot.timezone),
            id=HEARTBEAT_JOB,
            name="alerts heartbeat",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=HEARTBEAT_GRACE_SECONDS,
            replace_existing=True,
        )

    async def heartbeat(self) -> None:
        bot = self._bot
        if bot is None:
            return
        players = list(bot.guild_players().values())
        guild_ids = {gp.guild_id for gp in players} | {g.id for g in bot.guilds}
        errors, self._errors_before = self.handler.errors_seen - self._errors_before, self.handler.errors_seen
        log_heartbeat(
            log,
            HeartbeatFigures(
                uptime_seconds=time.monotonic() - self._started,
                recited_seconds=sum(gp.player.frames_sent for gp in players) / FRAMES_PER_SECOND,
                listeners=sum(len(gp.listeners()) for gp in players),
                quiz_answers=sum(bot.quiz.activity(g).answers for g in guild_ids),
                errors=errors,
            ),
        )
