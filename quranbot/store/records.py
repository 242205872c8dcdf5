"""Typed records of the bot's state, and their plain-dict form in the TinyDB files.

Unknown keys in a stored document are ignored and missing ones take their defaults, so a document
written by an older (or newer, same-schema) bot still loads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

R = TypeVar("R", bound="Record")


class Record:
    """Conversion between a dataclass record and its stored document."""

    def to_document(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in document.items() if k in names})


@dataclass
class GuildPlayback(Record):
    """Where a guild's recitation is, so a restart resumes at the same frame."""

    guild_id: int
    reciter: str | None = None
    surah: int = 1
    ayah: int | None = None
    #: 20 ms Opus frames played into the current track.
    position_frames: int = 0
    loop: bool = False
    shuffle: bool = False
    shuffle_order: list[int] = field(default_factory=list)
    paused: bool = False


@dataclass
class GuildSettings(Record):
    guild_id: int
    voice_channel_id: int | None = None
    panel_channel_id: int | None = None
    panel_message_id: int | None = None
    controller_role_id: int | None = None


@dataclass
class QuizScore(Record):
    guild_id: int
    user_id: int
    points: int = 0
    answered: int = 0
    correct: int = 0
    streak: int = 0
    best_streak: int = 0


@dataclass
class ListeningStats(Record):
    guild_id: int
    user_id: int
    seconds: float = 0.0
    sessions: int = 0
    #: Unix time of the last listening second counted.
    last_seen: float = 0.0
