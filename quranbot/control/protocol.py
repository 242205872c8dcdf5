"""The control socket's wire format (docs/PROTOCOL.md): newline-delimited JSON, one object per line.

Requests are `{"id", "method", "params"}`; replies `{"id", "result"}` or `{"id", "error": {"code",
"message"}}`; pushed messages `{"event", "data"}`. Shared by the server and the client so the two
can never disagree about framing or codes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from quranbot.config.rules import DISCORD_ID

#: Bumped when a change would break an existing client; additions (new fields, methods) do not.
PROTOCOL_VERSION = 1
#: The longest line either side accepts, newline included.
MAX_LINE_BYTES = 1024 * 1024

METHODS = (
    "hello",
    "ping",
    "status",
    "stats",
    "logs",
    "audit",
    "reciters",
    "control",
    "listening",
    "listening.export",
    "listening.forget",
    "verse.post",
    "alerts.test",
    "alerts.event",
    "subscribe",
    "unsubscribe",
)
TOPICS = ("player", "listeners", "logs", "stats", "quiz", "audit")
ACTIONS = ("play", "pause", "resume", "next", "previous", "loop", "shuffle", "reciter", "backup")

# Error codes: short stable strings a script can match on; the message is for people.
BAD_JSON = "bad_json"
BAD_REQUEST = "bad_request"
UNKNOWN_METHOD = "unknown_method"
BAD_PARAMS = "bad_params"
NOT_FOUND = "not_found"
REFUSED = "refused"
NOT_READY = "not_ready"
LINE_TOO_LONG = "line_too_long"
IDLE = "idle"
BUSY = "busy"
FORBIDDEN = "forbidden"
INTERNAL = "internal"


class ProtocolError(Exception):
    """A request the server answers with an error: `code` from the list above."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Request:
    id: int | str | None
    method: str
    params: dict[str, Any]


def encode(message: dict[str, Any]) -> bytes:
    """One message as one line: compact JSON (UTF-8, Arabic kept as is) and a newline."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def reply(request_id: int | str | None, result: Any) -> bytes:
    return encode({"id": request_id, "result": result})


def error(request_id: int | str | None, code: str, message: str) -> bytes:
    return encode({"id": request_id, "error": {"code": code, "message": message}})


def event(name: str, data: Any) -> bytes:
    return encode({"event": name, "data": data})


def parse_request(line: bytes) -> Request:
    """A request from one line; ProtocolError says exactly what is wrong with it."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(BAD_JSON, f"not valid JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError(BAD_REQUEST, f"a request is a JSON object, not {type(message).__name__}")
    request_id = message.get("id")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, int | str)):
        raise ProtocolError(BAD_REQUEST, '"id" must be a number or a string')
    method = message.get("method")
    if not isinstance(method, str):
        raise ProtocolError(BAD_REQUEST, 'a request needs "method", a string')
    params = message.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ProtocolError(BAD_PARAMS, '"params" must be a JSON object')
    return Request(request_id, method, params)


class Params:
    """Typed access to a request's params: a wrong type or a missing key is a BAD_PARAMS error."""

    def __init__(self, params: dict[str, Any]) -> None:
        self._params = params

    def _get(self, key: str, kinds: type | tuple[type, ...], required: bool, what: str) -> Any:
        if key not in self._params or self._params[key] is None:
            if required:
                raise ProtocolError(BAD_PARAMS, f'"{key}" is required ({what})')
            return None
        value = self._params[key]
        if isinstance(value, bool) and kinds is not bool:
            raise ProtocolError(BAD_PARAMS, f'"{key}" must be {what}, not true/false')
        if not isinstance(value, kinds):
            raise ProtocolError(BAD_PARAMS, f'"{key}" must be {what}, not {json.dumps(value)[:40]}')
        return value

    def integer(self, key: str, required: bool = False) -> int | None:
        value: int | None = self._get(key, int, required, "a whole number")
        return value

    def text(self, key: str, required: bool = False) -> str | None:
        value: str | None = self._get(key, str, required, "a string")
        return value

    def discord_id(self, key: str, required: bool = False) -> int | None:
        """A Discord id, as a number or as its digits in a string (how ids are sent: they pass 2^53)."""
        value: int | str | None = self._get(key, (int, str), required, "a Discord id")
        if value is None:
            return None
        if not DISCORD_ID.fullmatch(str(value)):
            raise ProtocolError(
                BAD_PARAMS, f'"{key}" must be a Discord id (17–20 digits), not {json.dumps(value)[:40]}'
            )
        return int(value)

    def id_or_text(self, key: str) -> str | None:
        """An id (a number or its digits) or a name, as text: for filters that match either."""
        value: int | str | None = self._get(key, (int, str), False, "an id or a name")
        return None if value is None else str(value)

    def flag(self, key: str) -> bool | None:
        value: bool | None = self._get(key, bool, False, "true or false")
        return value

    def text_list(self, key: str) -> list[str] | None:
        value: list[str] | None = self._get(key, list, False, "a list of strings")
        if value is not None and not all(isinstance(item, str) for item in value):
            raise ProtocolError(BAD_PARAMS, f'"{key}" must be a list of strings')
        return value
