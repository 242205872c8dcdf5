"""Typed views of what the control socket sends (docs/PROTOCOL.md), parsed once at the edge.

Widgets read attributes, not dict keys: a field the bot stops sending fails here, by name, instead of
as a KeyError in the middle of a repaint. Fields the protocol adds later are ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

PLAYING = "playing"
PAUSED = "paused"


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise ValueError(f"{key!r} should be a string, not {value!r}")
    return value


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def _number(data: Mapping[str, Any], key: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key!r} should be a number, not {value!r}")
    return float(value)


def _optional_number(data: Mapping[str, Any], key: str) -> float | None:
    return None if data.get(key) is None else _number(data, key)


def _whole(data: Mapping[str, Any], key: str) -> int:
    return int(_number(data, key))


@dataclass(frozen=True)
class Listener:
    id: str
    name: str


def listeners_from(data: Any) -> tuple[Listener, ...]:
    return tuple(Listener(_text(item, "id"), _text(item, "name")) for item in data or ())


@dataclass(frozen=True)
class GuildNow:
    """One guild's GuildStatus, plus when it arrived (monotonic), to advance the position locally."""

    guild_id: str
    guild_name: str
    channel_name: str | None
    state: str
    reciter: str | None
    reciter_name: str | None
    surah: int
    surah_name: str
    surah_english: str
    surah_arabic: str
    ayah: int | None
    ayah_count: int
    position: float
    duration: float
    loop: bool
    shuffle: bool
    listeners: tuple[Listener, ...]
    connection: str
    recoveries: int
    last_action: str | None
    #: The bot's clock when it took the snapshot: an older snapshot never replaces a newer one.
    sent_at: float
    received_at: float

    @classmethod
    def from_json(cls, data: Mapping[str, Any], received_at: float) -> GuildNow:
        connection: Mapping[str, Any] = data.get("connection") or {}
        action: Mapping[str, Any] | None = data.get("last_action")
        ayah = data.get("ayah")
        return cls(
            guild_id=_text(data, "guild_id"),
            guild_name=_optional_text(data, "guild_name") or _text(data, "guild_id"),
            channel_name=_optional_text(data, "channel_name"),
            state=_text(data, "state"),
            reciter=_optional_text(data, "reciter"),
            reciter_name=_optional_text(data, "reciter_name"),
            surah=_whole(data, "surah"),
            surah_name=_text(data, "surah_name"),
            surah_english=_text(data, "surah_english"),
            surah_arabic=_text(data, "surah_arabic"),
            ayah=None if ayah is None else int(ayah),
            ayah_count=_whole(data, "ayah_count"),
            position=_number(data, "position"),
            duration=_number(data, "duration"),
            loop=bool(data.get("loop")),
            shuffle=bool(data.get("shuffle")),
            listeners=listeners_from(data.get("listeners")),
            connection=str(connection.get("state", "connected")),
            recoveries=int(connection.get("recoveries", 0)),
            last_action=None if not action else f"{action.get('what')}, by {action.get('who')}",
            sent_at=_optional_number(data, "sent_at") or 0.0,
            received_at=received_at,
        )

    def with_listeners(self, listeners: tuple[Listener, ...]) -> GuildNow:
        return replace(self, listeners=listeners)

    def elapsed(self, now: float) -> float:
        """Seconds into the surah at monotonic time `now`: the reported position, advanced while playing."""
        if self.state != PLAYING:
            return self.position
        return min(self.duration, self.position + max(0.0, now - self.received_at))


@dataclass(frozen=True)
class LastBackup:
    name: str
    age: float


@dataclass(frozen=True)
class QuizToday:
    """One guild's quiz today: questions revealed, answers, and the best members' points."""

    guild_id: str
    questions: int
    answers: int
    open: int
    #: (name, points), best first.
    top: tuple[tuple[str, int], ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QuizToday:
        return cls(
            guild_id=_text(data, "guild_id"),
            questions=_whole(data, "questions_today"),
            answers=_whole(data, "answers_today"),
            open=_whole(data, "open"),
            top=tuple((_text(t, "name"), _whole(t, "points")) for t in data.get("top_today") or []),
        )


@dataclass(frozen=True)
class ListeningToday:
    """One guild's listening today, and this week's best members."""

    guild_id: str
    hours: float
    listeners: int
    #: (name, seconds), best first.
    top_week: tuple[tuple[str, int], ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ListeningToday:
        return cls(
            guild_id=_text(data, "guild_id"),
            hours=_number(data, "hours_today"),
            listeners=_whole(data, "listeners_today"),
            top_week=tuple((_text(t, "name"), _whole(t, "seconds")) for t in data.get("top_week") or []),
        )


@dataclass(frozen=True)
class BotStats:
    uptime: float
    pid: int
    cpu_percent: float
    rss_bytes: int
    logged_in: bool
    gateway_latency_ms: float | None
    guilds: int
    voice_connected: int
    packets_sent: int
    packets_per_second: float
    recoveries: int
    last_backup: LastBackup | None
    next_backup: str | None
    quiz: tuple[QuizToday, ...] = ()
    listening: tuple[ListeningToday, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BotStats:
        backup: Mapping[str, Any] | None = data.get("last_backup")
        return cls(
            uptime=_number(data, "uptime"),
            pid=_whole(data, "pid"),
            cpu_percent=_number(data, "cpu_percent"),
            rss_bytes=_whole(data, "rss_bytes"),
            logged_in=bool(data.get("logged_in")),
            gateway_latency_ms=_optional_number(data, "gateway_latency_ms"),
            guilds=_whole(data, "guilds"),
            voice_connected=_whole(data, "voice_connected"),
            packets_sent=_whole(data, "packets_sent"),
            packets_per_second=_number(data, "packets_per_second"),
            recoveries=_whole(data, "recoveries"),
            last_backup=None if not backup else LastBackup(_text(backup, "name"), _number(backup, "age")),
            next_backup=_optional_text(data, "next_backup"),
            quiz=tuple(QuizToday.from_json(q) for q in data.get("quiz") or []),
            listening=tuple(ListeningToday.from_json(g) for g in data.get("listening") or []),
        )


@dataclass(frozen=True)
class LogEntry:
    time: float
    level: str
    logger: str
    message: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LogEntry:
        return cls(
            time=_number(data, "time"),
            level=_text(data, "level").upper(),
            logger=_text(data, "logger"),
            message=_text(data, "message"),
        )

    @property
    def levelno(self) -> int:
        number = logging.getLevelName(self.level)
        return number if isinstance(number, int) else logging.INFO
