"""The sandbox's main gateway: HELLO, IDENTIFY, heartbeats, READY, GUILD_CREATE, RESUME and dispatch.

One `GatewaySession` outlives its websocket: when the socket drops, events keep collecting in the
session's backlog so that a RESUME replays exactly what the bot missed, as Discord does.
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

    def wants(self, event: str) -> bool:
        needed = EVENT_INTENTS.get(event)
        return needed is None or bool(self.intents & needed)

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

    # -- dispatch -------------------------------------------------------------------------------------
    async def dispatch(self, event: str, data: JSON, *, user_id: int | None = None) -> None:
        """Send an event to every session (of the bot `user_id`, if given) that asked for it."""
        for session in list(self.sessions.values()):
            if user_id is not None and session.application.bot.id != user_id:
                continue
            if session.wants(event):
                await session.dispatch(event, data)

    def session_of(self, application: Application) -> GatewaySession | None:
        for session in self.sessions.values():
            if session.application is application:
                return session
        return None

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
            channel = data.get("channel_id")
            await self._on_voice_state(
                session,
                int(data["guild_id"]),
                None if channel is None else int(channel),
                bool(data.get("self_mute")),
                bool(data.get("self_deaf")),
            )
        elif op == Op.REQUEST_MEMBERS:
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
        session = GatewaySession(
            session_id=secrets.token_hex(16),
            application=application,
            intents=int(data.get("intents", 0)),
            connection=connection,
            presence=data.get("presence"),
        )
        self.sessions[session.session_id] = session
        guilds = [guild for guild in self._guilds() if application.bot.id in guild.members]
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
