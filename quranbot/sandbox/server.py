"""`Sandbox`: a local Discord on loopback, started in-process by a test or the demo.

It serves REST, the gateway and the voice gateway over TLS on one port (told apart by the Host header,
as Discord's own hosts are) and voice over UDP, and offers a scripting API: members join voice, run
slash commands, press buttons, submit modals; and every message the bot made can be read back.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from quranbot.sandbox.connector import sandbox_connector
from quranbot.sandbox.defaults import populate_default
from quranbot.sandbox.faults import Faults, voice_server_update
from quranbot.sandbox.gateway import GatewayHub, GatewaySession
from quranbot.sandbox.interactions import (
    InteractionRecord,
    InteractionType,
    command_data,
    component_data,
    find_command,
    modal_submit_data,
)
from quranbot.sandbox.listener import ChannelListener
from quranbot.sandbox.model import JSON, Channel, ChannelType, Guild, Member, Message, Webhook
from quranbot.sandbox.rest import RestApi
from quranbot.sandbox.tls import Certificate, create_certificate
from quranbot.sandbox.voice_gateway import VOICE_ENDPOINT, VoiceServer
from quranbot.sandbox.world import World


class Sandbox:
    """A running local Discord. Use as `async with Sandbox(directory) as sandbox: ...`."""

    def __init__(
        self, directory: Path, host: str = "127.0.0.1", port: int = 0, token: str | None = None
    ) -> None:
        self.directory = directory
        self.host = host
        self._requested_port = port
        self.world = World(self._dispatch)
        self.default = populate_default(self.world, token=token)
        self.gateway = GatewayHub(
            applications=lambda: self.world.applications,
            guilds=lambda: list(self.world.guilds.values()),
            on_voice_state=self._on_voice_state,
        )
        self.voice = VoiceServer()
        self.rest = RestApi(self.world)
        self.faults = Faults(self.world, self.gateway, self.voice, self.rest)
        self.certificate: Certificate | None = None
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._voice_changed = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> Sandbox:
        self.certificate = create_certificate(self.directory)
        app = web.Application(middlewares=[self.rest.middleware], client_max_size=8 * 1024 * 1024)
        app.router.add_routes(self.rest.routes())
        app.router.add_get("/", self._websocket)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.host, self._requested_port, ssl_context=self.certificate.server_context()
        )
        await site.start()
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await self.voice.start(self.host)
        self._write_address()
        return self

    async def stop(self) -> None:
        await self.gateway.close_sockets(1001, "sandbox stopping")
        self.voice.close()
        for listener in self.voice.listeners.values():
            listener.stop_recording()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def token(self) -> str:
        return self.default.application.token

    @property
    def cert_file(self) -> Path:
        assert self.certificate is not None, "start the sandbox first"
        return self.certificate.cert_file

    def connector(self, **kwargs: Any) -> aiohttp.TCPConnector:
        """The connector a bot passes to `discord.Client(connector=...)` to reach this sandbox."""
        return sandbox_connector(self.host, self.port, self.cert_file, **kwargs)

    def _write_address(self) -> None:
        """Leave the address, certificate and token where a bot in another process can find them."""
        info = {
            "url": self.url,
            "host": self.host,
            "port": self.port,
            "cert_file": str(self.cert_file),
            "guild_id": str(self.default.guild.id),
            "voice_channel_id": str(self.default.voice.id),
        }
        (self.directory / "sandbox.json").write_text(json.dumps(info, indent=2) + "\n")
        token_file = self.directory / "token"
        token_file.touch(mode=0o600)
        token_file.write_text(self.token + "\n")

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        host = request.headers.get("Host", "").split(":")[0]
        if host.endswith(VOICE_ENDPOINT):
            return await self.voice.handle(request)
        return await self.gateway.handle(request)

    async def _dispatch(self, event: str, data: JSON, user_id: int | None) -> None:
        await self.gateway.dispatch(event, data, user_id=user_id)
        if event == "VOICE_STATE_UPDATE":
            self._voice_changed.set()

    async def _on_voice_state(
        self, session: GatewaySession, guild_id: int, channel_id: int | None, self_mute: bool, self_deaf: bool
    ) -> None:
        """A bot's op 4: join, move or leave a voice channel, as Discord answers it."""
        guild = self.world.guilds.get(guild_id)
        bot_id = session.application.bot.id
        if guild is None or bot_id not in guild.members:
            return
        if channel_id is None:
            self.voice.revoke(guild_id, bot_id)
            await self.world.set_voice_state(guild, bot_id, None, session.session_id)
            return
        await self.world.set_voice_state(
            guild, bot_id, channel_id, session.session_id, self_mute=self_mute, self_deaf=self_deaf
        )
        grant = self.voice.grant(guild_id, bot_id, channel_id, session.session_id)
        await self.gateway.dispatch(
            "VOICE_SERVER_UPDATE", voice_server_update(grant.token, guild_id), user_id=bot_id
        )

    # -- reading what happened ------------------------------------------------------------------------
    def listener(self, channel: Channel) -> ChannelListener:
        """What the voice channel hears (created on first use)."""
        return self.voice.listener(channel.id)

    def messages(self, channel: Channel, *, include_ephemeral: bool = True) -> list[Message]:
        """Messages in a text channel, oldest first (ephemeral replies included unless asked not to)."""
        return self.world.channel_messages(channel.id, include_ephemeral=include_ephemeral)

    def presence(self) -> JSON | None:
        """The bot's latest presence update (op 3), or the one it identified with."""
        session = self.gateway.session_of(self.default.application)
        return None if session is None else session.presence

    def in_voice(self, guild: Guild, user_id: int) -> int | None:
        state = guild.voice_states.get(user_id)
        return None if state is None else state.channel_id

    def speaking(self, guild: Guild, user_id: int) -> int | None:
        """The speaking flags (op 5) the user's current voice session last sent: 1 (microphone) while it
        sends audio that clients should show, 0 if it never said or said it stopped; None with no
        session. A new session (after 4006, a move, a rejoin) starts at 0."""
        connection = self.voice.connection_for(guild.id, user_id)
        return None if connection is None else connection.speaking

    async def wait_for_voice(
        self, guild: Guild, user_id: int, channel_id: int | None, timeout: float = 10.0
    ) -> None:
        """Wait until `user_id` is in `channel_id` (None: out of voice) in `guild`."""
        async with asyncio.timeout(timeout):
            while self.in_voice(guild, user_id) != channel_id:
                self._voice_changed.clear()
                await self._voice_changed.wait()

    async def wait_for_ready(self, timeout: float = 10.0) -> None:
        """Wait until a bot has identified on the gateway."""
        async with asyncio.timeout(timeout):
            await self.gateway.identified.wait()

    # -- scripting members ----------------------------------------------------------------------------
    async def join_voice(self, member: Member, channel: Channel) -> None:
        guild, _ = self.world.channel(channel.id)
        if channel.type != ChannelType.VOICE:
            raise ValueError(f"#{channel.name} is not a voice channel")
        await self.world.set_voice_state(guild, member.user.id, channel.id, secrets.token_hex(16))

    async def set_deafened(self, member: Member, guild: Guild, deafened: bool = True) -> None:
        """The member (in a voice channel) deafens or undeafens themself."""
        state = guild.voice_states[member.user.id]
        await self.world.set_voice_state(
            guild, member.user.id, state.channel_id, state.session_id, self_deaf=deafened
        )

    async def leave_voice(self, member: Member, guild: Guild) -> None:
        state = guild.voice_states.get(member.user.id)
        if state is not None:
            await self.world.set_voice_state(guild, member.user.id, None, state.session_id)

    async def add_members(
        self, count: int, prefix: str = "member", guild: Guild | None = None
    ) -> list[Member]:
        """`count` new human members of the guild (the default one unless given), e.g. a crowd that
        presses the same button."""
        guild = guild or self.default.guild
        return [
            await self.world.add_member(guild, self.world.new_user(f"{prefix}{index}"))
            for index in range(1, count + 1)
        ]

    async def create_webhook(self, channel: Channel, name: str = "QuranBot alerts") -> Webhook:
        """An admin creates an incoming webhook for a text channel; `.url` is the URL Discord shows.
        What is posted through it appears in the channel with `webhook_id` set."""
        return await self.world.create_webhook(channel, name)

    async def delete_webhook(self, webhook: Webhook) -> None:
        """An admin deletes the webhook: its URL answers 404 Unknown Webhook (10015) from then on."""
        await self.world.delete_webhook(webhook)

    async def say(self, member: Member, channel: Channel, content: str) -> Message:
        """A member posts a message (MESSAGE_CREATE reaches the bot)."""
        return await self.world.create_message(channel.id, member.user, {"content": content})

    async def run_command(
        self, member: Member, channel: Channel, name: str, /, **options: Any
    ) -> InteractionRecord:
        """A member runs `/name option=value ...`; returns the interaction to await the bot's answer."""
        guild, _ = self.world.channel(channel.id)
        command = find_command(self.default.application, guild, name)
        data = command_data(guild, command, options)
        return await self._interact(InteractionType.APPLICATION_COMMAND, member, channel, data)

    async def autocomplete(
        self, member: Member, channel: Channel, name: str, focused: str, /, **options: Any
    ) -> InteractionRecord:
        """A member types into option `focused` of `/name`; `.wait()` then `.choices` give the suggestions."""
        guild, _ = self.world.channel(channel.id)
        command = find_command(self.default.application, guild, name)
        data = command_data(guild, command, options, focused=focused)
        return await self._interact(InteractionType.AUTOCOMPLETE, member, channel, data)

    async def press(self, member: Member, message: Message, custom_id: str) -> InteractionRecord:
        """A member presses the button `custom_id` on a message the bot posted."""
        _, channel = self.world.channel(message.channel_id)
        data = component_data(message, custom_id)
        return await self._interact(InteractionType.MESSAGE_COMPONENT, member, channel, data, message)

    async def select(
        self, member: Member, message: Message, custom_id: str, values: list[str]
    ) -> InteractionRecord:
        """A member picks `values` in the select menu `custom_id`."""
        _, channel = self.world.channel(message.channel_id)
        data = component_data(message, custom_id, values)
        return await self._interact(InteractionType.MESSAGE_COMPONENT, member, channel, data, message)

    async def submit_modal(
        self, member: Member, opened_by: InteractionRecord, values: dict[str, str]
    ) -> InteractionRecord:
        """A member fills in and submits the modal the bot opened in answer to `opened_by`."""
        if opened_by.response_type != 9:
            raise ValueError("the bot did not answer that interaction with a modal")
        data = modal_submit_data(opened_by.response_data, values)
        return await self._interact(
            InteractionType.MODAL_SUBMIT, member, opened_by.channel, data, opened_by.message
        )

    async def _interact(
        self, kind: int, member: Member, channel: Channel, data: JSON, message: Message | None = None
    ) -> InteractionRecord:
        guild, _ = self.world.channel(channel.id)
        application = self.default.application
        record = InteractionRecord.create(
            self.world.snowflake(), application, kind, guild, channel, member, data, message
        )
        self.world.interactions[record.id] = record
        await self.gateway.dispatch("INTERACTION_CREATE", record.payload(), user_id=application.bot.id)
        return record
