"""Everything the sandbox's Discord knows, and the changes to it that the bot must hear about.

Every change that Discord would announce (a message posted, a role added, a member joining voice) goes
through a `World` method that updates the model and dispatches the matching gateway event.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from quranbot.sandbox.interactions import InteractionRecord
from quranbot.sandbox.limits import check_message
from quranbot.sandbox.model import (
    JSON,
    Application,
    Channel,
    ChannelType,
    Guild,
    Member,
    Message,
    Permission,
    Role,
    SnowflakeFactory,
    User,
    VoiceState,
    Webhook,
    iso_now,
    new_token,
    new_webhook_token,
)

#: (event name, payload, only to this bot user or None for all) -> None
Dispatch = Callable[[str, JSON, int | None], Awaitable[None]]

#: Mentions in a message's content: users (<@id>, <@!id>), roles (<@&id>) and @everyone/@here.
USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
EVERYONE_MENTION = re.compile(r"@(?:everyone|here)\b")

#: Message fields a bot may set when it creates or edits a message.
MESSAGE_FIELDS = ("content", "embeds", "components", "flags", "tts", "attachments", "poll")


class NotFound(LookupError):
    """An id that names nothing; the REST layer answers it with Discord's JSON error code."""

    def __init__(self, what: str, code: int) -> None:
        super().__init__(f"Unknown {what}")
        self.code = code


class World:
    """Applications, guilds, messages and interactions, and the events their changes produce."""

    def __init__(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch
        self.snowflake = SnowflakeFactory()
        self.applications: list[Application] = []
        self.guilds: dict[int, Guild] = {}
        self.messages: dict[int, Message] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        #: Incoming webhooks by id, deleted ones included (marked).
        self.webhooks: dict[int, Webhook] = {}
        #: Every bulk overwrite of commands Discord accepted, as sent (a test reads the localisations).
        self.command_syncs: list[list[JSON]] = []

    # -- building -------------------------------------------------------------------------------------
    def add_application(self, name: str = "QuranBot", token: str | None = None) -> Application:
        app_id = self.snowflake()
        bot = User(id=app_id, username=name, bot=True)
        application = Application(id=app_id, name=name, bot=bot, token=token or new_token(app_id))
        self.applications.append(application)
        return application

    def add_guild(self, name: str, owner: User, *, shard: tuple[int, int] | None = None) -> Guild:
        """A guild; with `shard=(id, count)` its id is one that shard owns (to script sharded bots)."""
        guild_id = self.snowflake() if shard is None else self.snowflake.on_shard(*shard)
        guild = Guild(id=guild_id, name=name, owner_id=owner.id)
        guild.roles[guild_id] = Role(id=guild_id, name="@everyone", permissions=Permission.EVERYONE_DEFAULT)
        guild.members[owner.id] = Member(user=owner)
        self.guilds[guild_id] = guild
        return guild

    def add_channel(self, guild: Guild, name: str, type: int = ChannelType.TEXT) -> Channel:
        channel = Channel(
            id=self.snowflake(), guild_id=guild.id, name=name, type=type, position=len(guild.channels)
        )
        guild.channels[channel.id] = channel
        return channel

    def add_role(self, guild: Guild, name: str, permissions: int = 0, position: int | None = None) -> Role:
        """A role at `position` (default: above every other; @everyone is 0)."""
        role = Role(
            id=self.snowflake(),
            name=name,
            permissions=permissions,
            position=len(guild.roles) if position is None else position,
        )
        guild.roles[role.id] = role
        return role

    async def create_role(
        self, guild: Guild, name: str, permissions: int = 0, position: int | None = None
    ) -> Role:
        """An admin creates a role while the bot is connected; the bot is told."""
        role = self.add_role(guild, name, permissions, position)
        await self._dispatch("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.payload()}, None)
        return role

    async def update_role(
        self, guild: Guild, role: Role, *, permissions: int | None = None, position: int | None = None
    ) -> None:
        """An admin edits a role (its permissions, or drags it in the list); the bot is told."""
        if permissions is not None:
            role.permissions = permissions
        if position is not None:
            role.position = position
        await self._dispatch("GUILD_ROLE_UPDATE", {"guild_id": str(guild.id), "role": role.payload()}, None)

    def new_user(self, username: str, bot: bool = False) -> User:
        return User(id=self.snowflake(), username=username, bot=bot)

    async def create_webhook(self, channel: Channel, name: str = "Captain Hook") -> Webhook:
        """An admin creates a webhook for a text channel (Integrations → Webhooks → New Webhook)."""
        webhook = Webhook(
            id=self.snowflake(),
            token=new_webhook_token(),
            guild_id=channel.guild_id,
            channel_id=channel.id,
            name=name,
        )
        self.webhooks[webhook.id] = webhook
        await self._webhooks_update(webhook)
        return webhook

    async def delete_webhook(self, webhook: Webhook) -> None:
        """An admin deletes it: its URL answers 404 Unknown Webhook (10015) from now on."""
        webhook.deleted = True
        await self._webhooks_update(webhook)

    async def _webhooks_update(self, webhook: Webhook) -> None:
        data = {"guild_id": str(webhook.guild_id), "channel_id": str(webhook.channel_id)}
        await self._dispatch("WEBHOOKS_UPDATE", data, None)

    # -- lookups ----------------------------------------------------------------------------------------
    def application_by_token(self, token: str) -> Application | None:
        return next((app for app in self.applications if app.token == token), None)

    def application(self, application_id: int) -> Application:
        for app in self.applications:
            if app.id == application_id:
                return app
        raise NotFound("Application", 10002)

    def guild(self, guild_id: int) -> Guild:
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise NotFound("Guild", 10004) from None

    def channel(self, channel_id: int) -> tuple[Guild, Channel]:
        for guild in self.guilds.values():
            channel = guild.channels.get(channel_id)
            if channel is not None:
                return guild, channel
        raise NotFound("Channel", 10003)

    def member(self, guild: Guild, user_id: int) -> Member:
        try:
            return guild.members[user_id]
        except KeyError:
            raise NotFound("Member", 10007) from None

    def webhook(self, webhook_id: int) -> Webhook:
        webhook = self.webhooks.get(webhook_id)
        if webhook is None or webhook.deleted:
            raise NotFound("Webhook", 10015)
        return webhook

    def message(self, channel_id: int, message_id: int) -> Message:
        message = self.messages.get(message_id)
        if message is None or message.deleted or message.channel_id != channel_id:
            raise NotFound("Message", 10008)
        return message

    def channel_messages(self, channel_id: int, *, include_ephemeral: bool = True) -> list[Message]:
        """Messages in a channel, oldest first, deleted ones left out."""
        return [
            m
            for m in self.messages.values()
            if m.channel_id == channel_id and not m.deleted and (include_ephemeral or not m.ephemeral)
        ]

    # -- messages -------------------------------------------------------------------------------------
    async def create_message(
        self,
        channel_id: int,
        author: User,
        body: JSON,
        *,
        message_type: int = 0,
        application: Application | None = None,
        interaction: InteractionRecord | None = None,
        webhook: Webhook | None = None,
    ) -> Message:
        guild, channel = self.channel(channel_id)
        check_message(body)  # Discord's limits: InvalidFormBody (400, 50035) before anything is stored
        message_id = self.snowflake()
        payload: JSON = {
            "id": str(message_id),
            "channel_id": str(channel.id),
            "guild_id": str(guild.id),
            "author": author.payload(),
            "content": "",
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": message_type,
            "flags": 0,
        }
        member = guild.members.get(author.id)
        if member is not None:
            payload["member"] = {k: v for k, v in member.payload().items() if k != "user"}
        if application is not None:
            payload["application_id"] = str(application.id)
            payload["webhook_id"] = str(application.id)
        if interaction is not None:
            payload["interaction_metadata"] = interaction.metadata()
        if webhook is not None:
            payload["webhook_id"] = str(webhook.id)
        payload.update({key: body[key] for key in MESSAGE_FIELDS if key in body})
        payload.update(_mentions(guild, payload["content"], body.get("allowed_mentions")))
        payload["attachments"] = [_attachment(a) for a in payload.get("attachments") or []]
        message = Message(id=message_id, channel_id=channel.id, payload=payload)
        self.messages[message_id] = message
        if not message.ephemeral:
            await self._dispatch("MESSAGE_CREATE", payload, None)
        return message

    async def edit_message(self, message: Message, body: JSON) -> Message:
        check_message(body)
        message.history.append(dict(message.payload))
        message.payload.update({key: body[key] for key in MESSAGE_FIELDS if key in body})
        message.payload["edited_timestamp"] = iso_now()
        if not message.ephemeral:
            await self._dispatch("MESSAGE_UPDATE", message.payload, None)
        return message

    async def delete_message(self, message: Message) -> None:
        message.deleted = True
        guild, _ = self.channel(message.channel_id)
        if not message.ephemeral:
            await self._dispatch(
                "MESSAGE_DELETE",
                {"id": str(message.id), "channel_id": str(message.channel_id), "guild_id": str(guild.id)},
                None,
            )

    async def react(self, message: Message, emoji: str, user: User, *, add: bool) -> None:
        users = message.reactions.setdefault(emoji, set())
        if add == (user.id in users):
            return
        (users.add if add else users.discard)(user.id)
        guild, _ = self.channel(message.channel_id)
        name, _, emoji_id = emoji.partition(":")
        await self._dispatch(
            "MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE",
            {
                "user_id": str(user.id),
                "channel_id": str(message.channel_id),
                "message_id": str(message.id),
                "guild_id": str(guild.id),
                "emoji": {"id": emoji_id or None, "name": name},
                "burst": False,
                "type": 0,
                **({"member": guild.members[user.id].payload()} if add and user.id in guild.members else {}),
            },
            None,
        )

    # -- members and voice ----------------------------------------------------------------------------
    async def add_member(self, guild: Guild, user: User, roles: list[int] | None = None) -> Member:
        member = Member(user=user, roles=list(roles or []))
        guild.members[user.id] = member
        await self._dispatch("GUILD_MEMBER_ADD", {**member.payload(), "guild_id": str(guild.id)}, None)
        return member

    async def set_member_role(self, guild: Guild, member: Member, role_id: int, *, add: bool) -> None:
        if role_id not in guild.roles:
            raise NotFound("Role", 10011)
        if add and role_id not in member.roles:
            member.roles.append(role_id)
        elif not add and role_id in member.roles:
            member.roles.remove(role_id)
        else:
            return
        await self._dispatch("GUILD_MEMBER_UPDATE", {**member.payload(), "guild_id": str(guild.id)}, None)

    async def set_voice_state(
        self, guild: Guild, user_id: int, channel_id: int | None, session_id: str, **flags: Any
    ) -> VoiceState:
        state = VoiceState(user_id=user_id, channel_id=channel_id, session_id=session_id, **flags)
        if channel_id is None:
            guild.voice_states.pop(user_id, None)
        else:
            guild.voice_states[user_id] = state
        await self._dispatch("VOICE_STATE_UPDATE", guild.voice_state_payload(state), None)
        return state


def _mentions(guild: Guild, content: object, allowed: Any) -> JSON:
    """Who a message's content pings, as Discord works it out: every mention in the text unless the
    message says `allowed_mentions`, then only the kinds it lists in `parse` and the ids it names."""
    text = content if isinstance(content, str) else ""
    rules = allowed if isinstance(allowed, dict) else {"parse": ["users", "roles", "everyone"]}
    parse = set(rules.get("parse") or [])
    named_users = {int(u) for u in rules.get("users") or []}
    named_roles = {int(r) for r in rules.get("roles") or []}
    users = [int(u) for u in dict.fromkeys(USER_MENTION.findall(text))]
    roles = [int(r) for r in dict.fromkeys(ROLE_MENTION.findall(text))]
    pinged = [u for u in users if "users" in parse or u in named_users]
    return {
        "mentions": [
            (guild.members[u].user if u in guild.members else User(u, str(u))).payload() for u in pinged
        ],
        "mention_roles": [str(r) for r in roles if "roles" in parse or r in named_roles],
        "mention_everyone": "everyone" in parse and bool(EVERYONE_MENTION.search(text)),
    }


def _attachment(data: Any) -> JSON:
    """Attachments are accepted by name only; the sandbox keeps no file contents."""
    item = dict(data) if isinstance(data, dict) else {}
    return {
        "id": str(item.get("id", 0)),
        "filename": str(item.get("filename", "file")),
        "size": int(item.get("size", 0)),
        "url": "https://cdn.discordapp.com/attachments/sandbox",
        "proxy_url": "https://media.discordapp.net/attachments/sandbox",
    }
