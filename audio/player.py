"""The player: what a guild hears next, 20 ms at a time. It knows nothing of Discord.

One `Player` per guild owns the order (sequential, shuffle as a persisted permutation, loop), the
position (counted in Opus frames, exact) and the state. The voice layer calls `read_frame()` every
20 ms from its audio thread; surah after surah comes out of that one call with no break, because the
next track is opened before the current one ends. Commands (`next`, `play_surah`, ...) come from the
event loop and take effect at the next frame boundary.

Track files are never opened or read by the player itself, nor under its lock: each track is read by
a `_TrackReader`, a daemon thread of its own that opens the file and keeps up to READ_AHEAD_FRAMES
packets ready in a small buffer. `read_frame()` only takes from that buffer; if it is empty (a slow
disk) it returns SILENCE_FRAME for those 20 ms instead of waiting, and the position does not move. A
track that does not answer within READ_DEADLINE_SECONDS (a dying disk, a hung network mount, a FIFO) is
skipped with one log line, and the next one plays. The event loop, which takes the same lock for every
command and for `now_playing()`, therefore never waits on a file (reciters' manifests, too, are read
before the lock is taken). Readers end at `close()`, or by themselves once nobody has taken from them
for READER_IDLE_SECONDS (the track is reopened at the same frame if it is needed again). A thread
stuck in a read cannot be killed in Python: it holds nothing but its own file, it is a daemon, and the
player neither reopens a file whose read has stalled nor starts more readers once MAX_STUCK_READERS of
them are stuck.

At a track boundary the files' own silence (the end padding of one, the encoder priming of the next:
~20 ms) is not played. When the next track is opened ahead, the join executor builds the few packets
that carry the end of one into the start of the other (`join.py`); at the frame where that join begins,
the rest of the current track (padding only) is dropped and the join's packets take the place of the
next track's first ones, so frame numbers in the next track keep their meaning in its file (a restart
resumes exactly). A join that is not ready in time, or whose next track a command replaced, is let go:
the packets then play as they are.

A "surah" is one whole-surah file, or, for a per-ayah reciter, the chain of its ayah files (with the
bismillah file first where the reciter has one).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from pathlib import Path

from quranbot.audio.join import BEGINNING_PACKETS, ENDING_PACKETS, Beginning, Ending, Join, build_join
from quranbot.audio.join_builder import JoinBuilder
from quranbot.audio.library import Library, LibraryError, Reciter, Track
from quranbot.audio.ogg import OggError, OpusPacketStream
from quranbot.audio.opus_codec import OpusError

log = logging.getLogger(__name__)

SURAH_COUNT = 114
FRAMES_PER_SECOND = 50
#: How many frames before a track's end the next one is opened.
OPEN_AHEAD_FRAMES = 50
#: `previous` within this many frames of a surah's start goes to the previous surah, else restarts it.
RESTART_THRESHOLD_FRAMES = 3 * FRAMES_PER_SECOND
#: An Opus packet of silence (the one Discord clients send).
SILENCE_FRAME = b"\xf8\xff\xfe"
#: A track whose file does not answer (open, or the next read) for this long is skipped.
READ_DEADLINE_SECONDS = 2.0
#: Packets a track's reader keeps ready (2 s): a disk that is slow for less than that is not heard.
READ_AHEAD_FRAMES = 100
#: A full reader sleeps until this few packets are left, so it wakes about once a second, not per frame.
REFILL_AT_FRAMES = 50
#: The most one `read_frame()` waits for its reader (a thread's scheduling, a page's read: within half a
#: frame's budget), and only while the reader's request is younger than STALLED_SECONDS. A stalled
#: reader gets no wait at all: the frame is silence.
FRAME_WAIT_SECONDS = 0.010
#: A reader nobody takes from for this long (a paused or abandoned player) closes its file and ends; the
#: player reopens the track at the same frame when it needs it again.
READER_IDLE_SECONDS = 30.0
#: A read pending this long has stalled: `read_frame()` no longer waits for it, and its file is not
#: opened by a second reader meanwhile (a command choosing it again is refused, the track skipped): a
#: second thread would only hang beside the first.
STALLED_SECONDS = 0.5
#: Readers of one player stuck in a read past the deadline before it opens no more files (and holds
#: its position, in silence) until one of them returns: a dying disk must not pile up threads.
MAX_STUCK_READERS = 4
#: How long `close()` waits for its readers' threads to end.
CLOSE_WAIT_SECONDS = 0.5
#: How long a joiner waits for the two tracks' readers: the join is needed about when the next track is
#: opened ahead (OPEN_AHEAD_FRAMES) runs out, so a join later than that is never used.
JOIN_WAIT_SECONDS = OPEN_AHEAD_FRAMES / FRAMES_PER_SECOND


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
    """`kind`: started, track_changed, surah_finished, progress, paused, resumed, skipped (a missing,
    broken or unresponsive track).

    `surah_finished` comes when a surah's last frame has played (its last track ended, not broken), with
    `now` still on that surah; `track_changed` has detail "jump" when a command moved playback, and
    otherwise comes with the new track's first frame."""

    kind: str
    now: NowPlaying
    detail: str = ""


class _Status(Enum):
    """What a reader with an empty buffer is doing."""

    READING = "reading"  # more may come
    ENDED = "ended"  # the end of the file, every packet taken
    FAILED = "failed"  # stopped by an error (`error` says which)
    EXPIRED = "expired"  # closed before the end (idle, or by the player): reopen at the same frame


class _TrackReader:
    """One track, read ahead by a daemon thread of its own: the only code that opens or reads a track.

    The thread fills a buffer of up to READ_AHEAD_FRAMES packets and sleeps while it is full; the player
    takes packets without ever waiting on the file. The buffer's lock is never held across a read, so
    a read that never returns blocks this thread alone, which then holds nothing but its own file."""

    def __init__(self, path: Path, start_frame: int) -> None:
        self.path = path
        self.start_frame = start_frame
        self.error = ""
        self._cond = threading.Condition(threading.Lock())
        self._packets: deque[bytes] = deque()
        self._status = _Status.READING
        self._closed = False
        #: Since when the thread has been asked for a packet it has not delivered yet (None: it sleeps
        #: on a full buffer, or it has finished).
        self._asked_at: float | None = time.monotonic()
        self._waiters = 0
        self._taken = 0
        #: The file's first packets and pre-skip, for a join into this track (read from its start only).
        self._beginning: Beginning | None = None
        #: The file's last packets and end granule, for a join out of it (once its end is read).
        self._ending: Ending | None = None
        #: Set once each is known, or known never to come (the reader stopped first).
        self._beginning_known = threading.Event()
        self._ending_known = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"track reader {path.name}", daemon=True)
        self._thread.start()

    # -- the reader's thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        packets = OpusPacketStream(self.path, self.start_frame)  # close() closes its file, here
        status, error = _Status.ENDED, ""
        head: list[bytes] | None = [] if self.start_frame == 0 else None
        tail: deque[bytes] = deque(maxlen=ENDING_PACKETS)  # the last packets read, for a join out of it
        count = 0
        try:
            for packet in packets:  # each step may block on the file system, never holding the lock
                count += 1
                tail.append(packet)
                if head is not None:
                    head.append(packet)
                    if len(head) == BEGINNING_PACKETS:
                        self._begun(packets, head)
                        head = None
                with self._cond:
                    if self._closed:
                        status = _Status.EXPIRED
                        break
                    self._packets.append(packet)
                    if self._waiters:
                        self._cond.notify_all()
                    if len(self._packets) < READ_AHEAD_FRAMES:
                        self._asked_at = time.monotonic()
                        continue
                    self._asked_at = None
                    if not self._cond.wait_for(self._wanted, READER_IDLE_SECONDS):
                        self._closed = True  # nobody takes: let the file go, the player reopens here
                    if self._closed:
                        status = _Status.EXPIRED
                        break
                    self._asked_at = time.monotonic()
            else:  # the end of the file: what a join out of this track needs
                assert packets.head is not None
                if head:
                    self._begun(packets, head)  # a file shorter than BEGINNING_PACKETS
                first = self.start_frame + count - len(tail)
                self._ending = Ending(tuple(tail), first, packets.granule, packets.head.channels)
        except (OggError, OSError) as exc:
            status, error = _Status.FAILED, str(exc)
        except Exception as exc:  # a bug: reported like a broken file, never lost in a thread
            log.exception("Reading %s failed unexpectedly", self.path)
            status, error = _Status.FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            with contextlib.suppress(OSError):
                packets.close()  # closes the file, here, where blocking is harmless
            with self._cond:
                if self._closed:
                    status = _Status.EXPIRED
                    self._packets.clear()
                self._status, self.error, self._asked_at = status, error, None
                self._cond.notify_all()
            self._beginning_known.set()
            self._ending_known.set()

    def _begun(self, packets: OpusPacketStream, head: list[bytes]) -> None:
        assert packets.head is not None
        self._beginning = Beginning(tuple(head), packets.head.pre_skip, packets.head.channels)
        self._beginning_known.set()

    def _wanted(self) -> bool:
        return self._closed or len(self._packets) <= REFILL_AT_FRAMES

    # -- the player's side ------------------------------------------------------------------------------
    def take(self) -> bytes | _Status:
        """The next packet, or, with the buffer empty, what the reader is doing. Never waits on I/O."""
        with self._cond:
            if self._packets:
                packet = self._packets.popleft()
                self._taken += 1
                if len(self._packets) == REFILL_AT_FRAMES:
                    if self._asked_at is None and self._status is _Status.READING:
                        self._asked_at = time.monotonic()  # asked from now on, even before it wakes
                    self._cond.notify_all()
                return packet
            return self._status

    def wait(self, until: float) -> bool:
        """Wait for a packet or the end, until `until`, unless the pending read has stalled (see
        STALLED_SECONDS); True if something came."""
        with self._cond:
            self._waiters += 1
            try:
                while not self._packets and self._status is _Status.READING:
                    now = time.monotonic()
                    asked = self._asked_at
                    if asked is None or now - asked >= STALLED_SECONDS or now >= until:
                        return False
                    self._cond.wait(until - now)
                return True
            finally:
                self._waiters -= 1

    def pending_for(self, now: float) -> float:
        """How long the thread has been in an open or read that has not delivered yet (0: none)."""
        asked = self._asked_at
        return 0.0 if asked is None else now - asked

    def overdue(self, now: float) -> bool:
        """Asked for a packet READ_DEADLINE_SECONDS ago or more and still in that open or read."""
        return self.pending_for(now) >= READ_DEADLINE_SECONDS

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """Stop: a sleeping thread ends at once (closing its file); one inside a read, when it returns."""
        with self._cond:
            self._closed = True
            self._packets.clear()
            self._cond.notify_all()
        self._beginning_known.set()  # nothing more will come: a join waiting for it gives up
        self._ending_known.set()

    # -- joins (see `_Joiner`) ----------------------------------------------------------------------------
    def beginning(self, timeout: float) -> Beginning | None:
        """The file's first packets, waiting up to `timeout` for them (None: not read from its start, or
        the reader stopped first). For a joiner's thread, never the player's."""
        self._beginning_known.wait(timeout)
        return self._beginning

    def ending(self, timeout: float) -> Ending | None:
        """The file's last packets and end granule, waiting up to `timeout` for the reader to get there."""
        self._ending_known.wait(timeout)
        return self._ending

    def replace_head(self, packets: tuple[bytes, ...]) -> bool:
        """Put a join's packets in place of the track's first ones, if none was taken yet; True if done."""
        with self._cond:
            if self._closed or self._taken or self.start_frame or len(self._packets) < len(packets):
                return False
            for index, packet in enumerate(packets):
                self._packets[index] = packet
            return True

    def ended(self) -> bool:
        """The whole file is read (what is left of it is in the buffer)."""
        with self._cond:
            return self._status is _Status.ENDED and not self._closed

    def end_here(self) -> None:
        """Drop what is left of a fully read track: the next take says it ended (a join follows)."""
        with self._cond:
            self._packets.clear()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class _Joiner:
    """The join from one track into the next (`join.py`: ~20 ms of silence at the boundary removed),
    built on the player's join executor: decoding and encoding a few packets takes milliseconds, which
    the pacer's thread and the player's lock cannot spare. `join` stays None until it is ready, and for
    good if it cannot be made (the tracks are too short, a reader stopped, libopus refused): then the
    packets play as they are, as they always did."""

    def __init__(
        self,
        ending: _TrackReader,
        beginning: _TrackReader,
        bitrate: int,
        report: Callable[[str], None],
        builder: JoinBuilder,
    ) -> None:
        self.ending_reader = ending
        self.join: Join | None = None
        self._beginning_reader = beginning
        self._bitrate = bitrate
        self._report = report
        self._builder = builder
        self._future = builder.submit(self._run)

    def _run(self) -> None:
        key = (self.ending_reader.path, self._beginning_reader.path, self._bitrate)
        known, join = self._builder.recall(key)
        if known:
            self.join = join
            return
        ending = self.ending_reader.ending(JOIN_WAIT_SECONDS)
        beginning = self._beginning_reader.beginning(JOIN_WAIT_SECONDS) if ending is not None else None
        if ending is None or beginning is None:
            return
        try:
            self.join = build_join(ending, beginning, self._bitrate)
            self._builder.remember(key, self.join)
        except OpusError as exc:
            self._report(f"{exc}")
        except Exception:  # a bug: the boundary keeps its silence, the stream goes on
            log.exception("Building the join into %s failed unexpectedly", self._beginning_reader.path.name)

    @property
    def alive(self) -> bool:
        return not self._future.done()

    def wait(self, timeout: float) -> None:
        concurrent.futures.wait([self._future], timeout)


@dataclass
class _Open:
    """A track being played: its reader, and how far into it we are."""

    track: Track
    reader: _TrackReader | None = None
    #: The track's next frame (what a new reader starts at).
    frame: int = 0
    #: Frames taken from it so far: 0 means it has not answered yet.
    played: int = 0
    #: It stopped with a read error, so its surah was not heard to the end.
    broken: bool = False
    #: The direction of travel when it was chosen: if it cannot play, its surah is skipped this way.
    forward: bool = True
    #: Why no reader may read it (an earlier read of the same file is stuck); "" if it may.
    refused: str = ""
    #: Builds the join into this track from the one before it (only on a track opened ahead).
    joiner: _Joiner | None = None


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
        joins: JoinBuilder | None = None,
    ) -> None:
        """`joins` builds the joins at track boundaries (audio/join_builder.py): a process with many
        players shares one; without it, the player has its own."""
        self._library = library
        self._settings = settings
        self._on_event = on_event
        self._rng = rng or random.Random()
        self._lock = threading.RLock()
        self._reciter: Reciter | None = None
        self._cursor: _Cursor | None = None
        self._current: _Open | None = None
        self._next: tuple[_Cursor, _Open] | None = None
        #: The next track was looked for (and opened, if there is one) for the current track.
        self._looked_ahead = False
        #: A `track_changed` is owed, sent with the new track's first frame.
        self._announce = False
        #: Tracks in a row that could not play at all: a whole cycle of them means nothing can.
        self._failures = 0
        self._readers: list[_TrackReader] = []
        self._joiners: list[_Joiner] = []
        self._join_builder = joins
        self._own_builder: JoinBuilder | None = None
        self._reported_joins: set[str] = set()
        self._at_reader_cap = False
        self._closed = False
        self._state = PlayerState.PAUSED if settings.paused else PlayerState.IDLE
        self.frames_sent = 0
        self._reported_missing: set[tuple[str, int]] = set()
        self._reported_broken: set[str] = set()

    # -- the audio thread ---------------------------------------------------------------------------------
    def read_frame(self, *, wait: bool = True) -> bytes:
        """The next 20 ms Opus packet; SILENCE_FRAME while the track's reader has nothing ready (the
        position does not move); b"" only when there is nothing at all to play. Never waits on a file:
        at most FRAME_WAIT_SECONDS for a reader that has not stalled, and without holding the lock; not
        at all with `wait=False` (a pacer shared by many guilds must not wait for one: then the reciter
        must have been looked up by `prepare()`, and without one the answer is b"")."""
        if self._reciter is None and not self._closed:
            if not wait:
                return b""
            self._find_reciter()
        until = 0.0
        while True:
            with self._lock:
                got = self._frame()
            if not isinstance(got, _TrackReader):
                return got
            if not wait:
                return SILENCE_FRAME
            until = until or time.monotonic() + FRAME_WAIT_SECONDS
            if not got.wait(until):
                return SILENCE_FRAME

    def _frame(self) -> bytes | _TrackReader:
        """One frame's work under the lock: a packet, b"", or the reader to wait for (its buffer is empty)."""
        if self._closed or (self._current is None and not self._start()):
            return b""
        if self._state is PlayerState.PAUSED:
            return SILENCE_FRAME  # the voice layer normally stops reading while paused
        for _ in range(SURAH_COUNT * 2):  # skip tracks that cannot play, but never loop forever
            current = self._current
            assert current is not None
            if current.reader is None and not current.refused:
                self._attach_reader(current)  # after close or idle; or not yet, at the cap
                if current.reader is None and not current.refused:
                    return SILENCE_FRAME  # too many reads are stuck: hold the position until one returns
            if self._next is not None and self._next[1].joiner is not None:
                self._join_here(current, self._next[1])
            reader = current.reader
            got = _Status.FAILED if reader is None else reader.take()
            if isinstance(got, bytes):
                return self._played(current, got)
            if got is _Status.EXPIRED:
                current.reader = None
                continue
            reason = current.refused or (reader.error if reader is not None else "")
            if got is _Status.READING:
                assert reader is not None
                if not reader.overdue(time.monotonic()):
                    return reader
                reason = f"did not answer in {READ_DEADLINE_SECONDS:g} s"
                got = _Status.FAILED
            moved = self._advance() if got is _Status.ENDED else self._fail(current, reason)
            if not moved:
                return b""
        return b""

    def _join_here(self, current: _Open, following: _Open) -> None:
        """At the frame where the join into the following track begins, switch to it: the rest of the
        current track (its padding) is dropped and the join's packets stand for the following track's
        first ones. A join not ready by then is let go: the packets play as they are. Never waits."""
        joiner = following.joiner
        assert joiner is not None
        join = joiner.join
        if join is None:
            if not joiner.alive:
                following.joiner = None  # it could not be made
            return
        if current.frame < join.at:
            return
        following.joiner = None
        reader, next_reader = current.reader, following.reader
        if current.frame > join.at or reader is not joiner.ending_reader or reader is None:
            log.debug("The join into %s came too late", following.track.file)
            return
        if next_reader is None or not reader.ended() or not next_reader.replace_head(join.packets):
            return
        reader.end_here()

    def _played(self, current: _Open, packet: bytes) -> bytes:
        if current.played == 0:
            self._reported_broken.discard(current.track.file)
            if self._announce:  # before the frame counts: the event says "at the start of this track"
                self._announce = False
                self._emit("track_changed")
        current.frame += 1
        current.played += 1
        self.frames_sent += 1
        self._failures = 0
        if current.frame % FRAMES_PER_SECOND == 0:
            self._emit("progress")
        if not self._looked_ahead and self._frames_left() <= OPEN_AHEAD_FRAMES:
            self._prepare_next()
        return packet

    def _fail(self, current: _Open, reason: str) -> bool:
        """The current track cannot go on: say so, and move on. One that never answered is skipped with
        its surah, in the direction of travel; one that stopped midway, by going on to the next track."""
        self._release(current)
        current.broken = True
        file = current.track.file
        if current.played:
            self._emit("skipped", f"{file} stopped playing: {reason}")
            log.error(
                "Track %s of %s stopped playing (%s); skipping it", file, self._settings.reciter, reason
            )
            return self._advance()
        if file not in self._reported_broken:  # one line per broken file, not one per attempt
            self._reported_broken.add(file)
            name = self._reciter.name if self._reciter else self._settings.reciter
            log.error("Cannot play %s of %s (%s); skipping it", file, name, reason)
            self._emit("skipped", f"{file}: {reason}")
        self._failures += 1
        if self._failures > self._surahs_with_audio():
            self._failures = 0  # a whole cycle and nothing played: nothing can (the caller tries again)
            return False
        assert self._cursor is not None
        surah = self._following(self._cursor.surah, forward=current.forward, honour_loop=False)
        if not self._open_at(surah, None, 0, forward=current.forward):
            return False
        self._announce = True
        return True

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
            self._drop_next()

    def set_shuffle(self, shuffle: bool) -> None:
        with self._lock:
            order = (
                self._new_order()
                if shuffle and not self._settings.shuffle_order
                else self._settings.shuffle_order
            )
            self._settings = replace(self._settings, shuffle=shuffle, shuffle_order=order)
            self._drop_next()

    def play_surah(self, surah: int, reciter: str | None = None) -> None:
        found = self._known_reciter() if reciter is None else self._lookup(reciter)
        with self._lock:
            self._adopt(found, switch=reciter is not None)
            self._jump(surah, ayah=None)

    def play_ayah(self, surah: int, ayah: int) -> None:
        found = self._known_reciter()
        with self._lock:
            reciter = self._adopt(found)
            if ayah not in reciter.ayahs(surah):
                raise PlayerError(f"{reciter.name} has no per-ayah audio for {surah}:{ayah}")
            self._jump(surah, ayah=ayah)

    def next(self) -> None:
        found = self._known_reciter()
        with self._lock:
            self._adopt(found)
            current = self._current_surah()
            self._jump(self._following(current, forward=True, honour_loop=False), ayah=None, avoid=current)

    def previous(self) -> None:
        found = self._known_reciter()
        with self._lock:
            self._adopt(found)
            now = self.now_playing()
            if now.position_frames > RESTART_THRESHOLD_FRAMES:
                self._jump(now.surah, ayah=None)
            else:
                self._jump(
                    self._following(now.surah, forward=False, honour_loop=False), ayah=None, forward=False
                )

    def set_reciter(self, slug: str) -> None:
        """Switch reciter, keeping the surah (and the ayah where both reciters have per-ayah audio)."""
        found = self._lookup(slug)
        with self._lock:
            now = self.now_playing()
            reciter = self._adopt(found, switch=True)
            ayah = now.ayah if now.ayah and now.ayah in reciter.ayahs(now.surah) else None
            self._jump(now.surah, ayah=ayah)

    def close(self) -> None:
        """Stop reading for good (the guild's recitation ends): every reader is told to stop and waited
        for briefly, so no thread or file is left behind, except a read stuck in the file system, whose
        thread ends when that read returns. Afterwards `read_frame()` returns b"" and commands only change
        the settings to save."""
        with self._lock:
            self._closed = True
            readers, self._readers = self._readers, []
            for reader in readers:
                reader.close()
            for opened in (self._current, self._next[1] if self._next else None):
                if opened is not None:
                    opened.reader = None
                    opened.joiner = None
            joiners, self._joiners = self._joiners, []
        deadline = time.monotonic() + CLOSE_WAIT_SECONDS
        for reader in readers:
            reader.join(max(0.0, deadline - time.monotonic()))
        for joiner in joiners:  # its readers are closed: it stops waiting for them at once
            joiner.wait(max(0.0, deadline - time.monotonic()))
        if self._own_builder is not None:  # its thread ends now, unless a join is still being built
            self._own_builder.shutdown(wait=not any(joiner.alive for joiner in joiners))
        stuck = [reader.path.name for reader in readers if reader.alive]
        if stuck:
            log.warning(
                "Closed with %d read(s) still stuck in the file system: %s", len(stuck), ", ".join(stuck)
            )

    # -- internals --------------------------------------------------------------------------------------
    def _lookup(self, slug: str | None) -> Reciter:
        """A reciter from the library (the first one without a slug). It reads manifest files, so it is
        called before taking the lock, never under it."""
        if slug is None:
            reciters = self._library.reciters()
            if not reciters:
                raise PlayerError(
                    "No reciters are imported: run `quranbot reciter import` (or `reciter sample`)"
                )
            return reciters[0]
        try:
            return self._library.get(slug)
        except LibraryError as exc:
            raise PlayerError(str(exc)) from None

    def _known_reciter(self) -> Reciter:
        """The current reciter, looked up (outside the lock) the first time."""
        return self._reciter or self._lookup(self._settings.reciter)

    def prepare(self) -> None:
        """Look up the saved reciter (it reads the library's manifests) if none is loaded yet: called off
        the audio thread before frames are asked for, so the shared pacer never touches the disk."""
        if self._reciter is None and not self._closed:
            self._find_reciter()

    def _find_reciter(self) -> None:
        """Before the first frame: the saved reciter, looked up outside the lock."""
        try:
            found = self._lookup(self._settings.reciter)
        except PlayerError as exc:
            log.error("%s", exc)
            return
        with self._lock:
            self._adopt(found)

    def _adopt(self, reciter: Reciter, switch: bool = False) -> Reciter:
        """Use `reciter` (looked up beforehand) if `switch` or if none is in use yet; the one in use."""
        if switch or self._reciter is None:
            self._reciter = reciter
            self._settings = replace(self._settings, reciter=reciter.slug)
        return self._reciter

    def _require_reciter(self) -> Reciter:
        if self._reciter is None:  # commands and read_frame look it up first, outside the lock
            raise PlayerError("No reciter is loaded")
        return self._reciter

    def _current_surah(self) -> int:
        return self._cursor.surah if self._cursor else self._settings.surah

    def _start(self) -> bool:
        """Open the saved position (first call) after a restart; False if nothing can play."""
        if self._reciter is None:
            return False  # read_frame() logged why
        settings = self._settings
        if not self._open_at(settings.surah, settings.ayah, settings.position_frames):
            return False
        if self._state is not PlayerState.PAUSED:
            self._state = PlayerState.PLAYING
        self._announce = False
        self._emit("started")
        return True

    def _open_at(
        self, surah: int, ayah: int | None, frame: int, forward: bool = True, avoid: int | None = None
    ) -> bool:
        """Make `surah` (from `ayah`, at `frame` into that track) current; surahs without audio are
        skipped in the direction of travel (`previous` goes back past a missing surah, not forward), and
        so, when its reader reports it, is one whose file cannot play."""
        for _ in range(SURAH_COUNT):
            cursor = None if surah == avoid and self._several_surahs() else self._cursor_for(surah)
            if cursor is not None:
                if ayah is not None:
                    cursor.index = next((i for i, t in enumerate(cursor.tracks) if t.ayah == ayah), 0)
                    cursor.frames_before = sum(t.frames for t in cursor.tracks[: cursor.index])
                self._release(self._current)
                self._drop_next()
                self._cursor = cursor
                self._current = self._open(cursor.tracks[cursor.index], frame, forward)
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

    def _open(self, track: Track, frame: int = 0, forward: bool = True) -> _Open:
        """The track, its reader started (no I/O here: the reader's thread opens the file)."""
        opened = _Open(track=track, frame=min(frame, max(0, track.frames - 1)), forward=forward)
        self._attach_reader(opened)
        return opened

    def _attach_reader(self, opened: _Open) -> None:
        """Start a reader for `opened` at its frame. A file whose earlier read has stalled is refused
        (`refused` says why); with MAX_STUCK_READERS stuck, none is started (tried again each frame)."""
        if self._closed:
            return
        now = time.monotonic()
        self._readers = [reader for reader in self._readers if reader.alive]
        stalled = [reader for reader in self._readers if reader.pending_for(now) >= STALLED_SECONDS]
        path = self._require_reciter().path(opened.track)
        if any(reader.path == path for reader in stalled):
            opened.refused = "still not answering: an earlier read of it has not returned"
            return
        stuck = [reader for reader in self._readers if reader.overdue(now)]
        if len(stuck) >= MAX_STUCK_READERS:
            if not self._at_reader_cap:
                self._at_reader_cap = True
                log.error(
                    "%d reads of track files are stuck (a dying disk or a hung mount?): opening no other "
                    "file until one of them returns",
                    len(stuck),
                )
            return
        self._at_reader_cap = False
        try:
            reader = _TrackReader(path, opened.frame)
        except RuntimeError as exc:  # no thread could be started
            opened.refused = f"no thread to read it: {exc}"
            return
        self._readers.append(reader)
        opened.reader = reader

    def _release(self, opened: _Open | None) -> None:
        if opened is not None and opened.reader is not None:
            opened.reader.close()
            opened.reader = None

    def _drop_next(self) -> None:
        if self._next is not None:
            self._release(self._next[1])
            self._next[1].joiner = None
        self._next = None
        self._looked_ahead = False

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

    def _surahs_with_audio(self) -> int:
        reciter = self._reciter
        return len({s for s, _ in reciter.tracks}) if reciter is not None else 0

    def _prepare_next(self, join: bool = True) -> None:
        """Open the track that follows, so its reader has packets ready when the current one ends, and
        (with `join`) start building the join into it."""
        self._looked_ahead = True
        upcoming = self._upcoming()
        if upcoming is not None:
            cursor, index = upcoming
            following = self._open(cursor.tracks[index])
            self._next = (cursor, following)
            if join:
                self._start_join(following)

    def _start_join(self, following: _Open) -> None:
        """A joiner from the current track into `following`, if both have a reader."""
        current = self._current
        if current is None or current.reader is None or following.reader is None or self._reciter is None:
            return
        self._joiners = [joiner for joiner in self._joiners if joiner.alive]
        builder = self._join_builder
        if builder is None:
            builder = self._own_builder = self._own_builder or JoinBuilder()
        bitrate = self._reciter.bitrate_kbps * 1000
        try:
            following.joiner = _Joiner(current.reader, following.reader, bitrate, self._join_failed, builder)
        except RuntimeError:  # no thread could start, or the executor is shut: the packets play as they are
            return
        self._joiners.append(following.joiner)

    def _join_failed(self, reason: str) -> None:
        """From a joiner's thread: one line per distinct reason, not one per track boundary."""
        if reason not in self._reported_joins:
            self._reported_joins.add(reason)
            log.warning("A track boundary keeps its ~20 ms of silence (%s); playback goes on", reason)

    def _advance(self) -> bool:
        """The current track ended: switch to the one opened ahead (or open it now)."""
        current, cursor = self._current, self._cursor
        last_of_surah = cursor is not None and cursor.index == len(cursor.tracks) - 1
        if current is not None and not current.broken and last_of_surah:
            self._emit("surah_finished")
        if self._next is None:
            self._prepare_next(join=False)  # too late for a join: the current track has ended
        if self._next is None:
            if not self._skip_forward():
                return False
            self._announce = True
            return True
        cursor, opened = self._next
        changed_surah = self._cursor is None or cursor.surah != self._cursor.surah or cursor.index == 0
        self._release(current)
        self._cursor, self._current, self._next = cursor, opened, None
        self._looked_ahead = False
        if changed_surah:
            self._remember_order(cursor.surah)
        self._announce = True
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
        self._announce = False
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
