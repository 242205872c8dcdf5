"""The player on its own (no Discord): order, position, shuffle, loop, per-ayah chains, broken tracks.

Real Ogg Opus files (the sample reciter and small per-ayah sets made with ffmpeg); frames are read as
the voice thread would, and each packet is traced back to its track by content.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from joins import back_to_back, decoded, longest_quiet_ms
from test_hung_track import fifo_in_place_of, reader_threads, release_fifo
from test_ogg import raw_pages, write_ogg

from quranbot.audio import player as player_module
from quranbot.audio.join_builder import JoinBuilder
from quranbot.audio.library import Library, Reciter, Track, new_staging_dir, publish, track_file_name
from quranbot.audio.ogg import iter_opus_packets, probe_ogg_opus
from quranbot.audio.player import (
    READ_DEADLINE_SECONDS,
    SILENCE_FRAME,
    Player,
    PlayerError,
    PlayerEvent,
    PlayerSettings,
    PlayerState,
)
from quranbot.audio.sample import SAMPLE_BITRATE_KBPS, write_sample_reciter
from quranbot.audio.tone import write_tones

FRAMES = 51  # 1.0 s sample tracks: 1.0 s + pre-skip, in 20 ms frames


@pytest.fixture(scope="module")
def library_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    audio_dir = tmp_path_factory.mktemp("player") / "audio"
    write_sample_reciter(audio_dir, seconds=1.0, surahs=[1, 2, 3, 5, 114])
    per_ayah = [
        ((1, 0), 300.0),
        ((1, 1), 310.0),
        ((1, 2), 320.0),
        ((1, 3), 330.0),
        ((2, 1), 400.0),
        ((2, 2), 410.0),
    ]
    staging = new_staging_dir(audio_dir, "ayat")
    parts = [(staging / f"{s}-{a}.part", hz) for (s, a), hz in per_ayah]
    write_tones(parts, 0.4)
    tracks = {}
    for ((surah, ayah), _), (part, _) in zip(per_ayah, parts, strict=True):
        digest = f"{surah:03d}{ayah:03d}" + "0" * 56
        name = track_file_name(surah, ayah, digest)
        part.rename(staging / name)
        info = probe_ogg_opus(staging / name)
        tracks[(surah, ayah)] = Track(
            surah, ayah, name, info.packet_count, info.size_bytes, digest, name, digest
        )
    publish(staging, Reciter("ayat", "Ayat Tones", audio_dir / "ayat", tracks))
    return audio_dir


def packet_owner(library: Library) -> dict[bytes, tuple[str, int, int | None]]:
    """Every packet of every track → (reciter, surah, ayah): the tones differ, so packets are unique."""
    owner = {}
    for reciter in library.reciters():
        for track in reciter.tracks.values():
            for packet in iter_opus_packets(reciter.path(track)):
                owner.setdefault(packet, (reciter.slug, track.surah, track.ayah))
    return owner


def play(
    player: Player, frames: int, owner: dict[bytes, tuple[str, int, int | None]]
) -> list[tuple[int, int | None]]:
    """The (surah, ayah) of each stretch heard over `frames` frames."""
    heard: list[tuple[int, int | None]] = []
    for _ in range(frames):
        packet = player.read_frame()
        assert packet, "the player went quiet"
        if packet in owner:
            key = owner[packet][1:]
            if not heard or heard[-1] != key:
                heard.append(key)
    return heard


def test_sequential_order_skips_surahs_the_reciter_lacks(library_dir: Path) -> None:
    library = Library(library_dir)
    events: list[PlayerEvent] = []
    player = Player(library, PlayerSettings(reciter="sample-tones", surah=2), events.append)
    heard = play(player, FRAMES * 5, packet_owner(library))
    assert [s for s, _ in heard][:5] == [2, 3, 5, 114, 1]
    shown = [e for e in events if e.kind != "progress"]
    assert [e.kind for e in shown][:3] == ["started", "surah_finished", "track_changed"]
    assert shown[1].now.surah == 2 and shown[2].now.surah == 3  # finished names the surah heard to its end
    assert player.frames_sent == FRAMES * 5  # every frame accounted for, none lost at a boundary


def test_position_is_exact_and_resumes_at_the_same_frame(library_dir: Path) -> None:
    library = Library(library_dir)
    owner = packet_owner(library)
    first = Player(library, PlayerSettings(reciter="sample-tones", surah=3))
    for _ in range(30):
        first.read_frame()
    saved = first.settings()
    assert (saved.surah, saved.position_frames) == (3, 30)
    resumed = Player(library, saved)
    expected = list(
        iter_opus_packets(library.get("sample-tones").path(library.get("sample-tones").tracks[(3, None)]))
    )
    assert resumed.read_frame() == expected[30]
    assert owner[expected[30]][1] == 3


def test_loop_repeats_and_next_previous_move(library_dir: Path) -> None:
    library = Library(library_dir)
    owner = packet_owner(library)
    player = Player(library, PlayerSettings(reciter="sample-tones", surah=3, loop=True))
    assert [s for s, _ in play(player, FRAMES * 3, owner)] == [3]
    player.next()
    assert player.now_playing().surah == 5
    player.previous()  # at the start of surah 5: back to 3
    assert player.now_playing().surah == 3


def test_shuffle_is_a_persisted_permutation_without_repeats(library_dir: Path) -> None:
    library = Library(library_dir)
    player = Player(library, PlayerSettings(reciter="sample-tones"), rng=random.Random(7))
    player.set_shuffle(True)
    order = player.settings().shuffle_order
    assert sorted(order) == list(range(1, 115))
    visited = []
    for _ in range(5):
        player.next()
        visited.append(player.now_playing().surah)
    assert sorted(visited[:4]) == [2, 3, 5, 114] and visited[0] != 1  # a cycle without repeats...
    assert all(a != b for a, b in itertools.pairwise(visited))  # ...nor across cycles
    again = Player(library, player.settings())
    assert again.settings().shuffle_order == player.settings().shuffle_order  # survives a restart


def test_per_ayah_reciter_chains_ayahs_after_the_bismillah(library_dir: Path) -> None:
    library = Library(library_dir)
    player = Player(library, PlayerSettings(reciter="ayat", surah=1))
    heard = play(player, 200, packet_owner(library))
    assert heard[:6] == [(1, 0), (1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]
    player.play_ayah(1, 2)
    assert player.now_playing().ayah == 2
    with pytest.raises(PlayerError, match="no per-ayah audio for 1:7"):
        player.play_ayah(1, 7)


def test_switching_reciter_keeps_the_surah_and_the_ayah_where_both_have_it(library_dir: Path) -> None:
    library = Library(library_dir)
    player = Player(library, PlayerSettings(reciter="ayat", surah=1))
    player.play_ayah(1, 3)
    player.set_reciter("sample-tones")
    now = player.now_playing()
    assert (now.surah, now.ayah, now.reciter) == (1, None, "sample-tones")  # the sample has whole surahs only
    with pytest.raises(PlayerError, match="No reciter named 'nobody'"):
        player.set_reciter("nobody")
    with pytest.raises(PlayerError, match="Surah 115 does not exist"):
        player.play_surah(115)


def test_a_broken_track_is_skipped_with_one_clear_line(
    tmp_path: Path, library_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import shutil

    audio_dir = tmp_path / "audio"
    shutil.copytree(library_dir, audio_dir)
    library = Library(audio_dir)
    reciter = library.get("sample-tones")
    reciter.path(reciter.tracks[(3, None)]).write_bytes(b"this is not an ogg file")
    events: list[PlayerEvent] = []
    player = Player(library, PlayerSettings(reciter="sample-tones", surah=2), events.append)
    heard = play(player, FRAMES * 2 + 5, packet_owner(Library(library_dir)))
    assert [s for s, _ in heard][:2] == [2, 5]  # 3 is broken: skipped, no silence, no crash
    assert [e.detail for e in events if e.kind == "skipped"] and "003-" in caplog.text
    assert player.state is PlayerState.PLAYING


def test_pause_sends_silence_without_moving(library_dir: Path) -> None:
    library = Library(library_dir)
    player = Player(library, PlayerSettings(reciter="sample-tones", surah=1))
    for _ in range(10):
        player.read_frame()
    player.pause()
    assert player.read_frame() == b"\xf8\xff\xfe"
    assert player.now_playing().position_frames == 10
    player.resume()
    player.read_frame()
    assert player.now_playing().position_frames == 11


def test_no_reciters_is_a_clear_error(tmp_path: Path) -> None:
    player = Player(Library(tmp_path / "empty"), PlayerSettings())
    assert player.read_frame() == b""
    with pytest.raises(PlayerError, match="No reciters are imported"):
        player.play_surah(1)


# -- a track that never answers (issue 15): nothing may wait for it ------------------------------------
# Surah 3 of a copy of the library is a FIFO nobody writes: opening it blocks, as a read from a dying
# disk or a hung network mount never returns. Frames are read every 20 ms, as discord.py's audio thread
# reads them, while another thread plays the event loop's part.

#: A bound for a call that takes microseconds (a hang takes seconds): generous, the machine is noisy.
QUICK = 0.25


def typical(durations: list[float]) -> float:
    """The 95th percentile: what nearly every call takes, past the noisy machine's rare stalls."""
    return sorted(durations)[int(len(durations) * 0.95)]


@pytest.fixture
def hung(tmp_path: Path, library_dir: Path) -> Iterator[tuple[Library, Path]]:
    """A copy of the library whose sample-tones surah 3 is a FIFO; at the end, reads stuck on it end."""
    audio_dir = tmp_path / "audio"
    shutil.copytree(library_dir, audio_dir)
    library = Library(audio_dir)
    reciter = library.get("sample-tones")
    fifo = fifo_in_place_of(reciter.path(reciter.tracks[(3, None)]))
    yield library, fifo
    release_fifo(fifo)


def tones(library_dir: Path, surah: int) -> list[bytes]:
    return list(iter_opus_packets(tone_paths(library_dir, [surah])[0]))


def tone_paths(library_dir: Path, surahs: list[int]) -> list[Path]:
    reciter = Library(library_dir).get("sample-tones")
    return [reciter.path(reciter.tracks[(surah, None)]) for surah in surahs]


def paced(
    player: Player, done: Callable[[list[bytes]], bool], limit: float
) -> tuple[list[bytes], list[float]]:
    """read_frame() every 20 ms until `done(packets)`: the packets, and how long each call took."""
    packets: list[bytes] = []
    durations: list[float] = []
    start = time.perf_counter()
    while not done(packets) and time.perf_counter() - start < limit:
        called = time.perf_counter()
        packets.append(player.read_frame())
        durations.append(time.perf_counter() - called)
        delay = start + 0.02 * len(packets) - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    return packets, durations


@contextmanager
def prodding(*calls: Callable[[], object]) -> Iterator[list[float]]:
    """Another thread (the event loop's part) making `calls` every 10 ms; yields how long each took."""
    durations: list[float] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            for call in calls:
                called = time.perf_counter()
                call()
                durations.append(time.perf_counter() - called)
            stop.wait(0.01)

    thread = threading.Thread(target=run, name="event loop stand-in", daemon=True)
    thread.start()
    try:
        yield durations
    finally:
        stop.set()
        thread.join(5)


def in_another_thread(call: Callable[[], object]) -> float:
    """Run `call` as the event loop would, from a thread of its own; how long it took."""
    took: list[float] = []

    def run() -> None:
        called = time.perf_counter()
        call()
        took.append(time.perf_counter() - called)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert took, "the call did not return"
    return took[0]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_track_that_never_answers_is_skipped_and_nothing_waits_for_it(
    hung: tuple[Library, Path], library_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    library, fifo = hung
    caplog.set_level(logging.INFO, logger="quranbot.audio.player")
    events: list[PlayerEvent] = []
    player = Player(library, PlayerSettings(reciter="sample-tones", surah=2), events.append)
    # Surahs 2, 5 and 114 whole (3 hangs, 4 is missing), then 10 frames of 1. 2 ends as its file does
    # (nothing could be joined to 3); 5 runs into 114 and 114 into 1 through joins.
    joined = back_to_back(tone_paths(library_dir, [5, 114, 1]), SAMPLE_BITRATE_KBPS * 1000)
    target = len(tones(library_dir, 2)) + len(joined[0]) + len(joined[1]) + 10
    with prodding(player.now_playing, player.settings) as commands:
        packets, reads = paced(player, lambda _: player.frames_sent >= target, 4 * READ_DEADLINE_SECONDS + 4)

    audio = [packet for packet in packets if packet != SILENCE_FRAME]
    expected = tones(library_dir, 2) + [packet for track in joined for packet in track]
    assert audio == expected[:target]  # frame-exact: nothing lost, nothing repeated
    silent = [i for i, packet in enumerate(packets) if packet == SILENCE_FRAME]
    # One stretch of silence, where surah 3 would have been, at most the deadline long; none at 5→114→1.
    assert silent == list(range(FRAMES, FRAMES + len(silent)))
    assert 0 < len(silent) <= READ_DEADLINE_SECONDS * 50 + 10
    assert max(reads) < QUICK and max(commands) < QUICK, (max(reads), max(commands))
    assert typical(reads) < 0.005 and typical(commands) < 0.005, (typical(reads), typical(commands))
    lines = [record.getMessage() for record in caplog.records if fifo.name in record.getMessage()]
    assert len(lines) == 1 and f"did not answer in {READ_DEADLINE_SECONDS:g} s" in lines[0], lines
    shown = [(e.kind, e.now.surah) for e in events if e.kind != "progress"]
    assert shown[:6] == [
        ("started", 2),
        ("surah_finished", 2),
        ("skipped", 3),
        ("track_changed", 5),  # with 5's first frame: nothing announced 3, which never played
        ("surah_finished", 5),
        ("track_changed", 114),
    ]
    now = player.now_playing()
    assert (now.surah, now.position_frames, player.frames_sent) == (1, 10, target)
    assert len(reader_threads(fifo)) == 1  # the read stays stuck: it costs one thread, nothing else
    player.close()


def test_commands_answer_at_once_during_a_hang_and_a_stalled_file_is_not_reopened(
    hung: tuple[Library, Path], library_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    library, fifo = hung
    caplog.set_level(logging.INFO, logger="quranbot.audio.player")
    player = Player(library, PlayerSettings(reciter="sample-tones", surah=2))
    paced(player, lambda packets: len(packets) > FRAMES + 5, 3.0)  # surah 2, then into the hang
    assert player.now_playing().surah == 3 and player.read_frame() == SILENCE_FRAME

    assert in_another_thread(player.next) < QUICK
    assert player.now_playing().surah == 5
    following, _ = paced(player, lambda packets: len(packets) >= 10, 1.0)
    heard = [packet for packet in following if packet != SILENCE_FRAME]
    assert len(heard) >= 8 and heard == tones(library_dir, 5)[: len(heard)]  # at once, not after a deadline

    assert in_another_thread(lambda: player.play_surah(3)) < QUICK  # its first read is still stuck
    again, _ = paced(player, lambda packets: len(packets) >= 10, 1.0)
    heard = [packet for packet in again if packet != SILENCE_FRAME]
    assert len(heard) >= 8 and heard == tones(library_dir, 5)[: len(heard)]  # skipped to 5 at once
    assert len(reader_threads(fifo)) == 1  # and no second thread hangs beside the first
    lines = [record.getMessage() for record in caplog.records if fifo.name in record.getMessage()]
    assert len(lines) == 1 and "still not answering" in lines[0], lines
    player.close()


def test_close_leaves_only_the_stuck_read_which_ends_when_the_fifo_answers(
    hung: tuple[Library, Path],
) -> None:
    library, fifo = hung
    threads, fds = set(threading.enumerate()), open_fds()
    player = Player(library, PlayerSettings(reciter="sample-tones", surah=2))
    paced(player, lambda packets: len(packets) > FRAMES + 5, 3.0)  # into the hang
    player.close()
    assert player.read_frame() == b""
    extra = [thread for thread in threading.enumerate() if thread not in threads]
    assert extra == reader_threads(fifo) and len(extra) == 1 and extra[0].daemon
    assert open_fds() == fds  # the stuck open holds no descriptor yet; every other file was closed
    release_fifo(fifo)  # a writer comes: the open returns, finds nothing, and the thread ends
    assert not [thread for thread in threading.enumerate() if thread not in threads]
    assert open_fds() == fds


@pytest.fixture(scope="module")
def long_library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    """Two 3 s surahs: longer than a reader's buffer, so readers sleep on a full buffer, files open."""
    audio_dir = tmp_path_factory.mktemp("long") / "audio"
    write_sample_reciter(audio_dir, seconds=3.0, surahs=[1, 2])
    return Library(audio_dir)


def new_threads_end(threads: set[threading.Thread], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while [thread for thread in threading.enumerate() if thread not in threads]:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_close_ends_every_reader_and_lets_every_file_go(long_library: Library) -> None:
    threads, fds = set(threading.enumerate()), open_fds()
    player = Player(long_library, PlayerSettings(reciter="sample-tones"))
    for _ in range(120):  # past the point where the next surah is opened ahead
        assert player.read_frame()
    deadline = time.monotonic() + 5
    while open_fds() == fds and time.monotonic() < deadline:
        time.sleep(0.01)
    assert open_fds() > fds  # the next surah's reader holds its file while it waits for the player
    player.close()
    assert not [thread for thread in threading.enumerate() if thread not in threads]
    assert open_fds() == fds
    assert player.read_frame() == b""


def test_an_idle_reader_lets_its_file_go_and_playback_resumes_at_the_same_frame(
    long_library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(player_module, "READER_IDLE_SECONDS", 0.2)
    reciter = long_library.get("sample-tones")
    expected = list(iter_opus_packets(reciter.path(reciter.tracks[(1, None)])))
    threads, fds = set(threading.enumerate()), open_fds()
    player = Player(long_library, PlayerSettings(reciter="sample-tones"))
    heard: list[bytes] = []
    for _ in range(100):
        if len(heard) < 10 and (packet := player.read_frame()) != SILENCE_FRAME:
            heard.append(packet)
    assert new_threads_end(threads)  # nobody reads (a paused or abandoned player): the reader ends
    assert open_fds() == fds
    for _ in range(20):
        packet = player.read_frame()  # reopened at frame 10
        if packet != SILENCE_FRAME:
            heard.append(packet)
    assert heard == expected[: len(heard)] and len(heard) >= 25
    assert player.now_playing().position_frames == len(heard)
    player.close()


def test_stuck_reads_are_capped_and_playback_holds_until_one_returns(
    hung: tuple[Library, Path],
    library_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A dying disk where every file hangs: past MAX_STUCK_READERS stuck reads the player opens nothing
    more (silence, the position held) rather than leave a thread behind on every file it tries."""
    library, fifo = hung
    monkeypatch.setattr(player_module, "MAX_STUCK_READERS", 1)
    monkeypatch.setattr(player_module, "READ_DEADLINE_SECONDS", 0.3)
    reciter = library.get("sample-tones")
    second = fifo_in_place_of(reciter.path(reciter.tracks[(5, None)]))
    try:
        player = Player(library, PlayerSettings(reciter="sample-tones", surah=2))
        packets, _ = paced(player, lambda packets: len(packets) > FRAMES + 40, 3.0)
        assert packets[-15:] == [SILENCE_FRAME] * 15  # 3 skipped; 5 not even opened: one read is stuck
        assert player.now_playing().surah == 5 and not reader_threads(second)
        assert "opening no other file until one of them returns" in caplog.text
        release_fifo(fifo)  # the stuck read returns: 5 is opened, and hangs in turn; then 114 waits
        packets, _ = paced(player, lambda packets: len(packets) >= 40, 2.0)
        assert len(reader_threads(second)) == 1 and player.now_playing().surah == 114
        assert packets[-15:] == [SILENCE_FRAME] * 15
        release_fifo(second)
        packets, _ = paced(
            player, lambda packets: SILENCE_FRAME not in packets[-5:] and len(packets) > 5, 2.0
        )
        heard = [packet for packet in packets if packet != SILENCE_FRAME]
        assert heard == tones(library_dir, 114)[: len(heard)] and player.frames_sent == FRAMES + len(heard)
        player.close()
    finally:
        release_fifo(second)


def test_the_pacer_path_never_looks_up_the_library(
    library_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`read_frame(wait=False)` is the shared pacer's: it never scans the library (a hung disk would
    stall every guild). Until `prepare()` has looked the reciter up, off that thread, it has nothing."""
    moved = tmp_path / "library"
    shutil.copytree(library_dir, moved)
    player = Player(Library(moved), PlayerSettings(reciter="sample-tones", surah=2))
    shutil.rmtree(moved)  # a disk gone: a lookup now would find no reciter, and say so in the log
    assert player.read_frame(wait=False) == b""
    shutil.copytree(library_dir, moved)
    assert player.read_frame(wait=False) == b""  # back on disk, but nothing looked: nothing to play
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no lookup said "no reciter"
    player.prepare()
    frames = []
    for _ in range(200):  # as the pacer asks: once a tick, never waiting for the track's reader
        frames.append(player.read_frame(wait=False))
        time.sleep(0.005)
    assert any(frame not in (b"", SILENCE_FRAME) for frame in frames)


# -- joins at track boundaries (issue 19): the files' own silence is not heard -----------------------------
# Frames are read every 20 ms, as the pacer reads them: the joins are built off this thread while the next
# track is opened ahead. The expected packets are worked out from the files alone (tests/joins.py): what
# plays, packet for packet, and what is heard.


def flat(tracks: list[list[bytes]]) -> list[bytes]:
    return [packet for track in tracks for packet in track]


def test_surahs_run_into_each_other_without_the_silence_in_their_files(library_dir: Path) -> None:
    events: list[PlayerEvent] = []
    player = Player(Library(library_dir), PlayerSettings(reciter="sample-tones", surah=1), events.append)
    tracks = back_to_back(tone_paths(library_dir, [1, 2, 3]), SAMPLE_BITRATE_KBPS * 1000)
    count = len(tracks[0]) + len(tracks[1]) + 20
    packets, _ = paced(player, lambda packets: len(packets) >= count, 10.0)
    assert packets == flat(tracks)[:count]  # each track to its join, each join in full, nothing else
    assert len(tracks[0]) < FRAMES  # a track ends where its join begins: its last packets held padding
    untouched = tones(library_dir, 1) + tones(library_dir, 2) + tones(library_dir, 3)[:20]
    assert longest_quiet_ms(decoded(untouched)) >= 10.0  # what the files alone sound like
    assert longest_quiet_ms(decoded(packets)) <= 3.0  # what the player sends
    # Positions stay exact: a track's frames are its own packets, then a join's stand for the next
    # track's first ones (so the next track's numbers keep their meaning in its file).
    shown = [(e.kind, e.now.surah, e.now.position_frames) for e in events if e.kind != "progress"]
    assert shown[:5] == [
        ("started", 1, 0),
        ("surah_finished", 1, len(tracks[0])),
        ("track_changed", 2, 0),  # with the join's first packet: where surah 2 starts being heard
        ("surah_finished", 2, len(tracks[1])),
        ("track_changed", 3, 0),
    ]
    assert player.now_playing().position_frames == 20 and player.frames_sent == count
    player.close()


def test_players_in_step_share_one_build_of_the_join_they_cross_together(library_dir: Path) -> None:
    """Guilds that started together cross the same boundary together; the join is built once (a burst
    of 300 builds at once made the pacer's ticks up to 100 ms late) and every one of them plays it."""
    builder = JoinBuilder()
    players = [
        Player(Library(library_dir), PlayerSettings(reciter="sample-tones", surah=1), joins=builder)
        for _ in range(3)
    ]
    tracks = back_to_back(tone_paths(library_dir, [1, 2]), SAMPLE_BITRATE_KBPS * 1000)
    count = len(tracks[0]) + 3
    heard: list[list[bytes]] = [[] for _ in players]
    deadline = time.monotonic() + 10.0
    while min(map(len, heard)) < count and time.monotonic() < deadline:
        for player, packets in zip(players, heard, strict=True):
            packets.append(player.read_frame())
        time.sleep(0.02)
    for player in players:
        player.close()
    builder.shutdown(wait=True)
    for packets in heard:  # every player played the join, not the files' own first packets of surah 2
        assert packets[:count] == flat(tracks)[:count]
    # each boundary's join built by the first player to reach it, recalled by the other two
    assert builder.built >= 1 and builder.remembered == 2 * builder.built, (builder.built, builder.remembered)


def test_a_restart_inside_a_join_resumes_at_the_same_frame(library_dir: Path) -> None:
    player = Player(Library(library_dir), PlayerSettings(reciter="sample-tones", surah=1))
    tracks = back_to_back(tone_paths(library_dir, [1, 2]), SAMPLE_BITRATE_KBPS * 1000)
    into = 2  # two of surah 2's frames heard, both join packets
    packets, _ = paced(player, lambda packets: len(packets) >= len(tracks[0]) + into, 5.0)
    assert packets[-into:] == tracks[1][:into] and tracks[1][:into] != tones(library_dir, 2)[:into]
    saved = player.settings()
    player.close()
    assert (saved.surah, saved.position_frames) == (2, into)
    resumed = Player(Library(library_dir), saved)
    assert resumed.read_frame() == tones(library_dir, 2)[into]  # the file's packet that frame stood for
    resumed.close()


def test_a_command_before_the_boundary_drops_the_join_it_no_longer_needs(library_dir: Path) -> None:
    player = Player(Library(library_dir), PlayerSettings(reciter="sample-tones", surah=1))
    one = tone_paths(library_dir, [1])[0]
    looped = back_to_back([one, one], SAMPLE_BITRATE_KBPS * 1000)
    near_end = len(looped[0]) - 25  # the join into surah 2 is under way (opened 50 frames ahead)
    paced(player, lambda packets: len(packets) >= near_end, 5.0)
    player.set_loop(True)  # surah 1 follows now, not 2: joined into itself
    count = len(looped[0]) - near_end + 20
    packets, _ = paced(player, lambda packets: len(packets) >= count, 5.0)
    assert packets == flat(looped)[near_end : near_end + count]
    assert longest_quiet_ms(decoded(flat(looped)[:near_end] + packets)) <= 3.0
    player.next()  # a jump is not a boundary: surah 2 from its own first packet
    assert player.read_frame() == tones(library_dir, 2)[0]
    player.close()


def test_ayah_files_run_into_each_other_through_joins(library_dir: Path) -> None:
    """Per-ayah files are short (0.4 s): the next is opened, and its join built, as each one starts."""
    library = Library(library_dir)
    reciter = library.get("ayat")
    chain = [(1, 0), (1, 1), (1, 2), (1, 3), (2, 1)]
    tracks = back_to_back([reciter.path(reciter.tracks[key]) for key in chain], reciter.bitrate_kbps * 1000)
    player = Player(library, PlayerSettings(reciter="ayat", surah=1))
    count = sum(len(track) for track in tracks[:4]) + 5
    packets, _ = paced(player, lambda packets: len(packets) >= count, 5.0)
    assert packets == flat(tracks)[:count]
    assert longest_quiet_ms(decoded(packets)) <= 3.0
    saved = player.settings()
    assert (saved.surah, saved.ayah, saved.position_frames) == (2, 1, 5)
    player.close()


def test_a_join_that_cannot_be_made_leaves_the_boundary_as_it_was_with_one_line(
    tmp_path: Path, library_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Surah 2's first packet is damaged (libopus refuses it): no join into it, one log line, and every
    packet still goes out as the files have it; the stream never stops for it."""
    audio_dir = tmp_path / "audio"
    shutil.copytree(library_dir, audio_dir)
    path = tone_paths(audio_dir, [2])[0]
    info = probe_ogg_opus(path)
    packets = tones(audio_dir, 2)
    headers = [page[3] for page in list(raw_pages(path.read_bytes()))[:2]]  # OpusHead, OpusTags
    damaged = [b"\xff", *packets[1:]]
    path.write_bytes(write_ogg([*headers, *damaged], info.granule_position, max_segments=50))
    player = Player(Library(audio_dir), PlayerSettings(reciter="sample-tones", surah=1))
    count = FRAMES + 10
    heard, _ = paced(player, lambda heard: len(heard) >= count, 5.0)
    assert heard == (tones(library_dir, 1) + damaged)[:count]
    lines = [r.getMessage() for r in caplog.records if "keeps its ~20 ms of silence" in r.getMessage()]
    assert len(lines) == 1 and "corrupted stream" in lines[0], lines
    player.close()
