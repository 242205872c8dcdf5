"""Run the bot until it is stopped: open the state, start the flusher and the backup schedule, log in,
and on the way out leave voice, flush and release the state. Discord's refusals become messages an
admin can act on (`StartupError`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
import signal

import aiohttp
import discord
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from quranbot.alerts.system_event import system_event
from quranbot.audio.library import Library
from quranbot.audit.writer import AuditLog
from quranbot.backup.archive import newest_good_copy
from quranbot.backup.scheduler import BackupScheduler
from quranbot.bot.alerting import BotAlerts
from quranbot.bot.client import QuranBot
from quranbot.bot.settings import BotSettings
from quranbot.bot.supervision import report_to_systemd
from quranbot.control.log_ring import LogRing
from quranbot.control.methods import BotControl
from quranbot.control.server import ControlServer
from quranbot.log_setup import RedactingFilter
from quranbot.metrics.address import ListenAddress
from quranbot.metrics.collector import BotSources
from quranbot.metrics.registry import BotMetrics
from quranbot.metrics.server import MetricsServer
from quranbot.metrics.voice import VoiceStatsBook
from quranbot.paths import Paths
from quranbot.quiz.bank import BankLoader
from quranbot.service_notify import ServiceNotifier
from quranbot.shards.layout import LayoutMismatch, check_layout, write_marker
from quranbot.shards.ownership import Shard
from quranbot.store.flusher import PeriodicFlusher
from quranbot.store.lock import StateLocked
from quranbot.store.schema import SchemaTooNew
from quranbot.store.state import StateStore, StoreUnavailable

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The bot cannot run as configured; the message says why and what to do."""


def open_state(paths: Paths, shard: Shard | None = None) -> StateStore:
    """The state store (a shard's own, when sharded), repaired from backups if a file is unreadable;
    refusals become StartupError. A shard's store writes only the guilds the shard owns."""
    try:
        check_layout(paths, None if shard is None else shard.count)
    except LayoutMismatch as exc:
        raise StartupError(str(exc)) from None
    store = StateStore(paths.state_dir, paths.backups_dir, find_backup=newest_good_copy)
    try:
        store.open()
    except StateLocked as exc:
        raise StartupError(f"{exc}: is QuranBot already running?") from None
    except (StoreUnavailable, SchemaTooNew) as exc:
        raise StartupError(str(exc)) from None
    if shard is not None:
        store.owns_guild = shard.owns
        write_marker(paths.state_dir, shard)
    return store


async def run_bot(
    settings: BotSettings,
    paths: Paths,
    connector: aiohttp.BaseConnector | None = None,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
) -> None:
    """Log in and run until `stop` is set (SIGINT/SIGTERM set it) or the connection ends for good."""
    if not settings.token:
        raise StartupError("No bot token given: pass --token-file, or set QURANBOT_TOKEN")
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM) if handle_signals else ()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    redactor = RedactingFilter([settings.token, *settings.alerts.secrets()])
    alerts = BotAlerts(settings.alerts, redactor)
    alerts.install()  # before the state opens: a file repaired from a backup is an alert
    try:
        store = open_state(paths, settings.shard)
    except BaseException:
        await alerts.stop()
        raise
    store.guild_defaults = {defaults.guild_id: defaults for defaults in settings.guild_defaults}
    store.default_reciter = settings.default_reciter
    audit = AuditLog(
        paths.state_dir,
        settings.audit_max_bytes,
        settings.audit_keep,
        secrets=[settings.token, *settings.alerts.secrets()],
    ).open()
    flusher = PeriodicFlusher(store, settings.flush_interval, settings.statistics_interval)
    flushing = asyncio.create_task(flusher.run(), name="state flusher")
    scheduler = AsyncIOScheduler(timezone=datetime.UTC)  # one for every timed job: backups, quizzes
    scheduler.start()
    backups = BackupScheduler(
        paths.state_dir, paths.backups_dir, settings.backup_interval, scheduler=scheduler, audit=audit
    )
    backups.start()
    library = Library(paths.audio_dir)
    quiz_bank = BankLoader(paths.quiz_banks_dir)
    voice_stats = None if settings.metrics_listen is None else VoiceStatsBook()
    bot = QuranBot(
        settings,
        store,
        library,
        scheduler,
        quiz_bank,
        audit=audit,
        voice_stats=voice_stats,
        connector=connector,
    )
    flusher.before_statistics = bot.accrue_listening
    flusher.before_flush = bot.save_positions
    flusher.quiet_moment = bot.audio_gap
    alerts.start(bot, connector)
    ring = LogRing()
    ring.addFilter(redactor)
    logging.getLogger().addHandler(ring)
    control = BotControl(bot, bot.guild_players, library, ring, backups, quiz=bot.quiz, alerts=alerts)
    server = await _open_control_socket(paths, control)
    metrics = None
    if settings.metrics_listen is not None and voice_stats is not None:
        sources = BotSources(bot, voice_stats, alerts, backups, flusher, server)
        listen = settings.metrics_listen
        if settings.shard is not None:  # the shards of a machine share its config: each its own port
            listen = dataclasses.replace(listen, port=listen.port + settings.shard.id)
        metrics = await _serve_metrics(listen, BotMetrics(sources), audit)
    notifier = ServiceNotifier.from_environment()
    reporting = asyncio.create_task(report_to_systemd(notifier, bot), name="systemd notifications")
    try:
        await _run_client(bot, settings, stop, notifier, alerts)
    finally:
        await alerts.stop()
        if metrics is not None:
            await metrics.close()
        reporting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporting
        notifier.close()
        if server is not None:
            await control.detach()
            await server.close()
        logging.getLogger().removeHandler(ring)
        flushing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flushing
        backups.shutdown()
        with contextlib.suppress(RuntimeError):  # the loop is closing: nothing is left to stop
            scheduler.shutdown(wait=False)
        store.close()  # the last flush: position and statistics as they are now
        audit.close()
        for sig in signals:
            loop.remove_signal_handler(sig)


async def _open_control_socket(paths: Paths, control: BotControl) -> ControlServer | None:
    """The control socket for the CLI and the TUI; without it the bot still recites, so a failure
    (a runtime directory it may not write) is logged, not fatal."""
    server = ControlServer(paths.control_socket, control, on_forbidden=control.forbidden)
    try:
        await server.start()
    except OSError as exc:
        log.error(
            "No control socket at %s (%s): `quranbot status` and the TUI will not reach this bot",
            paths.control_socket,
            exc.strerror or exc,
        )
        return None
    control.attach(server)
    return server


async def _serve_metrics(
    address: ListenAddress, metrics: BotMetrics, audit: AuditLog
) -> MetricsServer | None:
    """/metrics for the operator; like the control socket, not fatal when it cannot listen (logged)."""
    server = MetricsServer(metrics.registry, address, on_close=metrics.detach)
    metrics.attach(audit)
    if not await server.start():
        metrics.detach()
        return None
    return server


async def _run_client(
    bot: QuranBot, settings: BotSettings, stop: asyncio.Event, notifier: ServiceNotifier, alerts: BotAlerts
) -> None:
    try:
        async with bot:
            runner = asyncio.create_task(bot.start(settings.token.reveal()))
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            await asyncio.wait({stopper})
            if runner in done:
                runner.result()
            else:
                # Close while the gateway still runs, so leaving voice is acknowledged promptly.
                system_event(log, logging.INFO, "Stopping: leaving voice and closing the connection")
                notifier.stopping()
                await alerts.stop()  # the alerts queued so far (this one too) go before the client closes
                await bot.close()
                try:
                    await runner
                except Exception as exc:  # our own close cut a handshake short (aiohttp asserts)
                    log.debug("The connection ended mid-handshake while stopping: %r", exc)
    except discord.LoginFailure:
        raise StartupError(
            "Discord rejected the bot token (401 Unauthorized): check the token and try again"
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise StartupError("Discord refused a privileged intent: enable it in the developer portal") from None
    except discord.ConnectionClosed as exc:
        if exc.code == 4004:
            raise StartupError(
                "Discord closed the gateway: authentication failed (4004); check the token"
            ) from None
        if exc.code == 4010:
            raise StartupError(
                f"Discord refused {settings.shard or 'the connection'}: invalid shard (4010); shard ids run "
                "from 0 to shard_count - 1 (config.toml, or --shard-ids/--shard-count)"
            ) from None
        if exc.code == 4011:
            raise StartupError(
                "Discord requires sharding (4011): the bot is in too many servers for one connection; set "
                "shard_count (docs/SCALING.md; Discord's GET /gateway/bot recommends a count)"
            ) from None
        raise StartupError(
            f"Discord closed the gateway with code {exc.code}: {exc.reason or 'no reason given'}"
        ) from None
