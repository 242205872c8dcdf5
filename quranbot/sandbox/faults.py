"""Faults on demand: what a flaky Discord does to a bot, made to happen when a test says so."""

from __future__ import annotations

import secrets

from quranbot.sandbox.gateway import CloseCode, GatewayHub
from quranbot.sandbox.model import JSON, Guild
from quranbot.sandbox.rest import RestApi, RestFault
from quranbot.sandbox.voice_gateway import VOICE_ENDPOINT, VoiceServer
from quranbot.sandbox.world import World


class Faults:
    """Break the gateway, the voice connection, UDP or REST routes of a running sandbox."""

    def __init__(self, world: World, gateway: GatewayHub, voice: VoiceServer, rest: RestApi) -> None:
        self._world = world
        self._gateway = gateway
        self._voice = voice
        self._rest = rest

    # -- gateway --------------------------------------------------------------------------------------
    async def drop_gateway(self, code: int = CloseCode.UNKNOWN_ERROR) -> int:
        """Close the gateway socket(s); with a resumable code the bot should RESUME. Returns how many."""
        return await self._gateway.close_sockets(code, "sandbox fault")

    async def reject_token(self) -> int:
        """Close the gateway with 4004 (authentication failed), as Discord does for a revoked token."""
        return await self._gateway.close_sockets(CloseCode.AUTHENTICATION_FAILED, "Authentication failed.")

    async def invalidate_session(self, resumable: bool = False) -> None:
        await self._gateway.invalidate_sessions(resumable=resumable)

    async def request_reconnect(self) -> None:
        await self._gateway.request_reconnect()

    # -- voice ----------------------------------------------------------------------------------------
    async def close_voice(self, guild: Guild, code: int, user_id: int | None = None) -> bool:
        """Close the bot's voice websocket with `code` (4006, 4014, 4015, 4022, ...)."""
        return await self._voice.close_socket(guild.id, user_id or self._bot_id(), code)

    async def kick_from_voice(self, guild: Guild, user_id: int | None = None) -> None:
        """A moderator disconnects the bot: voice state cleared, voice socket closed with 4014."""
        user_id = user_id or self._bot_id()
        state = guild.voice_states.get(user_id)
        session = state.session_id if state else secrets.token_hex(16)
        await self._world.set_voice_state(guild, user_id, None, session)
        await self._voice.close_socket(guild.id, user_id, 4014)
        self._voice.revoke(guild.id, user_id)

    async def move_voice(self, guild: Guild, channel_id: int, user_id: int | None = None) -> None:
        """A moderator drags the bot to another voice channel: new state, new voice server."""
        user_id = user_id or self._bot_id()
        state = guild.voice_states.get(user_id)
        session = state.session_id if state else secrets.token_hex(16)
        await self._world.set_voice_state(guild, user_id, channel_id, session)
        grant = self._voice.grant(guild.id, user_id, channel_id, session)
        await self._gateway.dispatch(
            "VOICE_SERVER_UPDATE", voice_server_update(grant.token, guild.id), user_id=user_id
        )

    def stop_udp(self) -> None:
        """Stop answering UDP: discovery goes unanswered and audio is dropped unheard."""
        self._voice.udp.answering = False

    def resume_udp(self) -> None:
        self._voice.udp.answering = True

    # -- REST -----------------------------------------------------------------------------------------
    def fail_rest(
        self, method: str, route: str, status: int = 429, *, times: int = 1, retry_after: float = 0.1
    ) -> RestFault:
        """Make `method route` (e.g. `POST`, `/channels/{channel_id}/messages`; `*`: any) answer `status`."""
        fault = RestFault(method=method, route=route, status=status, times=times, retry_after=retry_after)
        self._rest.faults.append(fault)
        return fault

    def refuse_command(
        self, name: str, field: str = "description", reason: str = "Must be 100 or fewer in length."
    ) -> None:
        """Every bulk overwrite of the commands is refused (400, 50035) while it holds `/name`, with
        `reason` about its `field`, as Discord refuses a command it finds invalid; `allow_commands()`
        lifts it."""
        self._rest.refused_commands[name] = (field, reason)

    def allow_commands(self) -> None:
        self._rest.refused_commands.clear()

    def _bot_id(self) -> int:
        return self._world.applications[0].bot.id


def voice_server_update(token: str, guild_id: int) -> JSON:
    return {"token": token, "guild_id": str(guild_id), "endpoint": VOICE_ENDPOINT}
