"""Typed records of the bot's state, and their plain-dict form in the TinyDB files.

Unknown keys in a stored document are ignored and missing ones take their defaults, so a document
written by an older (or newer, same-schema) bot still loads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

R = TypeVar("R", bound="Record")


_ATOMS = (int, float, str, bool, type(None))


def _plain(value: Any) -> Any:
    """A copy of a JSON-shaped value (lists and dicts of lists, dicts and atoms), sharing only atoms.

    `dataclasses.asdict` does this through `copy.deepcopy`, one call per list element: 25 ms for 300
    guilds' playback (with a 114-surah shuffle order each), every flush, holding the GIL the audio pacer
    needs every 20 ms. This is about 20 times faster."""
    if isinstance(value, dict):
        return {k: v if type(v) in _ATOMS else _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [v if type(v) in _ATOMS else _plain(v) for v in value]
    return value


class Record:
    """Conversion between a dataclass record and its stored document."""

    def to_document(self) -> dict[str, Any]:
        names = _field_names(type(self))
        return {name: _plain(getattr(self, name)) for name in names}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Self:
        return cls(**{name: document[name] for name in _field_names(cls) if name in document})


_FIELD_NAMES: dict[type[Record], tuple[str, ...]] = {}


def _field_names(cls: type[Record]) -> tuple[str, ...]:
    """The record's field names in declaration order (the stored document keeps that order)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    return names


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
    #: Given to members while they listen (or after `listening.role_after_minutes`); None: no role.
    listener_role_id: int | None = None
    #: The daily verse: the text channel it is posted in and the time of day ("HH:MM", the guild's
    #: clock); None: no daily verse.
    daily_verse_channel_id: int | None = None
    daily_verse_time: str | None = None
    #: Where the bot posts alerts itself (/setup log_channel), unless a webhook URL is saved.
    log_channel_id: int | None = None
    #: The language of the panel, quiz, daily verse and replies ("en", "ar"; /setup language);
    #: None: the server's preferred locale, else English (quranbot/bot/localizer.py).
    language: str | None = None


@dataclass
class DailyVerseState(Record):
    """What a guild's daily verse remembers: the last slot handled and the ayahs posted this round."""

    guild_id: int
    #: The local date (ISO) of the last daily slot handled (posted, or skipped as too late); written
    #: before the post, so a restart never posts a slot twice.
    last_slot: str = ""
    #: Absolute ayah indices (0 = 1:1) posted in this round of the pool, oldest first; bounded by the
    #: pool (6,236 at most): a new round starts when every ayah of the pool was posted.
    posted: list[int] = field(default_factory=list)
    #: Completed rounds of the pool.
    rounds: int = 0
    #: Unix time the channel or time was last set: slots up to then are not posted (a new setting
    #: starts at its next time of day, not at once).
    set_at: float = 0.0


@dataclass
class QuizScore(Record):
    """One member's quiz record in one guild (see quranbot/quiz/member_stats.py for how it changes)."""

    guild_id: int
    user_id: int
    points: int = 0
    answered: int = 0
    correct: int = 0
    #: Correct answers in a row, now; a wrong answer resets it, a question not answered leaves it.
    streak: int = 0
    best_streak: int = 0
    #: Per category: [correct, answered].
    categories: dict[str, list[int]] = field(default_factory=dict)
    #: Achievement ids, in the order they were earned.
    achievements: list[str] = field(default_factory=list)
    #: Unix time of the member's last answer.
    last_activity: float = 0.0
    #: Points per day (the guild's local date, ISO), for the week and month leaderboards; bounded.
    daily: dict[str, int] = field(default_factory=dict)
    #: The last quizzes scored into this record, so a reveal repeated after a crash counts once.
    recent_quizzes: list[int] = field(default_factory=list)


@dataclass
class OpenQuiz(Record):
    """A question on screen, waiting for its reveal: enough to reveal it (or re-arm it) after a restart."""

    quiz_id: int
    guild_id: int
    channel_id: int
    question_id: str
    #: Unix times: when the question was posted, and when it closes.
    posted_at: float
    deadline: float
    message_id: int | None = None
    #: user id (as text: JSON keys) -> [choice 0–3, seconds after posting].
    answers: dict[str, list[float]] = field(default_factory=dict)
    #: Who asked: a member's id, or None for the schedule.
    asked_by: int | None = None


@dataclass
class QuizGuild(Record):
    """A guild's quiz settings and memory: deadline, schedule, recent questions (no repeats)."""

    guild_id: int
    #: Seconds a question stays open; None: config.toml's (default 30).
    deadline_seconds: int | None = None
    #: The scheduled quiz: its channel and interval; None: not scheduled (or config.toml's).
    schedule_channel_id: int | None = None
    schedule_interval_seconds: int | None = None
    #: Unix time of the last schedule slot handled (posted, or deliberately skipped); written first.
    last_slot: float = 0.0
    #: The most recent question ids asked here, oldest first; bounded (quranbot/quiz/picker.py).
    history: list[str] = field(default_factory=list)
    #: Local date (ISO) -> [questions revealed, answers], for "today" in status; the last 31 days.
    activity: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class ListeningStats(Record):
    """One member's listening in one guild (see quranbot/listening/ for how it changes).

    Times are Unix seconds; "local" means the guild's time zone (config.toml's `timezone`).
    """

    guild_id: int
    user_id: int
    #: Seconds listened in all, and sessions (continuous stays in the channel) started.
    seconds: float = 0.0
    sessions: int = 0
    #: Unix time of the last listening second counted, and of the first.
    last_seen: float = 0.0
    first_seen: float = 0.0
    #: Seconds per reciter slug, and per surah (its number as text: JSON keys).
    reciters: dict[str, float] = field(default_factory=dict)
    surahs: dict[str, float] = field(default_factory=dict)
    #: Seconds per local hour of the day, 0–23 (empty until the first second is counted).
    hours: list[float] = field(default_factory=list)
    #: Seconds per local date (ISO), for the week and month leaderboards and the day streak; bounded.
    daily: dict[str, float] = field(default_factory=dict)
    #: The session going on: {"start", "end", "seconds", "reciters": [slug], "surahs": [n]}; None between.
    session: dict[str, Any] | None = None
    #: The last sessions (same shape), oldest first; bounded.
    recent_sessions: list[dict[str, Any]] = field(default_factory=list)
    longest_session: float = 0.0
    #: Surahs heard in full (first frame to last, on any reciter) towards the current khatm, sorted.
    heard: list[int] = field(default_factory=list)
    #: Complete khatms (all 114 heard in full), and surahs heard in full in all (repeats included).
    khatms: int = 0
    surahs_completed: int = 0
    #: Achievement ids, in the order they were earned.
    achievements: list[str] = field(default_factory=list)


@dataclass
class SurahAudience(Record):
    """Who has heard every frame of the surah a guild plays now, from its first: they are credited
    with it when its last frame plays. Saved with the position, so a restart mid-surah keeps them."""

    guild_id: int
    surah: int | None = None
    reciter: str | None = None
    members: list[int] = field(default_factory=list)
