"""The sandbox's voice server: the voice gateway (v8) and the routing of UDP audio to channel listeners.

The main gateway hands out a `VoiceGrant` (token, session) when a bot asks to join a channel; the voice
gateway admits a client that presents it, gives it an SSRC and a secret key, and from then on every
packet from that SSRC is decrypted and heard by the listener of the grant's channel.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from quranbot.sandbox.listener import ChannelListener
from quranbot.sandbox.model import JSON
from quranbot.sandbox.voice_udp import (
    SUPPORTED_MODES,
    PacketError,
    VoiceUdpEndpoint,
    decrypt_rtp,
    rtp_ssrc,
)

log = logging.getLogger(__name__)

#: The voice endpoint host handed out in VOICE_SERVER_UPDATE; the bot's resolver maps it to the sandbox.
VOICE_ENDPOINT = "sandbox.discord.media"
RECEIVER_REPORT_SECONDS = 1.0


class VoiceOp:
    IDENTIFY = 0
    SELECT_PROTOCOL = 1
    READY = 2
    HEARTBEAT = 3
    SESSION_DESCRIPTION = 4
    SPEAKING = 5
    HEARTBEAT_ACK = 6
    RESUME = 7
    HELLO = 8
    RESUMED = 9


class VoiceClose:
    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    SESSION_INVALID = 4006
    SESSION_TIMEOUT = 4009
    DISCONNECTED = 4014
    SERVER_CRASHED = 4015
    UNKNOWN_MODE = 4016
    CALL_TERMINATED = 4022


#: Close codes after which the session is gone (a new identify is needed to be heard again).
SESSION_ENDING = frozenset({VoiceClose.SESSION_INVALID, VoiceClose.DISCONNECTED, VoiceClose.CALL_TERMINATED})


@dataclass
class VoiceGrant:
    """Permission for one user to join one voice channel, as VOICE_SERVER_UPDATE announced it."""

    guild_id: int
    user_id: int
    channel_id: int
    session_id: str
    token: str = field(default_factory=lambda: secrets.token_hex(8))


@dataclass
class VoiceConnection:
    """A voice session: survives a websocket drop (for RESUME) until its grant is revoked."""

    grant: VoiceGrant
    ssrc: int
    socket: web.WebSocketResponse | None = None
    mode: str | None = None
    secret_key: bytes | None = None
    speaking: int = 0
    seq: int = 0
    heartbeats: int = 0
    #: Where the client said (SELECT_PROTOCOL) it receives voice: the sandbox sends it receiver reports.
    client_address: tuple[str, int] | None = None

    async def send(self, op: int, data: Any) -> None:
        self.seq += 1
        if self.socket is not None and not self.socket.closed:
            try:
                await self.socket.send_str(json.dumps({"op": op, "seq": self.seq, "d": data}))
            except (ConnectionResetError, RuntimeError):
                log.debug("voice send to a closing socket dropped")


class VoiceServer:
    """Voice gateway sessions, the UDP endpoint, and a listener per voice channel."""

    def __init__(self, heartbeat_interval_ms: int = 13750) -> None:
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.grants: dict[tuple[int, int], VoiceGrant] = {}
        self.connections: dict[int, VoiceConnection] = {}
        self.listeners: dict[int, ChannelListener] = {}
        self.udp = VoiceUdpEndpoint(self._on_audio)
        self.rejected_packets = 0
        self._ssrcs = itertools.count(1001)
        self._reports: asyncio.Task[None] | None = None

    async def start(self, host: str) -> None:
        await self.udp.start(host)
        self._reports = asyncio.create_task(self._send_receiver_reports(), name="sandbox RTCP")

    def close(self) -> None:
        if self._reports is not None:
            self._reports.cancel()
        self.udp.close()

    async def _send_receiver_reports(self) -> None:
        """Every second, a small RTCP receiver report to each client, as Discord's voice servers send
        traffic to clients. discord.py's socket reader depends on incoming packets to notice that its
        socket was replaced after a reconnect; a server that never sends would leave it stuck."""
        while True:
            await asyncio.sleep(RECEIVER_REPORT_SECONDS)
            if not self.udp.running or not self.udp.answering:
                continue
            for connection in list(self.connections.values()):
                if connection.client_address is not None:
                    self.udp.sendto(
                        struct.pack(">BBHI", 0x80, 201, 1, connection.ssrc), connection.client_address
                    )

    # -- grants (from the main gateway) -----------------------------------------------------------------
    def grant(self, guild_id: int, user_id: int, channel_id: int, session_id: str) -> VoiceGrant:
        grant = VoiceGrant(guild_id=guild_id, user_id=user_id, channel_id=channel_id, session_id=session_id)
        self.grants[(guild_id, user_id)] = grant
        return grant

    def revoke(self, guild_id: int, user_id: int) -> None:
        """The user left voice: its sessions end (the client closes its own socket)."""
        self.grants.pop((guild_id, user_id), None)
        self._forget_connections(guild_id, user_id)

    def _forget_connections(self, guild_id: int, user_id: int) -> None:
        for ssrc, connection in list(self.connections.items()):
            if connection.grant.guild_id == guild_id and connection.grant.user_id == user_id:
                del self.connections[ssrc]

    def listener(self, channel_id: int) -> ChannelListener:
        listener = self.listeners.get(channel_id)
        if listener is None:
            listener = self.listeners[channel_id] = ChannelListener(channel_id)
        return listener

    def reset_listener(self, channel_id: int) -> ChannelListener:
        """Start a fresh listener for the channel (counters from zero)."""
        old = self.listeners.pop(channel_id, None)
        if old is not None:
            old.stop_recording()
        return self.listener(channel_id)

    def connection_for(self, guild_id: int, user_id: int) -> VoiceConnection | None:
        for connection in self.connections.values():
            if connection.grant.guild_id == guild_id and connection.grant.user_id == user_id:
                return connection
        return None

    # -- faults -----------------------------------------------------------------------------------------
    async def close_socket(self, guild_id: int, user_id: int, code: int) -> bool:
        """Close the user's voice websocket with `code`. 4006 (session invalid), 4014 (disconnected) and
        4022 (call terminated) also end the session, as Discord does: its UDP audio reaches nobody until
        the client joins again; after 4015 (server crashed) the client resumes the same session."""
        connection = self.connection_for(guild_id, user_id)
        if connection is None or connection.socket is None or connection.socket.closed:
            return False
        socket = connection.socket
        if code in SESSION_ENDING:
            self.connections.pop(connection.ssrc, None)
        await socket.close(code=code)
        return True

    # -- UDP --------------------------------------------------------------------------------------------
    def _on_audio(self, datagram: bytes, arrived: float) -> None:
        try:
            connection = self.connections.get(rtp_ssrc(datagram))
            if connection is None or connection.secret_key is None or connection.mode is None:
                raise PacketError("packet for no session")
            packet = decrypt_rtp(datagram, connection.mode, connection.secret_key)
        except PacketError as exc:
            self.rejected_packets += 1
            log.debug("voice packet rejected: %s", exc)
            return
        self.listener(connection.grant.channel_id).receive(
            packet.ssrc, packet.sequence, packet.timestamp, packet.payload, arrived
        )

    # -- the voice websocket ----------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(max_msg_size=1024 * 1024)
        await socket.prepare(request)
        await socket.send_str(
            json.dumps({"op": VoiceOp.HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms, "v": 8}})
        )
        connection: VoiceConnection | None = None
        async for message in socket:
            if message.type == WSMsgType.BINARY:
                continue  # DAVE/MLS frames: the sandbox negotiates DAVE version 0, so none are expected
            if message.type != WSMsgType.TEXT:
                break
            try:
                payload = json.loads(message.data)
                op, data = payload["op"], payload.get("d")
            except (ValueError, KeyError, TypeError):
                await socket.close(code=VoiceClose.DECODE_ERROR)
                break
            connection = await self._handle_op(socket, connection, op, data)
        if connection is not None and connection.socket is socket:
            connection.socket = None
        return socket

    async def _handle_op(
        self, socket: web.WebSocketResponse, connection: VoiceConnection | None, op: int, data: Any
    ) -> VoiceConnection | None:
        if op == VoiceOp.HEARTBEAT:
            if connection is not None:
                connection.heartbeats += 1
            nonce = data.get("t") if isinstance(data, dict) else data
            await socket.send_str(json.dumps({"op": VoiceOp.HEARTBEAT_ACK, "d": {"t": nonce}}))
        elif op == VoiceOp.IDENTIFY:
            return await self._identify(socket, data)
        elif op == VoiceOp.RESUME:
            return await self._resume(socket, data)
        elif connection is None:
            await socket.close(code=VoiceClose.NOT_AUTHENTICATED)
        elif op == VoiceOp.SELECT_PROTOCOL:
            await self._select_protocol(socket, connection, data)
        elif op == VoiceOp.SPEAKING:
            connection.speaking = int(data.get("speaking", 0))
        return connection

    def _grant_for(self, data: JSON) -> VoiceGrant | None:
        try:
            grant = self.grants.get((int(data["server_id"]), int(data.get("user_id") or 0)))
        except (KeyError, TypeError, ValueError):
            return None
        if grant is None or grant.session_id != data.get("session_id"):
            return None
        if not secrets.compare_digest(grant.token, str(data.get("token"))):
            return None
        return grant

    async def _identify(self, socket: web.WebSocketResponse, data: JSON) -> VoiceConnection | None:
        grant = self._grant_for(data)
        if grant is None:
            await socket.close(code=VoiceClose.AUTHENTICATION_FAILED)
            return None
        self._forget_connections(grant.guild_id, grant.user_id)  # a new IDENTIFY replaces the old session
        connection = VoiceConnection(grant=grant, ssrc=next(self._ssrcs), socket=socket)
        self.connections[connection.ssrc] = connection
        await connection.send(
            VoiceOp.READY,
            {
                "ssrc": connection.ssrc,
                "ip": "127.0.0.1",
                "port": self.udp.port,
                "modes": list(SUPPORTED_MODES),
                "heartbeat_interval": self.heartbeat_interval_ms,
                "experiments": [],
            },
        )
        return connection

    async def _resume(self, socket: web.WebSocketResponse, data: JSON) -> VoiceConnection | None:
        connection = next(
            (
                c
                for c in self.connections.values()
                if str(c.grant.guild_id) == str(data.get("server_id"))
                and c.grant.session_id == data.get("session_id")
                and secrets.compare_digest(c.grant.token, str(data.get("token")))
            ),
            None,
        )
        if connection is None:
            await socket.close(code=VoiceClose.SESSION_INVALID)
            return None
        connection.socket = socket
        await connection.send(VoiceOp.RESUMED, None)
        return connection

    async def _select_protocol(
        self, socket: web.WebSocketResponse, connection: VoiceConnection, data: JSON
    ) -> None:
        mode = (data.get("data") or {}).get("mode")
        if mode not in SUPPORTED_MODES:
            await socket.close(code=VoiceClose.UNKNOWN_MODE)
            return
        connection.mode = mode
        connection.secret_key = secrets.token_bytes(32)
        address = (data.get("data") or {}).get("address")
        port = (data.get("data") or {}).get("port")
        if isinstance(address, str) and isinstance(port, int):
            connection.client_address = (address, port)
        await connection.send(
            VoiceOp.SESSION_DESCRIPTION,
            {
                "mode": mode,
                "secret_key": list(connection.secret_key),
                "dave_protocol_version": 0,
                "audio_codec": "opus",
                "video_codec": None,
                "media_session_id": secrets.token_hex(16),
            },
        )
