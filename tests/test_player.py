"""The player on its own (no Discord): order, position, shuffle, loop, per-ayah chains, broken tracks.

Real Ogg Opus files (the sample reciter and small per-ayah sets made with ffmpeg); frames are read as
the voice thread would, and each packet is traced back to its track by content.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from quranbot.audio.library import Library, Reciter, Track, new_staging_dir, publish, track_file_name
from quranbot.audio.ogg import iter_opus_packets, probe_ogg_opus
from quranbot.audio.player import Player, PlayerError, PlayerEvent, PlayerSettings, PlayerState
from quranbot.audio.sample import write_sample_reciter
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
