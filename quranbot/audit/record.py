"""One audit record: who did what, where, when, and the result (refusals included), as one JSON line.

Kept short on purpose: an argument is at most ARG_CHARS characters and a record at most MAX_ARGS of
them, and an argument whose name says it is a secret is never kept at all, so a line stays small and
a token or webhook URL typed into the wrong place does not end up on disk.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast, get_args

Source = Literal["discord", "panel", "terminal", "bot"]
Result = Literal["ok", "refused", "error"]
SOURCES: tuple[str, ...] = get_args(Source)
RESULTS: tuple[str, ...] = get_args(Result)

#: The actor of what the bot does by itself (the watchdog, a schedule).
BOT_ACTOR = "bot"
ARG_CHARS = 100
MAX_ARGS = 12
REASON_CHARS = 300
#: Argument names whose values are never written.
SECRET_NAME = re.compile(r"token|secret|password|webhook|credential", re.IGNORECASE)
MASK = "********"


def utc_now() -> str:
    """The current time as the audit writes it: UTC, ISO 8601, milliseconds."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def short(value: object, limit: int = ARG_CHARS) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_args(args: Mapping[str, object]) -> dict[str, str]:
    """Arguments as short strings: None left out, secrets masked, at most MAX_ARGS."""
    kept: dict[str, str] = {}
    for name, value in args.items():
        if value is None or len(kept) >= MAX_ARGS:
            continue
        kept[short(name, 40)] = MASK if SECRET_NAME.search(name) else short(value)
    return kept


@dataclass(frozen=True)
class AuditRecord:
    """One control action. Ids are strings (Discord snowflakes pass 2^53), None where not applicable."""

    source: Source
    #: A member's display name, the terminal user's login name, or "bot".
    actor: str
    action: str
    result: Result = "ok"
    #: Why it was refused or failed ("" when it went through).
    reason: str = ""
    #: The Discord user id, or for the terminal the Unix uid.
    actor_id: str | None = None
    guild_id: str | None = None
    channel_id: str | None = None
    args: dict[str, str] = field(default_factory=dict)
    #: The terminal client's process id.
    pid: int | None = None
    time: str = field(default_factory=utc_now)

    @classmethod
    def create(
        cls,
        source: Source,
        actor: str,
        action: str,
        *,
        result: Result = "ok",
        reason: str = "",
        actor_id: object = None,
        guild_id: object = None,
        channel_id: object = None,
        args: Mapping[str, object] | None = None,
        pid: int | None = None,
    ) -> AuditRecord:
        """A record with ids turned into strings and the arguments and reason shortened."""
        return cls(
            source=source,
            actor=short(actor, 80),
            action=short(action, 60),
            result=result,
            reason=short(reason, REASON_CHARS),
            actor_id=None if actor_id is None else str(actor_id),
            guild_id=None if guild_id is None else str(guild_id),
            channel_id=None if channel_id is None else str(channel_id),
            args=short_args(args or {}),
            pid=pid,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def to_line(self) -> str:
        """One line of JSON (Arabic kept as is), with its newline."""
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditRecord:
        """A record read back; ValueError (or KeyError/TypeError) for anything that is not one."""
        source, result = data["source"], data["result"]
        if source not in SOURCES or result not in RESULTS:
            raise ValueError(f"not an audit record: source {source!r}, result {result!r}")
        moment = str(data["time"])
        datetime.datetime.fromisoformat(moment)  # a time that does not parse is not a record
        args = data.get("args") or {}
        if not isinstance(args, dict):
            raise ValueError("args is not an object")
        pid = data.get("pid")
        return cls(
            source=cast(Source, source),
            actor=str(data["actor"]),
            action=str(data["action"]),
            result=cast(Result, result),
            reason=str(data.get("reason") or ""),
            actor_id=_optional(data.get("actor_id")),
            guild_id=_optional(data.get("guild_id")),
            channel_id=_optional(data.get("channel_id")),
            args={str(k): str(v) for k, v in args.items()},
            pid=pid if isinstance(pid, int) else None,
            time=moment,
        )

    @property
    def moment(self) -> datetime.datetime:
        return datetime.datetime.fromisoformat(self.time)


def _optional(value: object) -> str | None:
    return None if value is None else str(value)
