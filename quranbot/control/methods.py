"""The control socket's methods and topics, answered from the running bot.

`BotControl` is the bridge: it answers requests (status, stats, logs, control, listening), and feeds
the topics (player and listeners from the bot's events, logs from the `LogRing`, stats and playback
position from a one-second ticker). Commands go through `GuildPlayer.act`, exactly like a slash
command, so the panel, presence and saved state follow a change made from the terminal; so does
forgetting a member's listening, which does what `/stats privacy:off` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import io
import logging
import pwd
import time
from collections.abc import Callable, Iterable
from typing import Any

import discord

from quranbot.alerts.alert import Level
from quranbot.alerts.system_event import system_event
from quranbot.audio.library import Library
from quranbot.audio.player import PlayerError, PlayerEvent
from quranbot.audit.filters import AuditFilter, parse_since
from quranbot.audit.record import AuditRecord, Result
from quranbot.backup.scheduler import BackupScheduler
from quranbot.bot.alerting import BotAlerts
from quranbot.bot.client import QuranBot
from quranbot.bot.guild_player import GuildPlayer
from quranbot.bot.quiz_host import QuizHost
from quranbot.control import protocol
from quranbot.control.log_ring import LogRing
from quranbot.control.peer import Peer
from quranbot.control.protocol import Params, ProtocolError, Request
from quranbot.control.server import Connection, ControlServer
from quranbot.control.status import (
    ProcessMeter,
    guild_status,
    listeners,
    listening_figures,
    process_stats,
    quiz_figures,
)
from quranbot.listening.export import write_csv
from quranbot.listening.figures import guild_figures, member_figures
from quranbot.quran.metadata import load_metadata
from quranbot.store.records import ListeningStats

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
#: Log lines a new `logs` subscriber gets first; likewise audit records for `audit`.
LOG_SNAPSHOT = 100
AUDIT_SNAPSHOT = 100
#: Methods that change something (or hand out members' data): each call is recorded in the audit trail.
AUDITED = ("control", "verse.post", "listening.forget", "listening.export", "alerts.test")
#: `listening`'s leaderboards: rows by default, and at most (so a reply stays far below a line's limit).
LISTENING_TOP, LISTENING_TOP_MAX = 10, 100
#: The stats topic's listening figures are worked out at most every LISTENING_SECONDS, and never more
#: than 1/LISTENING_LOAD of the time: ranking a large guild takes a while (100,000 members with a
#: month of days each, about 2 s), and the topic ticks every second on the bot's event loop.
LISTENING_SECONDS, LISTENING_LOAD = 5.0, 20
#: `listening.export` returns pages: one stops growing past this many bytes of CSV (rows are written
#: EXPORT_BATCH at a time), so a reply stays well under the 1 MiB line limit however large the guild.
EXPORT_PAGE_BYTES, EXPORT_BATCH = 512 * 1024, 200


def login_name(peer: Peer) -> str:
    try:
        return pwd.getpwuid(peer.uid).pw_name
    except KeyError:
        return f"uid {peer.uid}"


def who(connection: Connection) -> str:
    """How a terminal user appears in "last action": their login name."""
    return f"{login_name(connection.peer)} (terminal)"


def terminal_record(
    peer: Peer, action: str, args: dict[str, Any], result: Result = "ok", reason: str = "", guild: Any = None
) -> AuditRecord:
    """What a terminal user did over the socket: their login name, uid and process."""
    return AuditRecord.create(
        "terminal", login_name(peer), action, result=result, reason=reason, actor_id=peer.uid,
        guild_id=guild, args=args, pid=peer.pid,
    )  # fmt: skip


class BotControl:
    def __init__(
        self,
        client: QuranBot,
        players: Callable[[], dict[int, GuildPlayer]],
        library: Library,
        ring: LogRing,
        backups: BackupScheduler | None = None,
        quiz: QuizHost | None = None,
        alerts: BotAlerts | None = None,
    ) -> None:
        self.client = client
        self.alerts = alerts
        self.quiz = quiz
        self.library = library
        self._players = players
        self.ring = ring
        self.backups = backups
        self.meter = ProcessMeter()
        self.server: ControlServer | None = None
        self._sent: dict[int, dict[str, Any]] = {}
        self._ticker: asyncio.Task[None] | None = None
        #: The stats topic's listening figures: when they are due again (time.monotonic()), for which
        #: local date, and the figures.
        self._listening: tuple[float, datetime.date, list[dict[str, Any]]] | None = None

    # -- wiring -----------------------------------------------------------------------------------------
    def attach(self, server: ControlServer) -> None:
        """Start feeding `server`'s topics (call on the running loop)."""
        self.server = server
        self.ring.on_line = lambda line: server.publish_threadsafe("logs", line)
        self.client.audit.on_record = lambda record: server.publish_threadsafe("audit", record.to_json())
        self.client.add_listener(self.on_quran_event, "on_quran_event")
        self.client.add_listener(self.on_voice_state_update, "on_voice_state_update")
        self.client.add_listener(self.on_quiz_event, "on_quiz_event")
        self._ticker = asyncio.create_task(self._tick(), name="control socket ticker")

    async def detach(self) -> None:
        self.ring.on_line = None
        self.client.audit.on_record = None
        self.client.remove_listener(self.on_quran_event, "on_quran_event")
        self.client.remove_listener(self.on_voice_state_update, "on_voice_state_update")
        self.client.remove_listener(self.on_quiz_event, "on_quiz_event")
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker

    def players(self) -> list[GuildPlayer]:
        return sorted(self._players().values(), key=lambda gp: gp.guild_id)

    # -- topics -----------------------------------------------------------------------------------------
    async def on_quran_event(self, guild_player: GuildPlayer, event: PlayerEvent) -> None:
        self._publish_player(guild_player, force=True)

    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        guild_player = self._players().get(member.guild.id)
        if guild_player is not None and self.server is not None:
            self.server.publish("listeners", self._listeners_event(guild_player))
            self._publish_player(guild_player)

    async def on_quiz_event(self, event: dict[str, Any]) -> None:
        """Dispatched by QuizHost: a question posted, answered, revealed."""
        if self.server is not None:
            self.server.publish("quiz", event)

    def _listeners_event(self, guild_player: GuildPlayer) -> dict[str, Any]:
        return {"guild_id": str(guild_player.guild_id), "listeners": listeners(guild_player)}

    def _publish_player(self, guild_player: GuildPlayer, force: bool = False) -> None:
        """Publish the guild's status if it changed since the last one sent (or `force`)."""
        if self.server is None or not self.server.subscribers("player"):
            return
        status = guild_status(guild_player)
        previous = self._sent.get(guild_player.guild_id)
        comparable = {k: v for k, v in status.items() if k != "sent_at"}
        if force or previous != comparable:
            self._sent[guild_player.guild_id] = comparable
            self.server.publish("player", status)

    async def _tick(self) -> None:
        """Once a second: CPU and packet rates, then the player (position) and stats topics."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            players = self.players()
            self.meter.sample(sum(gp.player.frames_sent for gp in players))
            if self.server is None:
                continue
            for guild_player in players:
                self._publish_player(guild_player)
            if self.server.subscribers("stats"):
                self.server.publish("stats", self.stats())

    def snapshot(self, topic: str) -> Iterable[tuple[str, Any]]:
        if topic == "player":
            return [("player", guild_status(gp)) for gp in self.players()]
        if topic == "listeners":
            return [("listeners", self._listeners_event(gp)) for gp in self.players()]
        if topic == "logs":
            return [("logs", line) for line in self.ring.recent(LOG_SNAPSHOT)]
        if topic == "quiz":
            return [("quiz", {"event": "open", **q}) for q in self.open_quizzes()]
        if topic == "audit":
            return [("audit", r.to_json()) for r in self.client.audit.recent(AUDIT_SNAPSHOT)]
        return [("stats", self.stats())]

    # -- methods ----------------------------------------------------------------------------------------
    async def handle(self, request: Request, connection: Connection) -> Any:
        if request.method not in AUDITED:
            return await self._answer(request, connection)
        args = {k: v for k, v in request.params.items() if k not in ("action", "guild", "guild_id")}
        action = str(request.params.get("action", "?")) if request.method == "control" else request.method
        guild = request.params.get("guild") or request.params.get("guild_id")
        if guild is not None and not str(guild).isdigit():  # a guild named, not an id
            args["guild"], guild = guild, None
        peer = connection.peer
        try:
            result = await self._answer(request, connection)
        except ProtocolError as exc:
            outcome: Result = "error" if exc.code == protocol.INTERNAL else "refused"
            self.client.audit.record(terminal_record(peer, action, args, outcome, exc.message, guild))
            raise
        except Exception as exc:
            self.client.audit.record(terminal_record(peer, action, args, "error", repr(exc), guild))
            raise
        if isinstance(result, dict) and "guild_id" in result:
            guild = result["guild_id"]
        self.client.audit.record(terminal_record(peer, action, args, guild=guild))
        return result

    def forbidden(self, peer: Peer) -> None:
        """A peer the socket turned away (not root, the bot's user or in its group)."""
        self.client.audit.record(
            terminal_record(
                peer, "connect", {}, "refused", "no permission: not root, the bot's user or its group"
            )
        )

    async def _answer(self, request: Request, connection: Connection) -> Any:
        params = Params(request.params)
        if request.method == "ping":
            return {"pong": True}
        if request.method == "status":
            return self.status()
        if request.method == "stats":
            return self.stats()
        if request.method == "logs":
            return {"lines": self.logs(params)}
        if request.method == "audit":
            return {"entries": self.audit(params)}
        if request.method == "reciters":
            return {"reciters": self.reciters()}
        if request.method == "control":
            return await self.control(params, connection)
        if request.method == "listening":
            return self.listening(params)
        if request.method == "listening.export":
            return self.listening_export(params)
        if request.method == "listening.forget":
            return self.listening_forget(params, connection)
        if request.method == "verse.post":
            return await self.verse_post(params, connection)
        if request.method == "alerts.test":
            return await self.alerts_test(connection)
        if request.method == "alerts.event":
            return self.alerts_event(params, connection)
        raise ProtocolError(protocol.UNKNOWN_METHOD, f"no method {request.method!r}")

    def status(self) -> dict[str, Any]:
        user = self.client.user
        return {
            "bot": {
                "user": None if user is None else str(user),
                "logged_in": self.client.user is not None and not self.client.is_closed(),
            },
            "guilds": [guild_status(gp) for gp in self.players()],
        }

    def reciters(self) -> list[dict[str, Any]]:
        """The imported reciters, for pickers: read from their manifests now, so a fresh import shows."""
        return [
            {
                "slug": reciter.slug,
                "name": reciter.name,
                "arabic_name": reciter.arabic_name,
                "surahs": len(reciter.surahs()),
                "ayah_surahs": len(reciter.ayah_surahs()),
                "sample": reciter.sample,
            }
            for reciter in self.library.reciters()
        ]

    def stats(self) -> dict[str, Any]:
        stats = process_stats(self.client, self.players(), self.meter, self.backups)
        stats["quiz"] = self.quiz_figures()
        stats["listening"] = self.listening_today()
        return stats

    def quiz_figures(self) -> list[dict[str, Any]]:
        """Per guild that plays or quizzes: today's questions, answers, open questions and top members."""
        if self.quiz is None:
            return []
        guild_ids = sorted({gp.guild_id for gp in self.players()} | {g.id for g in self.client.guilds})
        return [quiz_figures(self.client, self.quiz, guild_id) for guild_id in guild_ids]

    def listening_today(self) -> list[dict[str, Any]]:
        """Per guild that plays or has statistics: listening today and this week's top three. As last
        accrued (the listening tick, every 15 s), and worked out again only when due (LISTENING_SECONDS)."""
        started, today = time.monotonic(), self._today()
        cached = self._listening
        if cached is not None and cached[1] == today and started < cached[0]:
            return cached[2]
        store = self.client.store
        guild_ids = sorted({gp.guild_id for gp in self.players()} | set(store.listening_guilds()))
        figures = [listening_figures(self.client, g, store.all_listening(g), today) for g in guild_ids]
        cost = time.monotonic() - started
        self._listening = (started + max(LISTENING_SECONDS, LISTENING_LOAD * cost), today, figures)
        return figures

    def open_quizzes(self) -> list[dict[str, Any]]:
        if self.quiz is None:
            return []
        return [
            {
                "guild_id": str(s.record.guild_id),
                "channel_id": str(s.record.channel_id),
                "quiz_id": f"{s.record.quiz_id:x}",
                "question_id": s.question.id,
                "deadline": round(s.record.deadline, 3),
                "answers": len(s.record.answers),
            }
            for s in self.quiz.sessions.values()
            if not s.closed
        ]

    async def verse_post(self, params: Params, connection: Connection) -> dict[str, Any]:
        """`quranbot verse post-now`: the guild's next daily verse, posted at once in its channel."""
        verses = self.client.daily_verses
        guild_ids = verses.guild_ids()
        wanted = params.text("guild") or params.integer("guild_id")
        if wanted is None:
            if not guild_ids:
                raise ProtocolError(
                    protocol.BAD_PARAMS,
                    "no guild has a daily verse channel: /setup daily_verse_channel, or "
                    "daily_verse_channel in config.toml",
                )
            if len(guild_ids) > 1:
                ids = ", ".join(map(str, guild_ids))
                raise ProtocolError(
                    protocol.BAD_PARAMS, f'several guilds have a daily verse; say which with "guild": {ids}'
                )
            guild_id = guild_ids[0]
        else:
            named = (g for g in guild_ids if str(g) == str(wanted) or self._guild_named(g, wanted))
            guild_id = next(named, 0)
            if not guild_id:
                raise ProtocolError(protocol.NOT_FOUND, f"no guild {wanted!r} has a daily verse channel")
        try:
            posted = await verses.post_now(guild_id)
        except discord.HTTPException as exc:
            raise ProtocolError(protocol.REFUSED, f"Discord refused the post: {exc}") from None
        log.info("Posted the daily verse %s in guild %s, by %s", posted.ref, guild_id, who(connection))
        return {
            "guild_id": str(posted.guild_id),
            "channel_id": str(posted.channel_id),
            "message_id": str(posted.message_id),
            "ref": str(posted.ref),
        }

    async def alerts_test(self, connection: Connection) -> dict[str, Any]:
        """`quranbot alerts test` when alerts go to a channel: the bot posts a test alert there itself."""
        if self.alerts is None or self.alerts.sender is None:
            raise ProtocolError(protocol.REFUSED, "alerts are not running in this bot")
        sender = self.alerts.sender
        if not sender.destination.ready():
            raise ProtocolError(
                protocol.BAD_PARAMS,
                "no alert destination: save a webhook (`quranbot setup`), set alerts.channel, or run "
                "/setup log_channel in Discord",
            )
        answer = await self.alerts.send_test(f"Test alert, sent by {who(connection)}")
        return {
            "destination": sender.destination.describe(),
            "delivered": answer.delivered,
            "status": answer.status,
            "answer": answer.reason,
            "disabled": sender.disabled is not None,
        }

    def alerts_event(self, params: Params, connection: Connection) -> dict[str, Any]:
        """A `quranbot` command's own event (a reciter imported): logged by the bot as a system event, so
        it reaches the alerts (batched and rate limited with the rest), the log and the TUI."""
        text = params.text("text")
        if not text:
            raise ProtocolError(protocol.BAD_PARAMS, '"text" is required')
        names = {level.label: level for level in Level}
        level = names.get(params.text("level") or "info")
        if level is None:
            raise ProtocolError(protocol.BAD_PARAMS, f'"level" is one of {", ".join(names)}')
        system_event(log, level, "%s (%s)", text[:1000], who(connection))
        return {"logged": True}

    def _guild_named(self, guild_id: int, name: object) -> bool:
        guild = self.client.get_guild(guild_id)
        return guild is not None and str(name).casefold() == guild.name.casefold()

    def audit(self, params: Params) -> list[dict[str, Any]]:
        """The newest audit records the bot keeps in memory (its last 1,000) that match, oldest first."""
        limit = params.integer("limit")
        limit = 100 if limit is None else limit
        if not 0 <= limit <= 10_000:
            raise ProtocolError(protocol.BAD_PARAMS, '"limit" must be between 0 and 10000')
        since = params.text("since")
        try:
            wanted = AuditFilter(
                guild=_text(params.discord_id("guild")),
                user=params.id_or_text("user"),
                since=None if since is None else parse_since(since),
                source=params.text("source"),
                result=params.text("result"),
            )
        except ValueError as exc:
            raise ProtocolError(protocol.BAD_PARAMS, str(exc)) from None
        if limit == 0:
            return []
        return [record.to_json() for record in self.client.audit.recent(limit, wanted)]

    def logs(self, params: Params) -> list[dict[str, Any]]:
        limit = params.integer("limit")
        limit = 100 if limit is None else limit
        if not 0 <= limit <= 10_000:
            raise ProtocolError(protocol.BAD_PARAMS, '"limit" must be between 0 and 10000')
        level_name = (params.text("level") or "DEBUG").upper()
        level = logging.getLevelName(level_name)
        if not isinstance(level, int):
            raise ProtocolError(
                protocol.BAD_PARAMS, '"level" must be DEBUG, INFO, WARNING, ERROR or CRITICAL'
            )
        return self.ring.recent(limit, level, params.text("search"))

    async def control(self, params: Params, connection: Connection) -> Any:
        action = params.text("action", required=True)
        if action not in protocol.ACTIONS:
            raise ProtocolError(
                protocol.BAD_PARAMS, f"no action {action!r}; the actions are: {', '.join(protocol.ACTIONS)}"
            )
        if action == "backup":
            return await self._backup_now()
        guild_player = self._guild(params)
        what, command = self._command(action, params, guild_player)
        try:
            guild_player.act(what, who(connection), command)
        except PlayerError as exc:
            raise ProtocolError(protocol.REFUSED, str(exc)) from None
        log.info("%s, by %s", what, who(connection))
        return guild_status(guild_player)

    def _guild(self, params: Params) -> GuildPlayer:
        players = self._players()
        wanted = params.text("guild") or params.integer("guild_id")
        if wanted is None:
            if len(players) == 1:
                return next(iter(players.values()))
            if not players:
                raise ProtocolError(
                    protocol.NOT_READY, "no guild is playing yet (the bot may still be connecting)"
                )
            ids = ", ".join(str(g) for g in sorted(players))
            raise ProtocolError(
                protocol.BAD_PARAMS, f'several guilds play here; say which with "guild": {ids}'
            )
        for guild_player in players.values():
            guild = guild_player.guild
            if str(wanted) == str(guild_player.guild_id) or (
                guild and str(wanted).casefold() == guild.name.casefold()
            ):
                return guild_player
        raise ProtocolError(protocol.NOT_FOUND, f"no guild {wanted!r} plays here")

    def _command(
        self, action: str, params: Params, guild_player: GuildPlayer
    ) -> tuple[str, Callable[[], None]]:
        player = guild_player.player
        now = guild_player.now_playing()
        if action == "play":
            surah = params.integer("surah", required=True)
            assert surah is not None
            ayah, reciter = params.integer("ayah"), params.text("reciter")
            try:
                if ayah is None:
                    load_metadata().surah(surah)
                else:
                    load_metadata().check_ayah(surah, ayah)
            except (KeyError, ValueError) as exc:
                raise ProtocolError(protocol.BAD_PARAMS, str(exc).strip("'\"")) from None
            name = load_metadata().surah(surah).name
            if ayah is None:
                return f"Playing {surah}. {name}", lambda: player.play_surah(surah, reciter)

            def from_ayah() -> None:
                if reciter is not None:
                    player.set_reciter(reciter)
                player.play_ayah(surah, ayah)

            return f"Playing {surah}:{ayah} ({name})", from_ayah
        if action == "reciter":
            slug = params.text("reciter", required=True)
            assert slug is not None
            return "Reciter changed", lambda: player.set_reciter(slug)
        if action in ("loop", "shuffle"):
            on = params.flag("on")
            current = now.loop if action == "loop" else now.shuffle
            value = not current if on is None else on
            setter = player.set_loop if action == "loop" else player.set_shuffle
            return f"{action.capitalize()} {'on' if value else 'off'}", lambda: setter(value)
        simple: dict[str, tuple[str, Callable[[], None]]] = {
            "pause": ("Paused", player.pause),
            "resume": ("Resumed", player.resume),
            "next": ("Skipped to the next surah", player.next),
            "previous": ("Went back", player.previous),
        }
        return simple[action]

    # -- listening statistics -----------------------------------------------------------------------
    def _today(self) -> datetime.date:
        """The bot's local date (config.toml's time zone): what "today" and "this week" count from."""
        return datetime.datetime.now(self.client.timezone).date()

    def _known_guilds(self) -> set[int]:
        """Guilds the bot is in, plays in, or has listening statistics for."""
        players = {gp.guild_id for gp in self.players()}
        return players | {g.id for g in self.client.guilds} | set(self.client.store.listening_guilds())

    def _listening_guilds(self, params: Params) -> list[int]:
        """The guild asked for (one the bot knows), or every guild with statistics."""
        guild = params.discord_id("guild")
        if guild is None:
            return self.client.store.listening_guilds()
        if guild not in self._known_guilds():
            raise _no_such_guild(guild)
        return [guild]

    def listening(self, params: Params) -> dict[str, Any]:
        """Each guild's figures and leaderboards, and one member's figures if asked (with one guild)."""
        guilds = self._listening_guilds(params)
        top = params.integer("top")
        top = LISTENING_TOP if top is None else top
        if not 1 <= top <= LISTENING_TOP_MAX:
            raise ProtocolError(protocol.BAD_PARAMS, f'"top" must be between 1 and {LISTENING_TOP_MAX}')
        member = params.discord_id("member")
        if member is not None and len(guilds) != 1:
            raise ProtocolError(
                protocol.BAD_PARAMS,
                '"member" needs "guild" when several guilds have statistics: '
                + (", ".join(str(g) for g in guilds) or "none has any yet"),
            )
        self.client.accrue_listening()  # up to this second, as /stats shows it
        store, today = self.client.store, self._today()
        result: dict[str, Any] = {
            "day": today.isoformat(),
            "guilds": {str(g): guild_figures(store.all_listening(g), today, top) for g in guilds},
        }
        if member is not None:
            (guild,) = guilds
            names = {s.number: s.name for s in load_metadata().surahs}
            result["member"] = {
                "guild_id": str(guild),
                "opted_out": member in store.listening_opt_outs(guild),
                **member_figures(store.listening(guild, member), today, names),
            }
        return result

    def listening_export(self, params: Params) -> dict[str, Any]:
        """One page of the CSV export, rows in (guild, member) order: the header on the first page, and
        `next` to pass as `after` for the following one (None after the last). Paged by a key, not an
        offset, so a member who starts listening between pages moves no row onto or off a page."""
        guilds = self._listening_guilds(params)
        after = _export_cursor(params.text("after"))
        self.client.accrue_listening()
        store, today = self.client.store, self._today()
        records = sorted(
            (s for g in guilds for s in store.all_listening(g)), key=lambda s: (s.guild_id, s.user_id)
        )
        if after is not None:
            records = [s for s in records if (s.guild_id, s.user_id) > after]
        header = _csv(today, [])
        parts, size, taken = [header] if after is None else [], 0, 0
        while taken < len(records) and size < EXPORT_PAGE_BYTES:
            batch = records[taken : taken + EXPORT_BATCH]
            rows = _csv(today, batch)[len(header) :]
            parts.append(rows)
            size, taken = size + len(rows.encode()), taken + len(batch)
        last = records[taken - 1] if taken < len(records) else None
        return {
            "csv": "".join(parts),
            "rows": taken,
            "next": None if last is None else f"{last.guild_id}:{last.user_id}",
        }

    def listening_forget(self, params: Params, connection: Connection) -> dict[str, Any]:
        """Delete a member's listening records and stop tracking them, in one guild or in every guild
        the bot knows, as `/stats privacy:off` does; `/stats privacy:on` in Discord turns it back on."""
        user = params.discord_id("user", required=True)
        assert user is not None
        guild = params.discord_id("guild")
        known = self._known_guilds()
        if guild is not None and guild not in known:
            raise _no_such_guild(guild)
        guilds = [guild] if guild is not None else sorted(known)
        store = self.client.store
        for g in guilds:
            self.client.listening.forget(g, user)
            store.set_listening_opt_out(g, user, True)
        forgotten = [g for g in guilds if store.forget_listening(user, g)]
        self.client.accrue_listening()  # and takes their listener role back
        self._listening = None
        log.info(
            "Listening statistics of member %s forgotten in %d guild(s), tracking off in %d, by %s",
            user, len(forgotten), len(guilds), who(connection),
        )  # fmt: skip
        return {
            "user_id": str(user),
            "forgotten": [str(g) for g in forgotten],
            "opted_out": [str(g) for g in guilds],
        }

    async def _backup_now(self) -> dict[str, Any]:
        if self.backups is None:
            raise ProtocolError(protocol.NOT_READY, "backups are not running in this bot")
        try:
            info = await self.backups.run_now()
        except Exception as exc:
            raise ProtocolError(protocol.REFUSED, f"the backup failed: {exc}") from None
        return {
            "name": info.name,
            "created": info.created.isoformat(timespec="seconds"),
            "size": info.size,
            "files": len(info.files),
        }


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


def _no_such_guild(guild: int) -> ProtocolError:
    return ProtocolError(
        protocol.NOT_FOUND, f"no guild {guild} here: the bot is not in it and has no statistics for it"
    )


def _export_cursor(after: str | None) -> tuple[int, int] | None:
    if after is None:
        return None
    guild, _, user = after.partition(":")
    if not (guild.isdigit() and user.isdigit()):
        raise ProtocolError(protocol.BAD_PARAMS, '"after" must be a "next" from the previous page')
    return int(guild), int(user)


def _csv(today: datetime.date, records: list[ListeningStats]) -> str:
    out = io.StringIO()
    write_csv(records, out, today)
    return out.getvalue()
