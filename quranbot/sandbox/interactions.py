"""Interactions the sandbox sends to the bot (commands, autocomplete, components, modals) and what it
answered: the callback, the original response message and any follow-ups.

The payload builders mirror what Discord sends for a member acting in a guild channel, so discord.py's
`app_commands` and `ui` layers handle them as they would in production.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

from quranbot.sandbox.model import JSON, Application, Channel, Guild, Member, Message


class InteractionType:
    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class ResponseType:
    PONG = 1
    CHANNEL_MESSAGE = 4
    DEFERRED_CHANNEL_MESSAGE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE_RESULT = 8
    MODAL = 9


class OptionType:
    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    NUMBER = 10


class InteractionError(LookupError):
    """A scripted interaction that cannot be built (unknown command, option or component)."""


@dataclass
class InteractionRecord:
    """One interaction and everything the bot did in answer to it."""

    id: int
    token: str
    application: Application
    type: int
    guild: Guild
    channel: Channel
    member: Member
    data: JSON
    message: Message | None = None
    response: JSON | None = None
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)
    responded: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def create(
        cls,
        interaction_id: int,
        application: Application,
        type: int,
        guild: Guild,
        channel: Channel,
        member: Member,
        data: JSON,
        message: Message | None = None,
    ) -> InteractionRecord:
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
        return cls(interaction_id, token, application, type, guild, channel, member, data, message)

    @property
    def response_type(self) -> int | None:
        return None if self.response is None else int(self.response["type"])

    @property
    def response_data(self) -> JSON:
        return dict((self.response or {}).get("data") or {})

    @property
    def choices(self) -> list[JSON]:
        """The autocomplete choices the bot offered."""
        return list(self.response_data.get("choices") or [])

    async def wait(self, timeout: float = 10.0) -> JSON:
        """Wait for the bot's callback and return it (`{type, data}`)."""
        async with asyncio.timeout(timeout):
            await self.responded.wait()
        assert self.response is not None
        return self.response

    async def wait_for_followups(self, count: int = 1, timeout: float = 10.0) -> list[Message]:
        async with asyncio.timeout(timeout):
            while len(self.followups) < count:
                await asyncio.sleep(0.01)
        return self.followups

    def metadata(self) -> JSON:
        return {
            "id": str(self.id),
            "type": self.type,
            "user": self.member.user.payload(),
            "authorizing_integration_owners": {"0": str(self.guild.id)},
            **({"name": self.data["name"]} if "name" in self.data else {}),
        }

    def payload(self) -> JSON:
        """The INTERACTION_CREATE payload."""
        bot_id = self.application.bot.id
        payload: JSON = {
            "id": str(self.id),
            "application_id": str(self.application.id),
            "type": self.type,
            "data": self.data,
            "guild_id": str(self.guild.id),
            "guild": {"id": str(self.guild.id), "locale": "en-US", "features": []},
            "channel_id": str(self.channel.id),
            "channel": self.channel.payload(),
            "member": {
                **self.member.payload(),
                "permissions": str(self.guild.permissions_of(self.member.user.id)),
            },
            "token": self.token,
            "version": 1,
            "app_permissions": str(self.guild.permissions_of(bot_id) if bot_id in self.guild.members else 0),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild.id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if self.message is not None:
            payload["message"] = self.message.payload
        return payload


def find_command(application: Application, guild: Guild, name: str) -> JSON:
    for command in application.commands_for(guild.id):
        if command.get("name") == name and int(command.get("type", 1)) == 1:
            return command
    raise InteractionError(f"the bot registered no slash command named /{name} for guild {guild.name!r}")


def command_data(guild: Guild, command: JSON, options: dict[str, Any], focused: str | None = None) -> JSON:
    """`data` of an APPLICATION_COMMAND (or AUTOCOMPLETE, with `focused`) interaction."""
    resolved: JSON = {}
    data: JSON = {
        "id": command["id"],
        "name": command["name"],
        "type": int(command.get("type", 1)),
        "guild_id": str(guild.id),
        "options": _options(guild, list(command.get("options") or []), options, focused, resolved),
    }
    if resolved:
        data["resolved"] = resolved
    return data


def _options(
    guild: Guild, declared: list[JSON], given: dict[str, Any], focused: str | None, resolved: JSON
) -> list[JSON]:
    by_name = {option["name"]: option for option in declared}
    result: list[JSON] = []
    for name, value in given.items():
        option = by_name.get(name)
        if option is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise InteractionError(f"the command has no option {name!r} (options: {known})")
        kind = int(option["type"])
        if kind in (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP):
            nested = _options(guild, list(option.get("options") or []), dict(value or {}), focused, resolved)
            result.append({"name": name, "type": kind, "options": nested})
            continue
        entry: JSON = {"name": name, "type": kind, "value": _option_value(guild, kind, value, resolved)}
        if focused == name:
            entry["focused"] = True
            entry["value"] = str(value)
        result.append(entry)
    return result


def _option_value(guild: Guild, kind: int, value: Any, resolved: JSON) -> Any:
    if kind == OptionType.USER:
        member = guild.members[int(value)]
        resolved.setdefault("users", {})[str(member.user.id)] = member.user.payload()
        member_data = {k: v for k, v in member.payload().items() if k != "user"}
        member_data["permissions"] = str(guild.permissions_of(member.user.id))
        resolved.setdefault("members", {})[str(member.user.id)] = member_data
        return str(member.user.id)
    if kind == OptionType.CHANNEL:
        channel = guild.channels[int(value)]
        resolved.setdefault("channels", {})[str(channel.id)] = {
            **channel.payload(),
            "permissions": str((1 << 53) - 1),
        }
        return str(channel.id)
    if kind == OptionType.ROLE:
        role = guild.roles[int(value)]
        resolved.setdefault("roles", {})[str(role.id)] = role.payload()
        return str(role.id)
    return value


def component_data(message: Message, custom_id: str, values: list[str] | None = None) -> JSON:
    """`data` of a MESSAGE_COMPONENT interaction: a button press, or a select with `values`."""
    component = message.find_component(custom_id)
    if component is None:
        raise InteractionError(f"message {message.id} has no component with custom_id {custom_id!r}")
    data: JSON = {"custom_id": custom_id, "component_type": int(component["type"])}
    if values is not None:
        data["values"] = list(values)
    return data


def modal_submit_data(modal: JSON, values: dict[str, str]) -> JSON:
    """`data` of a MODAL_SUBMIT, shaped like the modal the bot opened (rows or labels)."""
    components: list[JSON] = []
    for item in modal.get("components") or []:
        if item.get("type") == 1:  # action row holding text inputs
            components.append(
                {"type": 1, "components": [_submitted(inner, values) for inner in item["components"]]}
            )
        elif item.get("type") == 18:  # label wrapping one component
            components.append({"type": 18, "component": _submitted(item["component"], values)})
    unknown = set(values) - _input_ids(modal)
    if unknown:
        raise InteractionError(f"the modal has no inputs named {sorted(unknown)}")
    return {"custom_id": modal["custom_id"], "components": components}


def _submitted(component: JSON, values: dict[str, str]) -> JSON:
    custom_id = component.get("custom_id")
    if int(component.get("type", 0)) == 4:
        return {"type": 4, "custom_id": custom_id, "value": values.get(str(custom_id), "")}
    return {"type": component.get("type"), "custom_id": custom_id, "values": []}


def _input_ids(modal: JSON) -> set[str]:
    ids: set[str] = set()
    for item in modal.get("components") or []:
        for inner in item.get("components") or [item.get("component") or {}]:
            if inner.get("custom_id"):
                ids.add(str(inner["custom_id"]))
    return ids
