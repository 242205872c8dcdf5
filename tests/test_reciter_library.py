"""The reciter library as the admin manages it: sample tones, list, show, rename, remove, verify."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from processes import lock_held_by_child, run_quranbot

from quranbot.audio.library import Library, slugify
from quranbot.audio.sample import SAMPLE_SLUG, sample_frequency, surah_from_frequency, write_sample_reciter
from quranbot.config.schema import Config
from quranbot.config.write import write_config
from quranbot.paths import Paths
from quranbot.shards.ownership import shard_of
from quranbot.store.records import GuildPlayback
from quranbot.store.state import StateStore


def reciter_cli(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return run_quranbot("--home", str(home), "reciter", *args, stdin=stdin, timeout=120)


def decoded_hz(path: Path) -> float:
    """The dominant frequency of a file, decoded by ffmpeg (independent of our Ogg reader)."""
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", "48000", "-"],
        capture_output=True,
        check=True,
    ).stdout
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / 48_000)[np.argmax(spectrum)])


def test_the_sample_reciter_has_every_surah_and_each_tone_names_its_surah(tmp_path: Path) -> None:
    done = reciter_cli(tmp_path, "sample", "--seconds", "0.5")
    assert done.returncode == 0, done.stderr
    reciter = Library(Paths.under(tmp_path).audio_dir).get(SAMPLE_SLUG)
    assert reciter.sample and reciter.surahs() == list(range(1, 115))
    assert "not a recitation" in reciter.name
    for surah in (1, 36, 114):
        track = reciter.track(surah)
        assert track is not None
        heard = decoded_hz(reciter.path(track))
        assert heard == pytest.approx(sample_frequency(surah), abs=2.0)
        assert surah_from_frequency(heard) == surah
    shown = reciter_cli(tmp_path, "show", SAMPLE_SLUG)
    assert "not a recitation" in shown.stdout and "114 of 114" in shown.stdout


def test_list_rename_and_remove(tmp_path: Path) -> None:
    audio_dir = Paths.under(tmp_path).audio_dir
    write_sample_reciter(audio_dir, seconds=0.5, surahs=[1, 2, 3])
    listed = reciter_cli(tmp_path, "list")
    assert "sample-tones" in listed.stdout and "3" in listed.stdout
    renamed = reciter_cli(tmp_path, "rename", SAMPLE_SLUG, "Test Tones", "--arabic-name", "نغمات")
    assert renamed.returncode == 0
    reciter = Library(audio_dir).get("Test Tones")
    assert reciter.slug == SAMPLE_SLUG and reciter.arabic_name == "نغمات"  # the folder stays
    declined = reciter_cli(tmp_path, "remove", "Test Tones", stdin="n\n")
    assert declined.returncode == 1 and Library(audio_dir).reciters()
    removed = reciter_cli(tmp_path, "remove", "Test Tones", "--yes")
    assert removed.returncode == 0 and not (audio_dir / SAMPLE_SLUG).exists()
    unknown = reciter_cli(tmp_path, "show", "nobody")
    assert unknown.returncode == 1 and "No reciter named 'nobody'" in unknown.stderr


def test_a_reciter_in_use_is_not_removed_without_force(tmp_path: Path) -> None:
    paths = Paths.under(tmp_path)
    write_sample_reciter(paths.audio_dir, seconds=0.5, surahs=[1])
    with StateStore(paths.state_dir, paths.backups_dir) as state:
        state.set_playback(GuildPlayback(42, reciter=SAMPLE_SLUG))
    refused = reciter_cli(tmp_path, "remove", SAMPLE_SLUG, "--yes")
    assert refused.returncode == 1 and "is in use" in refused.stderr and "--force" in refused.stderr
    assert (paths.audio_dir / SAMPLE_SLUG / "manifest.json").exists()
    forced = reciter_cli(tmp_path, "remove", SAMPLE_SLUG, "--yes", "--force")
    assert forced.returncode == 0 and not (paths.audio_dir / SAMPLE_SLUG).exists()


def test_verify_finds_a_changed_a_missing_and_a_corrupt_file(tmp_path: Path) -> None:
    audio_dir = Paths.under(tmp_path).audio_dir
    reciter = write_sample_reciter(audio_dir, seconds=0.5, surahs=[1, 2, 3])
    one, two, three = (reciter.path(reciter.tracks[(s, None)]) for s in (1, 2, 3))
    data = bytearray(one.read_bytes())
    data[len(data) // 2] ^= 0xFF
    one.write_bytes(bytes(data))
    two.unlink()
    three.write_bytes(b"OggS" + b"\x00" * 100)
    done = reciter_cli(tmp_path, "verify", SAMPLE_SLUG)
    report = " ".join(done.stderr.split())
    assert done.returncode == 1 and "3 of 3 files" in report
    assert f"{one.name}: checksum mismatch" in report and f"{two.name}: missing" in report
    assert f"{three.name}: checksum mismatch" in report


def test_a_folder_without_a_manifest_is_invisible_and_a_broken_manifest_is_reported(tmp_path: Path) -> None:
    audio_dir = Paths.under(tmp_path).audio_dir
    write_sample_reciter(audio_dir, seconds=0.5, surahs=[1])
    (audio_dir / "half-imported").mkdir()
    (audio_dir / "half-imported" / "001-deadbeef.ogg").write_bytes(b"x")
    (audio_dir / "broken").mkdir()
    (audio_dir / "broken" / "manifest.json").write_text(json.dumps({"format": 99}))
    library = Library(audio_dir)
    assert [r.slug for r in library.reciters()] == [SAMPLE_SLUG]
    assert any("half-imported: no manifest" in p for p in library.problems)
    assert any("broken: manifest format 99" in p for p in library.problems)
    listed = reciter_cli(tmp_path, "list")
    assert "broken: manifest format 99" in " ".join(listed.stderr.split())


def test_slugs_are_ascii_folder_names() -> None:
    assert slugify("Mishary Rashid Alafasy") == "mishary-rashid-alafasy"
    assert slugify("  Saad Al-Ghamdi (128kbps) ") == "saad-al-ghamdi-128kbps"
    assert slugify("عبد الباسط") == ""  # an Arabic-only name: the importer falls back to "reciter"


def test_sharded_a_reciter_any_shard_plays_is_not_removed(tmp_path: Path) -> None:
    """Every shard's state is looked at, a stopped shard's as a running one's (the lock's holder named)."""
    paths = Paths.under(tmp_path)
    write_config(paths.config_file, Config(shard_count=3))
    write_sample_reciter(paths.audio_dir, seconds=0.5, surahs=[1])
    guilds = {shard: (shard << 22) | 7 for shard in range(3)}  # guild i on shard i of 3
    assert all(shard_of(g, 3) == s for s, g in guilds.items())
    plays = {0: "elsewhere", 1: SAMPLE_SLUG, 2: SAMPLE_SLUG}
    for shard, guild in guilds.items():
        state_dir = paths.for_shard(shard).state_dir
        with StateStore(state_dir, state_dir / "backups") as state:
            state.set_playback(GuildPlayback(guild, reciter=plays[shard]))
    assert not (paths.state_root / "playback.json").exists()
    with lock_held_by_child(paths.for_shard(2).state_dir) as running:
        refused = reciter_cli(tmp_path, "remove", SAMPLE_SLUG, "--yes")
    message = " ".join(refused.stderr.split())
    assert refused.returncode == 1 and "is in use in 2 server(s)" in message, message
    assert f"shard 1 saved it as the reciter in 1 ({guilds[1]})" in message
    assert f"shard 2 (process {running.pid}) is playing it in 1 ({guilds[2]})" in message
    assert "shard 0" not in message and "--force" in message
    assert (paths.audio_dir / SAMPLE_SLUG / "manifest.json").exists()
    forced = reciter_cli(tmp_path, "remove", SAMPLE_SLUG, "--yes", "--force")
    assert forced.returncode == 0 and not (paths.audio_dir / SAMPLE_SLUG).exists()
