"""The sandbox's model of Discord: guilds, channels, roles, members, voice states and messages.

Each record knows how to render itself as the JSON payload Discord would send, so the REST and gateway
layers stay thin. Permissions are computed from roles only (no per-channel overwrites): enough for a bot
that checks "Manage Server" or a controller role.
"""

from __future__ import annotations

import base64
import datetime
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000


class Permission:
    """The permission bits the sandbox cares about (Discord's values)."""

    CREATE_INSTANT_INVITE = 1 << 0
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    READ_MESSAGE_HISTORY = 1 << 16
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    MOVE_MEMBERS = 1 << 24
    USE_VAD = 1 << 25
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    ALL = (1 << 53) - 1

    EVERYONE_DEFAULT = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | READ_MESSAGE_HISTORY
        | CONNECT
        | SPEAK
        | USE_VAD
        | USE_APPLICATION_COMMANDS
    )


class ChannelType:
    TEXT = 0
    VOICE = 2


class SnowflakeFactory:
    """Discord-shaped ids: milliseconds since Discord's epoch in the high bits, a counter below."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def __call__(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)

    def on_shard(self, shard: int, shard_count: int) -> int:
        """An id that shard `shard` of `shard_count` owns (`(id >> 22) % shard_count`, Discord's rule):
        its time stamp moved back by less than `shard_count` milliseconds."""
        if not 0 <= shard < shard_count:
            raise ValueError(f"shard {shard} is not one of {shard_count}")
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        ms -= (ms - shard) % shard_count
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


def iso_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


@dataclass
class Channel:
    id: int
    guild_id: int
    name: str
    type: int
    position: int = 0

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "guild_id": str(self.guild_id),
            "name": self.name,
            "type": self.type,
            "position": self.position,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "flags": 0,
        }
        if self.type == ChannelType.VOICE:
            data.update(bitrate=64000, user_limit=0, rtc_region=None, rate_limit_per_user=0)
        else:
            data.update(topic=None, last_message_id=None, rate_limit_per_user=0)
        return data


@dataclass
class Member:
    user: User
    roles: list[int] = field(default_factory=list)
    joined_at: str = field(default_factory=iso_now)
    nick: str | None = None

    def payload(self) -> JSON:
        return {
            "user": self.user.payload(),
            "roles": [str(role) for role in self.roles],
            "joined_at": self.joined_at,
            "nick": self.nick,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "avatar": None,
            "premium_since": None,
            "communication_disabled_until": None,
        }


@dataclass
class VoiceState:
    user_id: int
    channel_id: int | None
    session_id: str
    self_mute: bool = False
    self_deaf: bool = False


@dataclass
class Message:
    """A message as the sandbox stores it: its current payload and every earlier version."""

    id: int
    channel_id: int
    payload: JSON
    history: list[JSON] = field(default_factory=list)
    deleted: bool = False
    reactions: dict[str, set[int]] = field(default_factory=dict)

    @property
    def content(self) -> str:
        return str(self.payload.get("content") or "")

    @property
    def embeds(self) -> list[JSON]:
        return list(self.payload.get("embeds") or [])

    @property
    def components(self) -> list[JSON]:
        return list(self.payload.get("components") or [])

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.payload.get("flags") or 0) & 64)

    def find_component(self, custom_id: str) -> JSON | None:
        """The button or select with this custom_id, searched through rows and containers."""
        stack = list(self.components)
        while stack:
            component = stack.pop()
            if component.get("custom_id") == custom_id:
                return component
            stack.extend(component.get("components") or [])
            if isinstance(component.get("component"), dict):
                stack.append(component["component"])
        return None


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    voice_states: dict[int, VoiceState] = field(default_factory=dict)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def channel_named(self, name: str) -> Channel:
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        raise KeyError(f"guild {self.name!r} has no channel named {name!r}")

    def role_named(self, name: str) -> Role:
        for role in self.roles.values():
            if role.name == name:
                return role
        raise KeyError(f"guild {self.name!r} has no role named {name!r}")

    def member_named(self, username: str) -> Member:
        for member in self.members.values():
            if member.user.username == username:
                return member
        raise KeyError(f"guild {self.name!r} has no member named {username!r}")

    def permissions_of(self, user_id: int) -> int:
        """Guild-level permissions: @everyone plus the member's roles; owner and admins get all."""
        if user_id == self.owner_id:
            return Permission.ALL
        member = self.members[user_id]
        value = self.everyone.permissions
        for role_id in member.roles:
            role = self.roles.get(role_id)
            if role is not None:
                value |= role.permissions
        return Permission.ALL if value & Permission.ADMINISTRATOR else value

    def top_role_position(self, user_id: int) -> int:
        """Where the member's highest role sits: Discord lets a member manage only the roles below it."""
        member = self.members[user_id]
        return max((self.roles[r].position for r in member.roles if r in self.roles), default=0)

    def voice_members(self, channel_id: int) -> list[int]:
        return [state.user_id for state in self.voice_states.values() if state.channel_id == channel_id]

    def voice_state_payload(self, state: VoiceState) -> JSON:
        return {
            "guild_id": str(self.id),
            "channel_id": None if state.channel_id is None else str(state.channel_id),
            "user_id": str(state.user_id),
            "session_id": state.session_id,
            "deaf": False,
            "mute": False,
            "self_deaf": state.self_deaf,
            "self_mute": state.self_mute,
            "self_video": False,
            "self_stream": False,
            "suppress": False,
            "request_to_speak_timestamp": None,
            "member": self.members[state.user_id].payload(),
        }

    def payload(self) -> JSON:
        """The GUILD_CREATE payload: everything a bot learns about the guild when it connects."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "vanity_url_code": None,
            "max_members": 500000,
            "features": [],
            "roles": [role.payload() for role in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "channels": [channel.payload() for channel in self.channels.values()],
            "threads": [],
            "members": [member.payload() for member in self.members.values()],
            "member_count": len(self.members),
            "voice_states": [
                self.voice_state_payload(state)
                for state in self.voice_states.values()
                if state.channel_id is not None
            ],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "large": False,
            "unavailable": False,
            "joined_at": iso_now(),
            "lazy": True,
        }


@dataclass
class Application:
    """The bot's application: its user, its token and the commands it registered."""

    id: int
    name: str
    bot: User
    token: str
    global_commands: list[JSON] = field(default_factory=list)
    guild_commands: dict[int, list[JSON]] = field(default_factory=dict)
    #: A gateway session may hold at most this many guilds, else IDENTIFY is closed with 4011 "sharding
    #: required" (Discord: 2,500); lower it to test sharding with a few guilds.
    max_guilds_per_shard: int = 2500
    #: GET /gateway/bot recommends one shard per this many guilds (Discord: 1,000).
    guilds_per_recommended_shard: int = 1000

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "description": "QuranBot sandbox application",
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "bot": self.bot.payload(),
            "terms_of_service_url": None,
            "privacy_policy_url": None,
            "owner": {"id": "1", "username": "sandbox-owner", "discriminator": "0", "avatar": None},
            "summary": "",
            "verify_key": "0" * 64,
            "team": None,
            "guild_id": None,
            "primary_sku_id": None,
            "slug": None,
            "cover_image": None,
            "flags": 0,
            "approximate_guild_count": 1,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "tags": [],
            "install_params": None,
            "custom_install_url": None,
            "integration_types_config": {},
        }

    def commands_for(self, guild_id: int | None) -> list[JSON]:
        """Commands usable in a guild: its own, then global ones."""
        own = self.guild_commands.get(guild_id, []) if guild_id is not None else []
        return [*own, *self.global_commands]


@dataclass
class Webhook:
    """A channel's incoming webhook: whoever holds its URL posts in the channel as it (no bot token)."""

    id: int
    token: str
    guild_id: int
    channel_id: int
    name: str
    #: Deleted webhooks are kept, so a test can count what was still sent to them.
    deleted: bool = False
    #: Execute requests it received (any answer, 401s and 404s included).
    requests: int = 0

    @property
    def url(self) -> str:
        """The URL Discord shows under Integrations → Webhooks; the sandbox answers for discord.com."""
        return f"https://discord.com/api/webhooks/{self.id}/{self.token}"

    @property
    def user(self) -> User:
        """What its messages show as the author: the webhook's own name, a bot without a member."""
        return User(id=self.id, username=self.name, bot=True)

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "type": 1,
            "guild_id": str(self.guild_id),
            "channel_id": str(self.channel_id),
            "name": self.name,
            "avatar": None,
            "token": self.token,
            "application_id": None,
        }


def new_webhook_token() -> str:
    """68 URL-safe characters, as Discord's webhook tokens are."""
    return secrets.token_urlsafe(51)


def new_token(application_id: int) -> str:
    """A token shaped like Discord's (id.timestamp.hmac), random each time."""
    head = base64.urlsafe_b64encode(str(application_id).encode()).decode().rstrip("=")
    return f"{head}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(27)}"
