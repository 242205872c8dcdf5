"""The player: what a guild hears next, 20 ms at a time. It knows nothing of Discord.

One `Player` per guild owns the order (sequential, shuffle as a persisted permutation, loop), the
position (counted in Opus frames, exact) and the state. The voice layer calls `read_frame()` every
20 ms from its audio thread; surah after surah comes out of that one call with no break, because the
next track is opened before the current one ends. Commands (`next`, `play_surah`, ...) come from the
event loop and take effect at the next frame boundary.

A "surah" is one whole-surah file, or, for a per-ayah reciter, the chain of its ayah files (with the
bismillah file first where the reciter has one).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum

from quranbot.audio.library import Library, LibraryError, Reciter, Track
from quranbot.audio.ogg import OggError, iter_opus_packets

log = logging.getLogger(__name__)

SURAH_COUNT = 114
FRAMES_PER_SECOND = 50
#: How many frames before a track's end the next one is opened.
OPEN_AHEAD_FRAMES = 50
#: `previous` within this many frames of a surah's start goes to the previous surah, else restarts it.
RESTART_THRESHOLD_FRAMES = 3 * FRAMES_PER_SECOND
#: An Opus packet of silence (the one Discord clients send).
SILENCE_FRAME = b"\xf8\xff\xfe"


class PlayerState(StrEnum):
    IDLE = "idle"
    PLAYING = "playing"
    PAUSED = "paused"


class PlayerError(ValueError):
    """A command that cannot be done (no such reciter, no per-ayah audio, ...); the message says why."""


@dataclass(frozen=True)
class PlayerSettings:
    """What the player needs to remember across restarts (the store keeps it as GuildPlayback)."""

    reciter: str | None = None
    surah: int = 1
    ayah: int | None = None
    position_frames: int = 0
    loop: bool = False
    shuffle: bool = False
    shuffle_order: tuple[int, ...] = ()
    paused: bool = False


@dataclass(frozen=True)
class NowPlaying:
    state: PlayerState
    reciter: str | None
    reciter_name: str | None
    surah: int
    ayah: int | None
    #: Frames played in the current surah (across its ayah files for a per-ayah reciter).
    position_frames: int
    #: Frames in the current surah.
    total_frames: int
    loop: bool
    shuffle: bool

    @property
    def elapsed_seconds(self) -> float:
        return self.position_frames / FRAMES_PER_SECOND

    @property
    def total_seconds(self) -> float:
        return self.total_frames / FRAMES_PER_SECOND


@dataclass(frozen=True)
class PlayerEvent:
    """`kind`: started, track_changed, surah_finished, progress, paused, resumed, skipped (a missing or
    broken track).

    `surah_finished` comes when a surah's last frame has played (its last track ended, not broken), with
    `now` still on that surah; `track_changed` has detail "jump" when a command moved playback."""

    kind: str
    now: NowPlaying
    detail: str = ""


@dataclass
class _Open:
    """A track being read: its packets, and how far into it we are."""

    track: Track
    packets: Iterator[bytes]
    frame: int = 0
    first: bytes | None = None
    #: It stopped with a read error, so its surah was not heard to the end.
    broken: bool = False


@dataclass
class _Cursor:
    """Where in the order we are: the surah, its tracks, which one plays, frames before it."""

    surah: int
    tracks: list[Track]
    index: int = 0
    frames_before: int = 0
    total_frames: int = field(default=0)


class Player:
    def __init__(
        self,
        library: Library,
        settings: PlayerSettings,
        on_event: Callable[[PlayerEvent], None] = lambda event: None,
        rng: random.Random | None = None,
    ) -> None:
        self._library = library
        self._settings = settings
        self._on_event = on_event
        self._rng = rng or random.Random()
        self._lock = threading.RLock()
        self._reciter: Reciter | None = None
        self._cursor: _Cursor | None = None
        self._current: _Open | None = None
        self._next: tuple[_Cursor, _Open] | None = None
        self._state = PlayerState.PAUSED if settings.paused else PlayerState.IDLE
        self.frames_sent = 0
        self._reported_missing: set[tuple[str, int]] = set()
        self._reported_broken: set[str] = set()

    # -- the audio thread ---------------------------------------------------------------------------------
    def read_frame(self) -> bytes:
        """The next 20 ms Opus packet; b"" only when there is nothing at all to play."""
        with self._lock:
            if self._current is None and not self._start():
                return b""
            if self._state is PlayerState.PAUSED:
                return SILENCE_FRAME  # the voice layer normally stops reading while paused
            for _ in range(SURAH_COUNT * 2):  # skip broken tracks, but never loop forever
                assert self._current is not None and self._cursor is not None
                packet = self._pull(self._current)
                if packet is not None:
                    self._current.frame += 1
                    self.frames_sent += 1
                    if self._current.frame % FRAMES_PER_SECOND == 0:
                        self._emit("progress")
                    if self._frames_left() == OPEN_AHEAD_FRAMES:
                        self._prepare_next()
                    return packet
                if not self._advance():
                    return b""
            return b""

    def _pull(self, opened: _Open) -> bytes | None:
        if opened.first is not None:
            packet, opened.first = opened.first, None
            return packet
        try:
            return next(opened.packets)
        except StopIteration:
            return None
        except (OggError, OSError) as exc:
            opened.broken = True
            self._emit("skipped", f"{opened.track.file} stopped playing: {exc}")
            log.error(
                "Track %s of %s is broken (%s); skipping it", opened.track.file, self._settings.reciter, exc
            )
            return None

    # -- commands (event loop) --------------------------------------------------------------------------
    def now_playing(self) -> NowPlaying:
        with self._lock:
            cursor = self._cursor
            position = 0
            if cursor is not None:
                position = cursor.frames_before + (self._current.frame if self._current else 0)
            reciter = self._reciter
            current_track = self._current.track if self._current else None
            return NowPlaying(
                state=self._state,
                reciter=self._settings.reciter,
                reciter_name=reciter.name if reciter else None,
                surah=cursor.surah if cursor else self._settings.surah,
                ayah=current_track.ayah if current_track and current_track.ayah else None,
                position_frames=position if cursor else self._settings.position_frames,
                total_frames=cursor.total_frames if cursor else 0,
                loop=self._settings.loop,
                shuffle=self._settings.shuffle,
            )

    @property
    def state(self) -> PlayerState:
        return self._state

    def settings(self) -> PlayerSettings:
        """The settings to save: the current surah, ayah and position included."""
        with self._lock:
            now = self.now_playing()
            ayah = (
                self._current.track.ayah if self._current and self._current.track.ayah is not None else None
            )
            frame = self._current.frame if self._current else self._settings.position_frames
            return replace(
                self._settings,
                surah=now.surah,
                ayah=ayah,
                position_frames=frame if self._cursor else self._settings.position_frames,
                paused=self._state is PlayerState.PAUSED,
            )

    def pause(self) -> None:
        """Pause now, or, before the first frame was read, start paused."""
        with self._lock:
            if self._state is not PlayerState.PAUSED:
                self._state = PlayerState.PAUSED
                self._emit("paused")

    def resume(self) -> None:
        with self._lock:
            if self._state is PlayerState.PAUSED:
                self._state = PlayerState.PLAYING if self._current else PlayerState.IDLE
                self._emit("resumed")

    def set_loop(self, loop: bool) -> None:
        with self._lock:
            self._settings = replace(self._settings, loop=loop)
            self._next = None

    def set_shuffle(self, shuffle: bool) -> None:
        with self._lock:
            order = (
                self._new_order()
                if shuffle and not self._settings.shuffle_order
                else self._settings.shuffle_order
            )
            self._settings = replace(self._settings, shuffle=shuffle, shuffle_order=order)
            self._next = None

    def play_surah(self, surah: int, reciter: str | None = None) -> None:
        with self._lock:
            if reciter is not None:
                self._use_reciter(reciter)
            self._jump(surah, ayah=None)

    def play_ayah(self, surah: int, ayah: int) -> None:
        with self._lock:
            reciter = self._require_reciter()
            if ayah not in reciter.ayahs(surah):
                raise PlayerError(f"{reciter.name} has no per-ayah audio for {surah}:{ayah}")
            self._jump(surah, ayah=ayah)

    def next(self) -> None:
        with self._lock:
            current = self._current_surah()
            self._jump(self._following(current, forward=True, honour_loop=False), ayah=None, avoid=current)

    def previous(self) -> None:
        with self._lock:
            now = self.now_playing()
            if now.position_frames > RESTART_THRESHOLD_FRAMES:
                self._jump(now.surah, ayah=None)
            else:
                self._jump(
                    self._following(now.surah, forward=False, honour_loop=False), ayah=None, forward=False
                )

    def set_reciter(self, slug: str) -> None:
        """Switch reciter, keeping the surah (and the ayah where both reciters have per-ayah audio)."""
        with self._lock:
            now = self.now_playing()
            self._use_reciter(slug)
            reciter = self._require_reciter()
            ayah = now.ayah if now.ayah and now.ayah in reciter.ayahs(now.surah) else None
            self._jump(now.surah, ayah=ayah)

    # -- internals --------------------------------------------------------------------------------------
    def _use_reciter(self, slug: str) -> None:
        try:
            reciter = self._library.get(slug)
        except LibraryError as exc:
            raise PlayerError(str(exc)) from None
        self._reciter = reciter
        self._settings = replace(self._settings, reciter=reciter.slug)

    def _require_reciter(self) -> Reciter:
        if self._reciter is None:
            if self._settings.reciter is None:
                reciters = self._library.reciters()
                if not reciters:
                    raise PlayerError(
                        "No reciters are imported: run `quranbot reciter import` (or `reciter sample`)"
                    )
                self._settings = replace(self._settings, reciter=reciters[0].slug)
            self._use_reciter(self._settings.reciter or "")
        assert self._reciter is not None
        return self._reciter

    def _current_surah(self) -> int:
        return self._cursor.surah if self._cursor else self._settings.surah

    def _start(self) -> bool:
        """Open the saved position (first call) after a restart; False if nothing can play."""
        try:
            self._require_reciter()
        except PlayerError as exc:
            log.error("%s", exc)
            return False
        settings = self._settings
        opened = self._open_at(settings.surah, settings.ayah, settings.position_frames)
        if not opened:
            return False
        if self._state is not PlayerState.PAUSED:
            self._state = PlayerState.PLAYING
        self._emit("started")
        return True

    def _open_at(
        self, surah: int, ayah: int | None, frame: int, forward: bool = True, avoid: int | None = None
    ) -> bool:
        """Make `surah` (from `ayah`, at `frame` into that track) current; surahs it cannot play are
        skipped in the direction of travel (`previous` goes back past a missing surah, not forward)."""
        for _ in range(SURAH_COUNT):
            cursor = None if surah == avoid and self._several_surahs() else self._cursor_for(surah)
            if cursor is not None:
                if ayah is not None:
                    cursor.index = next((i for i, t in enumerate(cursor.tracks) if t.ayah == ayah), 0)
                    cursor.frames_before = sum(t.frames for t in cursor.tracks[: cursor.index])
                opened = self._open(cursor.tracks[cursor.index], frame)
                if opened is not None:
                    self._cursor, self._current, self._next = cursor, opened, None
                    return True
            surah = self._following(surah, forward=forward, honour_loop=False)
            ayah, frame = None, 0
        return False

    def _cursor_for(self, surah: int) -> _Cursor | None:
        reciter = self._require_reciter()
        whole = reciter.track(surah)
        if whole is not None:
            tracks = [whole]
        else:
            bismillah = reciter.track(surah, 0)
            tracks = ([bismillah] if bismillah else []) + [
                t for a in reciter.ayahs(surah) if (t := reciter.track(surah, a)) is not None
            ]
        if not tracks:
            if (reciter.slug, surah) not in self._reported_missing:  # once per surah, not every cycle
                self._reported_missing.add((reciter.slug, surah))
                log.warning("%s has no audio for surah %d; skipping it", reciter.name, surah)
            return None
        return _Cursor(surah=surah, tracks=tracks, total_frames=sum(t.frames for t in tracks))

    def _open(self, track: Track, frame: int = 0) -> _Open | None:
        assert self._reciter is not None
        path = self._reciter.path(track)
        try:
            packets = iter_opus_packets(path, start_frame=min(frame, max(0, track.frames - 1)))
            first = next(packets)
        except (OggError, OSError, StopIteration) as exc:
            reason = "it is empty" if isinstance(exc, StopIteration) else str(exc)
            if track.file not in self._reported_broken:  # one line per broken file, not one per attempt
                self._reported_broken.add(track.file)
                log.error("Cannot play %s of %s (%s); skipping it", track.file, self._reciter.name, reason)
                self._emit("skipped", f"{track.file}: {reason}")
            return None
        self._reported_broken.discard(track.file)
        return _Open(track=track, packets=packets, frame=min(frame, max(0, track.frames - 1)), first=first)

    def _frames_left(self) -> int:
        assert self._current is not None
        return self._current.track.frames - self._current.frame

    def _upcoming(self) -> tuple[_Cursor, int] | None:
        """The cursor and track index that follow the current track."""
        cursor = self._cursor
        assert cursor is not None
        if cursor.index + 1 < len(cursor.tracks):
            following = replace(cursor, index=cursor.index + 1)
            following.frames_before = cursor.frames_before + cursor.tracks[cursor.index].frames
            return following, following.index
        leaving = cursor.surah
        for _ in range(SURAH_COUNT):
            surah = self._following(cursor.surah, forward=True, honour_loop=True)
            repeat = surah == leaving and not self._settings.loop and self._several_surahs()
            upcoming = None if repeat else self._cursor_for(surah)
            if upcoming is not None:
                return upcoming, 0
            cursor = replace(cursor, surah=surah)
        return None

    def _several_surahs(self) -> bool:
        """More than one surah to choose from (otherwise "not the same one again" cannot apply)."""
        reciter = self._reciter
        return reciter is not None and len({s for s, _ in reciter.tracks}) > 1

    def _prepare_next(self) -> None:
        upcoming = self._upcoming()
        if upcoming is None:
            return
        cursor, index = upcoming
        opened = self._open(cursor.tracks[index])
        if opened is not None:
            self._next = (cursor, opened)

    def _advance(self) -> bool:
        """The current track ended: switch to the one opened ahead (or open it now)."""
        current, cursor = self._current, self._cursor
        last_of_surah = cursor is not None and cursor.index == len(cursor.tracks) - 1
        if current is not None and not current.broken and last_of_surah:
            self._emit("surah_finished")
        if self._next is None:
            self._prepare_next()
        if self._next is None:
            if not self._skip_forward():
                return False
            self._emit("track_changed")
            return True
        cursor, opened = self._next
        changed_surah = self._cursor is None or cursor.surah != self._cursor.surah or cursor.index == 0
        self._cursor, self._current, self._next = cursor, opened, None
        if changed_surah:
            self._remember_order(cursor.surah)
        self._emit("track_changed")
        return True

    def _skip_forward(self) -> bool:
        current = self._current_surah()
        return self._open_at(self._following(current, forward=True, honour_loop=False), None, 0)

    def _jump(self, surah: int, ayah: int | None, forward: bool = True, avoid: int | None = None) -> None:
        if not 1 <= surah <= SURAH_COUNT:
            raise PlayerError(f"Surah {surah} does not exist: choose 1–{SURAH_COUNT}")
        self._require_reciter()
        if not self._open_at(surah, ayah, 0, forward, avoid):
            raise PlayerError(
                f"Nothing of {self._reciter.name if self._reciter else 'this reciter'} can play"
            )
        if self._state is PlayerState.IDLE:
            self._state = PlayerState.PLAYING
        self._remember_order(self._current_surah())
        self._emit("track_changed", "jump")

    def _following(self, surah: int, forward: bool, honour_loop: bool) -> int:
        settings = self._settings
        if honour_loop and settings.loop:
            return surah
        if settings.shuffle:
            order = list(settings.shuffle_order) or list(self._new_order())
            position = order.index(surah) if surah in order else -1
            step = 1 if forward else -1
            if 0 <= position + step < len(order):
                return order[position + step]
            if forward:  # the permutation is used up: a new one, not starting with what just played
                fresh = self._new_order(avoid_first=self._current_surah())
                self._settings = replace(settings, shuffle_order=fresh)
                return fresh[0]
            return order[-1]
        return surah % SURAH_COUNT + 1 if forward else (surah - 2) % SURAH_COUNT + 1

    def _remember_order(self, surah: int) -> None:
        self._settings = replace(self._settings, surah=surah)

    def _new_order(self, avoid_first: int | None = None) -> tuple[int, ...]:
        order = list(range(1, SURAH_COUNT + 1))
        self._rng.shuffle(order)
        if avoid_first is not None and order[0] == avoid_first:
            order.append(order.pop(0))
        return tuple(order)

    def _emit(self, kind: str, detail: str = "") -> None:
        try:
            self._on_event(PlayerEvent(kind, self.now_playing(), detail))
        except Exception:  # a subscriber's bug must never stop the audio
            log.exception("A player event handler failed")
