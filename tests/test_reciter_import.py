"""`quranbot reciter import` with real files, real ffmpeg and real archives, as an admin runs it."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import zipfile
from pathlib import Path

import pytest
from audio_files import make_sine
from processes import QURANBOT, run_quranbot

from quranbot.audio.library import Library
from quranbot.audio.ogg import probe_ogg_opus
from quranbot.audio.transcode import measure_output_loudness
from quranbot.paths import Paths
from quranbot.quran.metadata import load_metadata


def import_(home: Path, source: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_quranbot("--home", str(home), "reciter", "import", str(source), *args, timeout=120)


def reciter_of(home: Path, name: str = "Test Reciter"):  # type: ignore[no-untyped-def]
    return Library(Paths.under(home).audio_dir).get(name)


@pytest.fixture(scope="module")
def mp3quran_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Per-surah files named like mp3quran.net, quiet and loud, with artwork and litter beside them."""
    root = tmp_path_factory.mktemp("mp3quran") / "Some Reciter"
    make_sine(root / "001.mp3", 300, 3.0, volume_db=-36)  # quiet
    make_sine(root / "108.mp3", 400, 3.0, volume_db=-6)  # loud
    make_sine(root / "112.mp3", 500, 1.5)
    (root / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "playlist.m3u").write_text("001.mp3\n")
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    return root.parent


def test_a_per_surah_set_becomes_a_verified_reciter(mp3quran_set: Path, tmp_path: Path) -> None:
    done = import_(tmp_path, mp3quran_set, "--name", "Test Reciter", "--arabic-name", "قارئ")
    assert done.returncode == 0, done.stderr
    assert "Recognised: 3 (one file per surah)" in done.stdout and "Ignored: 3" in done.stdout
    reciter = reciter_of(tmp_path)
    assert reciter.kind == "surah" and reciter.surahs() == [1, 108, 112] and reciter.arabic_name == "قارئ"
    for track in reciter.tracks.values():
        info = probe_ogg_opus(reciter.path(track))
        seconds = 3.0 if track.surah != 112 else 1.5
        assert info.all_20ms and info.channels == 2
        assert info.duration_seconds == pytest.approx(seconds, abs=0.001)  # the playable audio, exactly
        # every 20 ms frame counted: the audio plus the encoder's pre-skip, rounded up to a whole frame
        assert track.frames == info.packet_count == math.ceil((seconds * 48_000 + info.pre_skip) / 960)
    # loudness normalised: a quiet and a loud source both end within 1 LU of the target
    for surah in (1, 108):
        track = reciter.track(surah)
        assert track is not None and track.input_lufs is not None
        measured = measure_output_loudness(reciter.path(track)).integrated_lufs
        assert measured == pytest.approx(-16.0, abs=1.0)
    manifest = json.loads((reciter.directory / "manifest.json").read_text())
    assert manifest["kind"] == "surah" and manifest["tracks"][0]["source_name"] == "Some Reciter/001.mp3"
    verified = run_quranbot("--home", str(tmp_path), "reciter", "verify", "Test Reciter")
    assert verified.returncode == 0 and "all 3 files verified" in verified.stdout


def test_reimport_is_incremental_and_replaces_only_what_changed(mp3quran_set: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(mp3quran_set, source)
    assert import_(tmp_path, source, "--name", "Test Reciter").returncode == 0
    before = reciter_of(tmp_path)
    again = import_(tmp_path, source, "--name", "Test Reciter")
    assert "Imported 0, unchanged 3, failed 0" in again.stdout
    make_sine(source / "Some Reciter" / "112.mp3", 700, 1.0)  # a corrected file for surah 112
    changed = import_(tmp_path, source, "--name", "Test Reciter")
    assert "Imported 1, unchanged 2, failed 0" in changed.stdout
    after = reciter_of(tmp_path)
    assert after.track(1) == before.track(1) and after.track(112) != before.track(112)
    assert sorted(p.name for p in after.directory.glob("*.ogg")) == sorted(
        t.file for t in after.tracks.values()
    )


def test_everyayah_and_nested_and_zip_sources(tmp_path: Path) -> None:
    metadata = load_metadata()
    everyayah = tmp_path / "everyayah"
    for ayah in range(0, metadata.ayah_count(108) + 1):  # 108000 is the bismillah file
        make_sine(everyayah / f"108{ayah:03d}.mp3", 300 + ayah, 0.4)
    nested = everyayah / "Extra" / metadata.surah(112).name
    make_sine(nested / "001.mp3", 600, 0.4)
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in everyayah.rglob("*.mp3"):
            zipped.write(path, path.relative_to(tmp_path).as_posix())
    done = import_(tmp_path, archive, "--name", "Test Reciter")
    assert done.returncode == 0, done.stdout + done.stderr
    reciter = reciter_of(tmp_path)
    assert reciter.kind == "ayah"
    assert reciter.ayahs(108) == [1, 2, 3] and reciter.track(108, 0) is not None
    assert reciter.ayahs(112) == [1]
    assert "112 (" in done.stderr and "lacks ayahs 2–4" in " ".join(done.stderr.split())


def test_bad_inputs_each_get_a_line_and_nothing_imported_is_damaged(
    mp3quran_set: Path, tmp_path: Path
) -> None:
    assert import_(tmp_path, mp3quran_set, "--name", "Test Reciter").returncode == 0
    good = reciter_of(tmp_path)
    bad = tmp_path / "bad"
    make_sine(bad / "002.mp3", 300, 1.0)
    full = (bad / "002.mp3").read_bytes()
    (bad / "003.mp3").write_bytes(full[: len(full) // 3])  # truncated
    (bad / "004.mp3").write_bytes(b"")  # zero-length
    (bad / "005.mp3").write_text("this is a text file, not audio\n" * 20)  # renamed text
    make_sine(bad / "018.mp3", 300, 0.5)
    make_sine(bad / f"Surah 018 - {load_metadata().surah(18).name}.mp3", 900, 0.5)  # duplicate, different
    make_sine(bad / "115.mp3", 300, 0.5)
    make_sine(bad / "108004.mp3", 300, 0.5)  # Al-Kawthar has 3 ayahs
    done = import_(bad, bad, "--name", "Test Reciter")  # into its own home, beside the sources
    report = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1  # some files failed: scripts notice
    for expected in (
        "003.mp3:",
        "004.mp3:",
        "005.mp3:",
        "2 different files for surah 18",
        "surah 115 does not exist (1–114)",
        "has 3 ayahs; 4 is out of range",
        "Imported 1, unchanged 0, failed 3",
    ):
        assert expected in report, expected
    assert reciter_of(bad).surahs() == [2]
    assert reciter_of(tmp_path) == good  # the other home's reciter is untouched


def test_a_hostile_zip_and_a_missing_source_are_refused(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(hostile, "w") as zipped:
        zipped.writestr("../escape.mp3", b"x")
    done = import_(tmp_path, hostile)
    assert done.returncode == 1 and "'..' component" in done.stderr
    assert not (tmp_path.parent / "escape.mp3").exists()
    missing = import_(tmp_path, tmp_path / "nope")
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert (
        not Paths.under(tmp_path).audio_dir.exists()
        or not Library(Paths.under(tmp_path).audio_dir).reciters()
    )


def test_a_killed_import_leaves_no_half_written_reciter(tmp_path: Path) -> None:
    source = tmp_path / "big"
    for surah in range(1, 13):
        make_sine(source / f"{surah:03d}.mp3", 200 + surah, 2.0)
    process = subprocess.Popen(
        [*QURANBOT, "--home", str(tmp_path), "reciter", "import", str(source), "--name", "Test", "--jobs=1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:  # wait until transcoding is under way, then kill everything
        if "Creating reciter" in line:
            break
    audio_dir = Paths.under(tmp_path).audio_dir
    staged: list[Path] = []
    while not staged and process.poll() is None:
        staged = [p for d in audio_dir.glob(".import-*") for p in d.glob("*.ogg")]
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert staged, "the import finished before it could be killed"
    assert Library(audio_dir).reciters() == []  # invisible: no manifest was ever written
    finished = import_(tmp_path, source, "--name", "Test")  # a re-run completes and tidies up
    assert finished.returncode == 0
    assert list(audio_dir.glob(".import-*")) == []
    assert reciter_of(tmp_path, "Test").surahs() == list(range(1, 13))


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real 160 KiB filesystem (tmpfs, mounted as root) for the library, so the disk really fills up."""
    audio_dir = Paths.under(tmp_path / "home").audio_dir
    audio_dir.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(audio_dir)], capture_output=True
    )
    assert mounted.returncode == 0, f"this test needs root and mount(8): {mounted.stderr!r}"
    try:
        yield tmp_path / "home"
    finally:
        subprocess.run(["umount", "-l", str(audio_dir)], check=True)


def test_a_full_disk_stops_the_import_and_keeps_what_was_there(small_disk: Path, tmp_path: Path) -> None:
    first = tmp_path / "first"
    make_sine(first / "001.mp3", 300, 2.0)
    assert import_(small_disk, first, "--name", "Kept").returncode == 0
    kept = reciter_of(small_disk, "Kept")
    big = tmp_path / "big"
    for surah in range(1, 21):
        make_sine(big / f"{surah:03d}.mp3", 200 + surah, 2.0)
    done = import_(small_disk, big, "--name", "Too Big")
    assert done.returncode == 1
    assert "the disk is full" in done.stdout and "Nothing already imported was changed" in done.stdout
    library = Library(Paths.under(small_disk).audio_dir)
    assert [r.slug for r in library.reciters()] == ["kept"] and library.get("Kept") == kept
    assert list(library.audio_dir.glob(".import-*")) == []  # the partial work was removed
    assert run_quranbot("--home", str(small_disk), "reciter", "verify", "Kept").returncode == 0
