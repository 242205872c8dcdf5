"""The sandbox's main gateway: HELLO, IDENTIFY, heartbeats, READY, GUILD_CREATE, RESUME and dispatch.

One `GatewaySession` outlives its websocket: when the socket drops, events keep collecting in the
session's backlog so that a RESUME replays exactly what the bot missed, as Discord does.

Sharding as Discord does it: a session that IDENTIFYs with `shard: [id, count]` handles the guilds with
`(guild_id >> 22) % count == id` and receives their events only (events of no guild, such as DMs, go to
shard 0). A malformed shard, or an id not below the count, is closed with 4010 (invalid shard); a
session that would hold more guilds than the application's `max_guilds_per_shard` with 4011
(sharding required).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from quranbot.sandbox.model import JSON, Application, Guild

log = logging.getLogger(__name__)


class Op:
    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE = 3
    VOICE_STATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class CloseCode:
    UNKNOWN_ERROR = 4000
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    INVALID_SEQ = 4007
    INVALID_SHARD = 4010
    SHARDING_REQUIRED = 4011


#: Events a session only receives when it asked for the matching intent (Discord's intent bits).
EVENT_INTENTS = {
    "GUILD_MEMBER_ADD": 1 << 1,
    "GUILD_MEMBER_UPDATE": 1 << 1,
    "GUILD_MEMBER_REMOVE": 1 << 1,
    "VOICE_STATE_UPDATE": 1 << 7,
    "MESSAGE_CREATE": 1 << 9,
    "MESSAGE_UPDATE": 1 << 9,
    "MESSAGE_DELETE": 1 << 9,
    "MESSAGE_REACTION_ADD": 1 << 10,
    "MESSAGE_REACTION_REMOVE": 1 << 10,
}

BACKLOG_LIMIT = 2000


def guild_shard(guild_id: int, shard_count: int) -> int:
    """The shard that handles a guild (Discord's documented formula)."""
    return (guild_id >> 22) % shard_count


def parse_shard(value: Any) -> tuple[int, int] | None:
    """IDENTIFY's `shard` field as `(id, count)`; ValueError for anything Discord closes with 4010."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in value)
    ):
        raise ValueError(f"shard must be [shard_id, num_shards], not {value!r}")
    shard_id, count = value
    if count < 1 or not 0 <= shard_id < count:
        raise ValueError(f"shard {shard_id} is not one of {count}")
    return shard_id, count


#: (session, guild_id, channel_id or None, self_mute, self_deaf) -> None: what op 4 asks for.
VoiceStateHandler = Callable[["GatewaySession", int, int | None, bool, bool], Awaitable[None]]


class GatewayConnection:
    """One gateway websocket, compressed as zlib-stream when the client asked for it."""

    def __init__(self, socket: web.WebSocketResponse, compress: bool) -> None:
        self.socket = socket
        self._compressor = zlib.compressobj() if compress else None

    @property
    def closed(self) -> bool:
        return self.socket.closed

    async def send(self, payload: JSON) -> None:
        await self.send_text(json.dumps(payload))

    async def send_text(self, text: str) -> None:
        if self.socket.closed:
            return
        try:
            if self._compressor is not None:
                data = self._compressor.compress(text.encode()) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
                await self.socket.send_bytes(data)
            else:
                await self.socket.send_str(text)
        except (ConnectionResetError, RuntimeError):
            log.debug("gateway send to a closing socket dropped")

    async def close(self, code: int, message: str) -> None:
        await self.socket.close(code=code, message=message.encode())


@dataclass
class GatewaySession:
    """A bot's gateway session; survives socket drops until it is invalidated."""

    session_id: str
    application: Application
    intents: int
    connection: GatewayConnection | None = None
    seq: int = 0
    backlog: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=BACKLOG_LIMIT))
    presence: JSON | None = None
    #: `(id, count)` from IDENTIFY; None: unsharded, every guild.
    shard: tuple[int, int] | None = None

    def wants(self, event: str) -> bool:
        needed = EVENT_INTENTS.get(event)
        return needed is None or bool(self.intents & needed)

    def handles(self, guild_id: int | None) -> bool:
        """Whether this session gets the events of `guild_id` (None: of no guild, e.g. a DM)."""
        if self.shard is None:
            return True
        shard_id, count = self.shard
        return shard_id == 0 if guild_id is None else guild_shard(guild_id, count) == shard_id

    async def send(self, payload: JSON) -> None:
        if self.connection is not None:
            await self.connection.send(payload)

    async def dispatch(self, event: str, data: JSON) -> None:
        """Number the event, keep it for a RESUME, and send it if a socket is attached."""
        self.seq += 1
        text = json.dumps({"op": Op.DISPATCH, "t": event, "s": self.seq, "d": data})
        self.backlog.append((self.seq, text))
        if self.connection is not None:
            await self.connection.send_text(text)

    async def replay_after(self, seq: int) -> None:
        if self.connection is None:
            return
        for number, text in list(self.backlog):
            if number > seq:
                await self.connection.send_text(text)


class GatewayHub:
    """Accepts gateway websockets and routes events to the sessions that should see them."""

    def __init__(
        self,
        applications: Callable[[], list[Application]],
        guilds: Callable[[], list[Guild]],
        on_voice_state: VoiceStateHandler,
        heartbeat_interval_ms: int = 41250,
    ) -> None:
        self._applications = applications
        self._guilds = guilds
        self._on_voice_state = on_voice_state
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, GatewaySession] = {}
        self.identified = asyncio.Event()
        self.connections = 0
        self.resumes = 0
        #: IDENTIFYs closed for their shard: (close code, the `shard` field they sent).
        self.refused_shards: list[tuple[int, Any]] = []

    # -- dispatch -------------------------------------------------------------------------------------
    async def dispatch(self, event: str, data: JSON, *, user_id: int | None = None) -> None:
        """Send an event to every session (of the bot `user_id`, if given) that asked for it and handles
        its guild."""
        guild = data.get("guild_id")
        guild_id = int(guild) if guild is not None else None
        for session in list(self.sessions.values()):
            if user_id is not None and session.application.bot.id != user_id:
                continue
            if session.wants(event) and session.handles(guild_id):
                await session.dispatch(event, data)

    def session_of(self, application: Application) -> GatewaySession | None:
        for session in self.sessions.values():
            if session.application is application:
                return session
        return None

    def shard_sessions(self, application: Application) -> dict[int | None, GatewaySession]:
        """The application's sessions by shard id (None: unsharded)."""
        return {
            None if s.shard is None else s.shard[0]: s
            for s in self.sessions.values()
            if s.application is application
        }

    # -- faults ---------------------------------------------------------------------------------------
    async def close_sockets(self, code: int = CloseCode.UNKNOWN_ERROR, message: str = "") -> int:
        """Close every live gateway socket with `code`; sessions stay resumable unless the code ends them."""
        closed = 0
        for session in list(self.sessions.values()):
            connection = session.connection
            if connection is not None and not connection.closed:
                await connection.close(code, message)
                closed += 1
        return closed

    async def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """Send INVALID_SESSION; a non-resumable one forgets the session so the bot must IDENTIFY again."""
        for session_id, session in list(self.sessions.items()):
            await session.send({"op": Op.INVALID_SESSION, "d": resumable})
            if not resumable:
                del self.sessions[session_id]

    async def request_reconnect(self) -> None:
        for session in list(self.sessions.values()):
            await session.send({"op": Op.RECONNECT, "d": None})

    # -- the websocket --------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(max_msg_size=4096 * 1024)
        await socket.prepare(request)
        self.connections += 1
        connection = GatewayConnection(socket, compress=request.query.get("compress") == "zlib-stream")
        await connection.send(
            {"op": Op.HELLO, "s": None, "t": None, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
        )
        session: GatewaySession | None = None
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                if message.type == WSMsgType.BINARY:
                    await connection.close(CloseCode.DECODE_ERROR, "binary frames are not accepted")
                break
            try:
                payload = json.loads(message.data)
                op = payload["op"]
            except (ValueError, KeyError, TypeError):
                await connection.close(CloseCode.DECODE_ERROR, "Error while decoding payload.")
                break
            session = await self._handle_op(connection, session, op, payload.get("d"))
        if session is not None and session.connection is connection:
            session.connection = None
        return socket

    async def _handle_op(
        self, connection: GatewayConnection, session: GatewaySession | None, op: int, data: Any
    ) -> GatewaySession | None:
        if op == Op.HEARTBEAT:
            await connection.send({"op": Op.HEARTBEAT_ACK, "d": None})
        elif op == Op.IDENTIFY:
            if session is not None:
                await connection.close(CloseCode.ALREADY_AUTHENTICATED, "Already authenticated.")
                return session
            return await self._identify(connection, data)
        elif op == Op.RESUME:
            return await self._resume(connection, data)
        elif session is None:
            await connection.close(CloseCode.NOT_AUTHENTICATED, "Not authenticated.")
        elif op == Op.PRESENCE:
            session.presence = data
        elif op == Op.VOICE_STATE:
            if not session.handles(int(data["guild_id"])):
                log.warning("op 4 for guild %s on a shard that does not handle it: ignored", data["guild_id"])
                return session
            channel = data.get("channel_id")
            await self._on_voice_state(
                session,
                int(data["guild_id"]),
                None if channel is None else int(channel),
                bool(data.get("self_mute")),
                bool(data.get("self_deaf")),
            )
        elif op == Op.REQUEST_MEMBERS and session.handles(int(data["guild_id"])):
            await self._send_member_chunk(session, data)
        return session

    def _application_for(self, token: str | None) -> Application | None:
        for application in self._applications():
            if token is not None and secrets.compare_digest(application.token, token):
                return application
        return None

    async def _identify(self, connection: GatewayConnection, data: JSON) -> GatewaySession | None:
        application = self._application_for(data.get("token"))
        if application is None:
            await connection.close(CloseCode.AUTHENTICATION_FAILED, "Authentication failed.")
            return None
        try:
            shard = parse_shard(data.get("shard"))
        except ValueError as exc:
            self.refused_shards.append((CloseCode.INVALID_SHARD, data.get("shard")))
            log.info("IDENTIFY refused: %s", exc)
            await connection.close(CloseCode.INVALID_SHARD, "Invalid shard.")
            return None
        session = GatewaySession(
            session_id=secrets.token_hex(16),
            application=application,
            intents=int(data.get("intents", 0)),
            connection=connection,
            presence=data.get("presence"),
            shard=shard,
        )
        guilds = [
            guild
            for guild in self._guilds()
            if application.bot.id in guild.members and session.handles(guild.id)
        ]
        if len(guilds) > application.max_guilds_per_shard:
            self.refused_shards.append((CloseCode.SHARDING_REQUIRED, data.get("shard")))
            await connection.close(CloseCode.SHARDING_REQUIRED, "Sharding required.")
            return None
        self.sessions[session.session_id] = session
        await session.dispatch(
            "READY",
            {
                "v": 10,
                "user": application.bot.payload(),
                "guilds": [{"id": str(guild.id), "unavailable": True} for guild in guilds],
                "session_id": session.session_id,
                "session_type": "normal",
                "resume_gateway_url": "wss://gateway.discord.gg",
                "application": {"id": str(application.id), "flags": 0},
                **({"shard": list(shard)} if shard is not None else {}),
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": ["sandbox"],
                "user_settings": {},
                "_trace": ["quranbot-sandbox"],
            },
        )
        for guild in guilds:
            await session.dispatch("GUILD_CREATE", guild.payload())
        self.identified.set()
        return session

    async def _resume(self, connection: GatewayConnection, data: JSON) -> GatewaySession | None:
        session = self.sessions.get(str(data.get("session_id")))
        application = self._application_for(data.get("token"))
        if session is None or application is None or session.application is not application:
            await connection.send({"op": Op.INVALID_SESSION, "d": False})
            return None
        if session.connection is not None and not session.connection.closed:
            await session.connection.close(CloseCode.UNKNOWN_ERROR, "Session resumed elsewhere.")
        session.connection = connection
        self.resumes += 1
        await session.replay_after(int(data.get("seq") or 0))
        await session.dispatch("RESUMED", {"_trace": ["quranbot-sandbox"]})
        return session

    async def _send_member_chunk(self, session: GatewaySession, data: JSON) -> None:
        guild_id = int(data["guild_id"])
        guild = next((g for g in self._guilds() if g.id == guild_id), None)
        if guild is None:
            return
        query = str(data.get("query") or "").casefold()
        wanted = {int(user_id) for user_id in data.get("user_ids") or []}
        members = [
            member
            for member in guild.members.values()
            if (not wanted or member.user.id in wanted) and member.user.username.casefold().startswith(query)
        ]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": [member.payload() for member in members],
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)
