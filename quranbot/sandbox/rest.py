"""The sandbox's REST API (`/api/v10`): the routes discord.py uses, answered from the `World`.

Responses carry `Content-Type: application/json` exactly (discord.py treats anything else as text);
unknown routes get Discord's JSON 404. Any route can be told to answer 429 or 5xx for a while. A
webhook's execute route is rate limited as Discord limits it (ratelimit.py), with the same headers.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from quranbot.sandbox.command_locales import bad_localizations
from quranbot.sandbox.interactions import InteractionRecord, ResponseType
from quranbot.sandbox.limits import InvalidFormBody
from quranbot.sandbox.model import JSON, Application, Message, Permission
from quranbot.sandbox.ratelimit import Bucket
from quranbot.sandbox.world import NotFound, World

log = logging.getLogger(__name__)

API = "/api/v10"
BASES = (API, "/api")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _route_template(canonical: str) -> str:
    """`/channels/{channel_id}/messages`, served at /api/v10/... or /api/..."""
    return canonical.removeprefix(API) if canonical.startswith(API + "/") else canonical.removeprefix("/api")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def error(status: int, code: int, message: str) -> web.Response:
    return json_response({"message": message, "code": code}, status=status)


def form_error(problems: dict[str, str]) -> web.Response:
    """400 / 50035 Invalid Form Body with Discord's nested `errors`: each problem's dotted path
    ("3.description") becomes nested keys ending in `_errors`, as discord.py flattens back to
    "In 3.description: <message>"."""
    errors: JSON = {}
    for path, message in problems.items():
        node = errors
        for key in path.split("."):
            node = node.setdefault(key, {})
        node.setdefault("_errors", []).append({"code": "BASE_TYPE_INVALID", "message": message})
    return json_response({"message": "Invalid Form Body", "code": 50035, "errors": errors}, status=400)


def no_content() -> web.Response:
    return web.Response(status=204)


@dataclass
class RestFault:
    """Make `method route` (a route template such as `POST /channels/{channel_id}/messages`, or `*`)
    answer `status` for the next `times` requests."""

    method: str
    route: str
    status: int
    times: int = 1
    retry_after: float = 0.1
    is_global: bool = False

    def matches(self, method: str, route: str) -> bool:
        return self.times > 0 and self.method in ("*", method) and self.route in ("*", route)

    def response(self) -> web.Response:
        self.times -= 1
        if self.status == 429:
            body = {
                "message": "You are being rate limited.",
                "retry_after": self.retry_after,
                "global": self.is_global,
            }
            headers = {"Via": "1.1 google", "Retry-After": str(self.retry_after), "X-RateLimit-Scope": "user"}
            return json_response(body, status=429, headers=headers)
        return json_response({"message": f"{self.status}: sandbox fault", "code": 0}, status=self.status)


class RestApi:
    """Route handlers over a `World`; `requests` logs every call as (method, route template, status)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.faults: list[RestFault] = []
        #: Commands a bulk overwrite is refused for, as Discord refuses an invalid one: name -> (field,
        #: reason); set by `Faults.refuse_command`.
        self.refused_commands: dict[str, tuple[str, str]] = {}
        self.requests: list[tuple[str, str, int]] = []
        #: Each incoming webhook's rate-limit bucket, by webhook id.
        self.webhook_buckets: dict[int, Bucket] = {}

    # -- wiring ---------------------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        table = [
            ("GET", "/users/@me", self.get_me),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_bot_gateway),
            ("GET", "/applications/{app_id}/commands", self.get_commands),
            ("PUT", "/applications/{app_id}/commands", self.put_commands),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self.get_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self.put_commands),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self.interaction_callback),
            ("POST", "/webhooks/{webhook_id}/{token}", self.execute_webhook),
            ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", self.get_webhook_message),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", self.edit_webhook_message),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", self.delete_webhook_message),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("GET", "/channels/{channel_id}/messages", self.list_messages),
            ("POST", "/channels/{channel_id}/messages", self.create_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.add_reaction),
            (
                "DELETE",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user}",
                self.remove_reaction,
            ),
            ("GET", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}", self.get_reactions),
            ("GET", "/guilds/{guild_id}", self.get_guild),
            ("GET", "/guilds/{guild_id}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self.get_roles),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member),
            ("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.add_role),
            ("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.remove_role),
        ]
        # Discord serves its API unversioned too: webhook URLs as it shows them are /api/webhooks/...
        return [web.route(method, base + path, handler) for method, path, handler in table for base in BASES]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        info = request.match_info
        route = (
            _route_template(info.route.resource.canonical)
            if info.route.resource is not None
            else request.path
        )
        response = await self._answer(request, handler, route)
        self.requests.append((request.method, route, response.status))
        return response

    async def _answer(self, request: web.Request, handler: Handler, route: str) -> web.StreamResponse:
        for fault in self.faults:
            if fault.matches(request.method, route):
                return fault.response()
        if request.match_info.http_exception is not None:
            return error(404, 0, "404: Not Found")
        if not route.startswith(("/interactions/", "/webhooks/")) and self.caller(request) is None:
            return error(401, 0, "401: Unauthorized")
        try:
            return await handler(request)
        except NotFound as exc:
            return error(404, exc.code, str(exc))
        except InvalidFormBody as exc:  # a message over Discord's limits, refused as Discord does
            log.debug("refused a message to %s: %s", route, exc)
            return json_response(
                {"message": "Invalid Form Body", "code": 50035, "errors": exc.errors}, status=400
            )
        except (KeyError, ValueError, TypeError) as exc:
            log.debug("bad request to %s: %r", route, exc)
            return error(400, 50035, f"Invalid Form Body: {exc}")

    def caller(self, request: web.Request) -> Application | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bot "):
            return None
        return self.world.application_by_token(header[4:])

    def _bot(self, request: web.Request) -> Application:
        application = self.caller(request)
        assert application is not None  # the middleware refused anonymous calls
        return application

    @staticmethod
    async def _body(request: web.Request) -> JSON:
        """JSON body, or the `payload_json` part of a multipart upload."""
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            raw = form.get("payload_json")
            return dict(json.loads(str(raw))) if raw is not None else {}
        if not request.can_read_body:
            return {}
        return dict(await request.json())

    @staticmethod
    def _id(request: web.Request, key: str) -> int:
        return int(request.match_info[key])

    # -- identity -------------------------------------------------------------------------------------
    async def get_me(self, request: web.Request) -> web.Response:
        return json_response(self._bot(request).bot.payload())

    async def get_application(self, request: web.Request) -> web.Response:
        return json_response(self._bot(request).payload())

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": "wss://gateway.discord.gg"})

    async def get_bot_gateway(self, request: web.Request) -> web.Response:
        """The gateway and the shard count Discord recommends: one per `guilds_per_recommended_shard`
        guilds the bot is in (at least 1)."""
        application = self._bot(request)
        guilds = sum(1 for guild in self.world.guilds.values() if application.bot.id in guild.members)
        shards = max(1, math.ceil(guilds / application.guilds_per_recommended_shard))
        return json_response(
            {
                "url": "wss://gateway.discord.gg",
                "shards": shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    # -- application commands ---------------------------------------------------------------------------
    def _command_list(self, request: web.Request) -> tuple[Application, list[JSON], int | None]:
        application = self._bot(request)
        if self._id(request, "app_id") != application.id:
            raise NotFound("Application", 10002)
        if "guild_id" in request.match_info:
            guild_id = self._id(request, "guild_id")
            self.world.guild(guild_id)
            return application, application.guild_commands.setdefault(guild_id, []), guild_id
        return application, application.global_commands, None

    async def get_commands(self, request: web.Request) -> web.Response:
        _, commands, _ = self._command_list(request)
        return json_response(commands)

    async def put_commands(self, request: web.Request) -> web.Response:
        application, commands, guild_id = self._command_list(request)
        submitted = await request.json()
        if not isinstance(submitted, list):
            return error(400, 50035, "Invalid Form Body: expected a list of commands")
        problems = {path: "Invalid Locale" for path in bad_localizations(submitted)}
        for index, command in enumerate(submitted):
            refused = self.refused_commands.get(str(command.get("name")))
            if refused is not None:
                problems[f"{index}.{refused[0]}"] = refused[1]
        if problems:  # Discord refuses the whole overwrite, and keeps the commands it had
            return form_error(problems)
        self.world.command_syncs.append(submitted)
        previous = {(c["name"], c.get("type", 1)): c for c in commands}
        registered = []
        for command in submitted:
            old = previous.get((command["name"], command.get("type", 1)))
            record: JSON = {
                "type": 1,
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "nsfw": False,
                "contexts": None,
                "integration_types": [0],
                **command,
                "id": old["id"] if old else str(self.world.snowflake()),
                "application_id": str(application.id),
                "version": str(self.world.snowflake()),
            }
            if guild_id is not None:
                record["guild_id"] = str(guild_id)
            registered.append(record)
        commands[:] = registered
        return json_response(registered)

    # -- interactions and their webhooks ----------------------------------------------------------------
    def _interaction(self, request: web.Request) -> InteractionRecord:
        record = self.world.interactions.get(self._id(request, "interaction_id"))
        if record is None or record.token != request.match_info["token"]:
            raise NotFound("interaction", 10062)
        return record

    def _interaction_by_token(self, request: web.Request) -> InteractionRecord:
        """The interaction whose webhook (the application's id and the interaction's token) this is."""
        token = request.match_info["token"]
        app_id = request.match_info.get("app_id") or request.match_info["webhook_id"]
        for record in self.world.interactions.values():
            if record.token == token and str(record.application.id) == app_id:
                return record
        raise NotFound("Webhook", 10015)

    async def interaction_callback(self, request: web.Request) -> web.Response:
        record = self._interaction(request)
        if record.response is not None:
            return error(400, 40060, "Interaction has already been acknowledged.")
        body = await self._body(request)
        kind = int(body["type"])
        data = dict(body.get("data") or {})
        bot = record.application.bot
        resource: JSON = {"type": kind}
        if kind in (ResponseType.CHANNEL_MESSAGE, ResponseType.DEFERRED_CHANNEL_MESSAGE):
            if kind == ResponseType.DEFERRED_CHANNEL_MESSAGE:
                data = {"flags": (int(data.get("flags") or 0) & 64) | 128}
            message_type = 20 if record.type == 2 else 0
            record.original = await self.world.create_message(
                record.channel.id,
                bot,
                data,
                message_type=message_type,
                application=record.application,
                interaction=record,
            )
            resource["message"] = record.original.payload
        elif kind == ResponseType.UPDATE_MESSAGE and record.message is not None:
            record.original = await self.world.edit_message(record.message, data)
            resource["message"] = record.original.payload
        elif kind == ResponseType.DEFERRED_UPDATE_MESSAGE:
            record.original = record.message
        record.response = {"type": kind, "data": data}
        record.responded.set()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return no_content()
        original = record.original
        return json_response(
            {
                "interaction": {
                    "id": str(record.id),
                    "type": record.type,
                    "response_message_id": str(original.id) if original else None,
                    "response_message_loading": kind == ResponseType.DEFERRED_CHANNEL_MESSAGE,
                    "response_message_ephemeral": bool(original and original.ephemeral),
                },
                "resource": resource,
            }
        )

    async def execute_webhook(self, request: web.Request) -> web.Response:
        """`POST /webhooks/{id}/{token}[?wait=true]`: a channel's incoming webhook posts a message; the
        same route, with the application's id and an interaction's token, is an interaction's followup."""
        webhook_id = self._id(request, "webhook_id")
        if webhook_id not in self.world.webhooks:
            return await self.followup(request)
        webhook = self.world.webhooks[webhook_id]
        webhook.requests += 1
        webhook = self.world.webhook(webhook_id)  # a deleted one: 404 Unknown Webhook
        if request.match_info["token"] != webhook.token:
            return error(401, 50027, "Invalid Webhook Token")
        bucket = self.webhook_buckets.setdefault(webhook.id, Bucket.for_key(f"webhook:{webhook.id}"))
        verdict = bucket.hit()
        if not verdict.allowed:
            return json_response(verdict.too_many_body(), status=429, headers=verdict.too_many_headers())
        body = await self._body(request)
        if not any(body.get(key) for key in ("content", "embeds", "components", "attachments", "poll")):
            return error(400, 50006, "Cannot send an empty message")
        message = await self.world.create_message(webhook.channel_id, webhook.user, body, webhook=webhook)
        if request.query.get("wait") in ("true", "True", "1"):
            return json_response(message.payload, headers=verdict.headers)
        return web.Response(status=204, headers=verdict.headers)

    async def followup(self, request: web.Request) -> web.Response:
        record = self._interaction_by_token(request)
        body = await self._body(request)
        message = await self.world.create_message(
            record.channel.id,
            record.application.bot,
            body,
            application=record.application,
            interaction=record,
        )
        record.followups.append(message)
        return json_response(message.payload)

    def _webhook_message(self, request: web.Request) -> tuple[InteractionRecord, Message]:
        record = self._interaction_by_token(request)
        key = request.match_info["message_id"]
        if key == "@original":
            if record.original is None:
                raise NotFound("Message", 10008)
            return record, record.original
        message = self.world.messages.get(int(key))
        if message is None or message.deleted:
            raise NotFound("Message", 10008)
        return record, message

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        _, message = self._webhook_message(request)
        return json_response(message.payload)

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        _, message = self._webhook_message(request)
        body = await self._body(request)
        if "flags" not in body:
            body["flags"] = int(message.payload.get("flags") or 0) & ~128  # the "thinking" state ends
        return json_response((await self.world.edit_message(message, body)).payload)

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        _, message = self._webhook_message(request)
        await self.world.delete_message(message)
        return no_content()

    # -- channels and messages --------------------------------------------------------------------------
    async def get_channel(self, request: web.Request) -> web.Response:
        _, channel = self.world.channel(self._id(request, "channel_id"))
        return json_response(channel.payload())

    async def list_messages(self, request: web.Request) -> web.Response:
        channel_id = self._id(request, "channel_id")
        self.world.channel(channel_id)
        limit = min(100, int(request.query.get("limit", 50)))
        messages = self.world.channel_messages(channel_id, include_ephemeral=False)
        return json_response([m.payload for m in reversed(messages)][:limit])

    async def create_message(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if not any(body.get(key) for key in ("content", "embeds", "components", "attachments", "poll")):
            return error(400, 50006, "Cannot send an empty message")
        message = await self.world.create_message(
            self._id(request, "channel_id"), self._bot(request).bot, body
        )
        return json_response(message.payload)

    async def get_message(self, request: web.Request) -> web.Response:
        message = self.world.message(self._id(request, "channel_id"), self._id(request, "message_id"))
        return json_response(message.payload)

    async def edit_message(self, request: web.Request) -> web.Response:
        message = self.world.message(self._id(request, "channel_id"), self._id(request, "message_id"))
        if message.payload["author"]["id"] != str(self._bot(request).bot.id):
            return error(403, 50005, "Cannot edit a message authored by another user")
        return json_response((await self.world.edit_message(message, await self._body(request))).payload)

    async def delete_message(self, request: web.Request) -> web.Response:
        message = self.world.message(self._id(request, "channel_id"), self._id(request, "message_id"))
        await self.world.delete_message(message)
        return no_content()

    async def add_reaction(self, request: web.Request) -> web.Response:
        message = self.world.message(self._id(request, "channel_id"), self._id(request, "message_id"))
        await self.world.react(message, request.match_info["emoji"], self._bot(request).bot, add=True)
        return no_content()

    async def remove_reaction(self, request: web.Request) -> web.Response:
        message = self.world.message(self._id(request, "channel_id"), self._id(request, "message_id"))
        guild, _ = self.world.channel(message.channel_id)
        who = request.match_info["user"]
        user = self._bot(request).bot if who == "@me" else self.world.member(guild, int(who)).user
        await self.world.react(message, request.match_info["emoji"], user, add=False)
        return no_content()

    async def get_reactions(self, request: web.Request) -> web.Response:
        message = self.world.message(self._id(request, "channel_id"), self._id(request, "message_id"))
        guild, _ = self.world.channel(message.channel_id)
        users = message.reactions.get(request.match_info["emoji"], set())
        return json_response([guild.members[u].user.payload() for u in users if u in guild.members])

    # -- guilds, members, roles -------------------------------------------------------------------------
    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self.world.guild(self._id(request, "guild_id"))
        payload = guild.payload()
        for key in ("members", "channels", "voice_states", "threads", "presences"):
            payload.pop(key, None)
        return json_response(payload)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self.world.guild(self._id(request, "guild_id"))
        return json_response([c.payload() for c in guild.channels.values()])

    async def get_roles(self, request: web.Request) -> web.Response:
        guild = self.world.guild(self._id(request, "guild_id"))
        return json_response([r.payload() for r in guild.roles.values()])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self.world.guild(self._id(request, "guild_id"))
        return json_response(self.world.member(guild, self._id(request, "user_id")).payload())

    async def _set_role(self, request: web.Request, add: bool) -> web.Response:
        guild = self.world.guild(self._id(request, "guild_id"))
        member = self.world.member(guild, self._id(request, "user_id"))
        bot = self._bot(request).bot
        role_id = self._id(request, "role_id")
        if not guild.permissions_of(bot.id) & Permission.MANAGE_ROLES:
            return error(403, 50013, "Missing Permissions")
        role = guild.roles.get(role_id)
        if role is not None and role.position >= guild.top_role_position(bot.id):
            return error(403, 50013, "Missing Permissions")  # what Discord answers for a role above the bot's
        await self.world.set_member_role(guild, member, role_id, add=add)
        return no_content()

    async def add_role(self, request: web.Request) -> web.Response:
        return await self._set_role(request, add=True)

    async def remove_role(self, request: web.Request) -> web.Response:
        return await self._set_role(request, add=False)
