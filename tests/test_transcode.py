"""The import transcoder with real ffmpeg on real (short) files: loudness, format, errors, interruptions."""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from quranbot.audio import transcode
from quranbot.audio.ogg import SAMPLE_RATE, iter_opus_packets, read_opus_head
from quranbot.audio.tone import FfmpegMissing, ffmpeg_binary
from quranbot.audio.transcode import (
    TranscodeError,
    measure_loudness,
    measure_output_loudness,
    summarise_ffmpeg_error,
    transcode_to_opus,
)

# A 997 Hz stereo sine at ffmpeg's default amplitude (1/8, upmixed from mono at -3 dB per channel)
# measures -21.55 LUFS; `volume` moves it to the loudness a test wants.
SINE_LUFS = -21.55


def ffmpeg(*arguments: str) -> None:
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *arguments]
    subprocess.run(command, check=True, capture_output=True)


def make_sine(path: Path, lufs: float, seconds: float = 4.0, *codec: str) -> Path:
    gain = lufs - SINE_LUFS
    source = f"sine=frequency=997:sample_rate=44100:duration={seconds},volume={gain:.2f}dB"
    ffmpeg("-f", "lavfi", "-i", source, "-ac", "2", *codec, str(path))
    return path


@contextlib.contextmanager
def refused(pattern: str) -> Iterator[pytest.ExceptionInfo[TranscodeError]]:
    """Expect a TranscodeError whose one-line `reason` (not the "source: " prefix) matches `pattern`."""
    with pytest.raises(TranscodeError) as raised:
        yield raised
    assert re.search(pattern, raised.value.reason), raised.value.reason


def leftovers(directory: Path) -> list[Path]:
    return sorted(directory.glob(".*.tmp"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sources")


@pytest.fixture(scope="module")
def quiet_mp3(inputs: Path) -> Path:
    return make_sine(inputs / "quiet.mp3", -30.0, 4.0, "-c:a", "libmp3lame", "-b:a", "128k")


@pytest.fixture(scope="module")
def loud_mp3(inputs: Path) -> Path:
    return make_sine(inputs / "loud.mp3", -8.0, 4.0, "-c:a", "libmp3lame", "-b:a", "128k")


# --- loudness and format -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "lufs"), [("quiet_mp3", -30.0), ("loud_mp3", -8.0)])
def test_mp3_is_normalised_to_minus_16_lufs(
    request: pytest.FixtureRequest, tmp_path: Path, name: str, lufs: float
) -> None:
    source: Path = request.getfixturevalue(name)
    result = transcode_to_opus(source, tmp_path / "out.ogg")

    assert abs(result.input_loudness.integrated_lufs - lufs) < 1.0  # the premise
    output = measure_output_loudness(result.target)  # ebur128: independent of loudnorm
    assert abs(output.integrated_lufs - -16.0) <= 1.0, output
    assert output.true_peak_dbtp <= -1.0
    # A steady tone has a loudness range of 0.00, which loudnorm would mistake for "not measured" and
    # fall back to dynamic mode: the transcoder nudges it so a single linear gain is applied.
    assert result.normalization == "linear"
    assert result.note is None


def test_output_is_20ms_stereo_ogg_opus_of_the_same_duration(quiet_mp3: Path, tmp_path: Path) -> None:
    target = tmp_path / "reciter" / "001.ogg"  # the directory is created
    result = transcode_to_opus(quiet_mp3, target)
    info = result.output

    assert result.target == target and target.is_file()
    head = read_opus_head(target)
    assert (head.channels, head.input_sample_rate, head.output_gain) == (2, SAMPLE_RATE, 0)
    assert info.channels == 2 and info.all_20ms and info.frame_ms == 20.0
    assert abs(info.duration_seconds - result.source_duration_seconds) <= 0.020
    assert abs(result.source_duration_seconds - 4.0) <= 0.020  # LAME's delay and padding are trimmed
    assert info.granule_position == round(result.source_duration_seconds * SAMPLE_RATE) + info.pre_skip
    assert info.packet_count == math.ceil(info.granule_position / 960)
    assert len(list(iter_opus_packets(target))) == info.packet_count

    data = target.read_bytes()
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.size_bytes == len(data) == info.size_bytes
    assert b"LAME" not in data and b"Lavf" not in data  # metadata and encoder tags dropped
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert leftovers(target.parent) == []


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [
        ("wav", ["-c:a", "pcm_s16le"]),
        ("flac", ["-c:a", "flac"]),
        ("m4a", ["-c:a", "aac", "-b:a", "96k"]),
    ],
)
def test_wav_flac_and_m4a_inputs(tmp_path: Path, suffix: str, codec: list[str]) -> None:
    source = make_sine(tmp_path / f"in.{suffix}", -20.0, 2.0, *codec)
    result = transcode_to_opus(source, tmp_path / "out.ogg")
    assert result.output.all_20ms and result.output.channels == 2
    assert abs(result.output.duration_seconds - result.source_duration_seconds) <= 0.020
    assert abs(result.source_duration_seconds - 2.0) <= 0.030  # AAC keeps a little end padding
    assert abs(measure_output_loudness(result.target).integrated_lufs - -16.0) <= 1.0


def test_the_same_source_gives_the_same_bytes_from_many_threads(quiet_mp3: Path, tmp_path: Path) -> None:
    """No shared state between calls, and `bitexact` output: identical sources, identical sha256."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda n: transcode_to_opus(quiet_mp3, tmp_path / f"{n}.ogg"), range(3)))
    assert len({result.sha256 for result in results}) == 1
    assert leftovers(tmp_path) == []


def test_a_wide_loudness_range_falls_back_to_dynamic_mode_and_says_why(tmp_path: Path) -> None:
    """6 s quiet then 6 s loud: a loudness range (~19 LU) wider than the 11 LU target, so loudnorm's
    linear mode is refused and its compressor used instead. (On a file this short and this stepped the
    compressor does not land within 1 LU of the target: the note is there so the admin can tell.)"""
    source = tmp_path / "steps.mp3"
    steps = "sine=frequency=300:sample_rate=44100:duration=12,volume='if(lt(t,6),0.1,0.9)':eval=frame"
    ffmpeg("-f", "lavfi", "-i", steps, "-c:a", "libmp3lame", str(source))
    result = transcode_to_opus(source, tmp_path / "out.ogg")
    assert result.input_loudness.lra_lu > 11.0
    assert result.normalization == "dynamic"
    assert result.note is not None and "loudness range" in result.note and "wider than 11 LU" in result.note
    assert abs(result.output.duration_seconds - 12.0) <= 0.020


def test_silence_is_encoded_without_normalisation(tmp_path: Path) -> None:
    source = tmp_path / "silence.mp3"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono", "-t", "2", "-c:a", "libmp3lame", str(source))
    result = transcode_to_opus(source, tmp_path / "out.ogg")
    assert result.input_loudness.is_silent
    assert result.input_loudness.integrated_lufs <= -70.0  # ebur128's gate: nothing above it
    assert result.normalization == "none"
    assert result.note is not None and "without loudness normalisation" in result.note
    assert result.output.all_20ms
    assert abs(result.output.duration_seconds - 2.0) <= 0.020
    assert measure_output_loudness(result.target).is_silent


def test_measure_loudness_reports_the_four_figures(loud_mp3: Path) -> None:
    loudness = measure_loudness(loud_mp3)
    assert abs(loudness.integrated_lufs - -8.0) < 1.0
    assert loudness.integrated_lufs < loudness.true_peak_dbtp < 0.0  # a sine peaks ~+0.6 dB over it
    assert loudness.lra_lu == 0.0
    assert loudness.threshold_lufs == pytest.approx(loudness.integrated_lufs - 10.0, abs=0.05)


# --- bad inputs --------------------------------------------------------------------------------------


def _empty(path: Path, _: Path) -> None:
    path.write_bytes(b"")


def _truncated_mp3(path: Path, good: Path) -> None:
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _damaged_mp3(path: Path, good: Path) -> None:
    data = bytearray(good.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4000] = bytes((i * 7) & 0xFF for i in range(4000))
    path.write_bytes(bytes(data))


def _text(path: Path, _: Path) -> None:
    path.write_text("Surah Al-Fatiha, recited by ... (this is a text file, not audio)\n" * 20)


def _png(path: Path, _: Path) -> None:
    png = path.with_suffix(".png")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=32x32:rate=1", "-frames:v", "1", str(png))
    png.rename(path)


def _video_only(path: Path, _: Path) -> None:
    mp4 = path.with_suffix(".mp4")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=32x32:rate=5", "-t", "1", "-c:v", "mpeg4", str(mp4))
    mp4.rename(path)


@pytest.mark.parametrize(
    ("maker", "name", "reason"),
    [
        (_empty, "empty.mp3", r"^empty file \(0 bytes\)$"),
        (_truncated_mp3, "truncated.mp3", r"^truncated: only 1\.\d\d s of the 4\.\d\d s its header declares"),
        (_damaged_mp3, "damaged.mp3", r"^damaged audio data: Invalid data found when processing input"),
        (_text, "text.mp3", r"^not an audio file ffmpeg can read \(mp3: Failed to read frame size"),
        (
            _text,
            "text.flac",
            r"^not an audio file ffmpeg can read \(flac: Format flac detected only with low score",
        ),
        (_png, "cover.mp3", r"^no audio stream \(the file holds: video png\)$"),
        (_video_only, "video.m4a", r"^no audio stream \(the file holds: video mpeg4\)$"),
    ],
)
def test_bad_inputs_raise_one_line_reasons(
    maker: object, name: str, reason: str, quiet_mp3: Path, tmp_path: Path
) -> None:
    source = tmp_path / name
    assert callable(maker)
    maker(source, quiet_mp3)
    target = tmp_path / "out" / "001.ogg"
    with refused(reason) as raised:
        transcode_to_opus(source, target)
    assert "\n" not in raised.value.reason
    assert raised.value.source == source
    assert str(raised.value) == f"{source}: {raised.value.reason}"
    assert not target.exists()
    assert not target.parent.exists() or leftovers(target.parent) == []


def test_a_missing_source(tmp_path: Path) -> None:
    with refused(r"^no such file or directory$"):
        transcode_to_opus(tmp_path / "nowhere.mp3", tmp_path / "out.ogg")


def test_allow_damaged_imports_what_can_be_decoded(quiet_mp3: Path, tmp_path: Path) -> None:
    source = tmp_path / "damaged.mp3"
    _damaged_mp3(source, quiet_mp3)
    result = transcode_to_opus(source, tmp_path / "out.ogg", allow_damaged=True)
    assert result.output.all_20ms
    assert 2.0 < result.output.duration_seconds < 4.0


def test_missing_ffmpeg_raises_ffmpeg_missing(
    quiet_mp3: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(FfmpegMissing, match="apt-get install ffmpeg"):
        transcode_to_opus(quiet_mp3, tmp_path / "out.ogg")
    with pytest.raises(FfmpegMissing):
        measure_loudness(quiet_mp3)
    assert not (tmp_path / "out.ogg").exists()


# --- the target --------------------------------------------------------------------------------------


def test_a_full_disk_reports_no_space_and_removes_the_temp_file(
    quiet_mp3: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/dev/full fails every write with ENOSPC: a real full disk, as far as ffmpeg can tell, that needs no
    mount (CI containers cannot mount a small tmpfs). The temporary file is a symlink to it; removing
    the temporary removes the link, never the device."""
    created: list[Path] = []

    def temp_on_full_device(target: Path) -> Path:
        link = target.parent / f".{target.name}.full.tmp"
        link.symlink_to("/dev/full")
        created.append(link)
        return link

    monkeypatch.setattr(transcode, "_create_temp", temp_on_full_device)
    target = tmp_path / "001.ogg"
    with refused(r"^no space left on device$"):
        transcode_to_opus(quiet_mp3, target)
    assert created and not created[0].is_symlink()  # the temporary is gone
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert not target.exists()


def test_an_existing_target_survives_a_failed_transcode(quiet_mp3: Path, tmp_path: Path) -> None:
    target = tmp_path / "001.ogg"
    target.write_bytes(b"the previous import")
    bad = tmp_path / "bad.mp3"
    _text(bad, quiet_mp3)
    with pytest.raises(TranscodeError):
        transcode_to_opus(bad, target)
    assert target.read_bytes() == b"the previous import"


def test_an_unusable_target_directory(quiet_mp3: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    with refused(r"^cannot write to .*not-a-directory: not a directory$"):
        transcode_to_opus(quiet_mp3, blocker / "001.ogg")


@pytest.mark.parametrize(
    ("stderr", "reason"),
    [
        ("[error] file:/srv/a/.001.ogg.x.tmp: Permission denied", "permission denied"),
        ("[error] Error writing trailer of file:/x.tmp: No space left on device", "no space left on device"),
        (
            "[ogg @ 0x55] [error] Error opening output file:/x.tmp: Read-only file system",
            "read-only file system",
        ),
        ("[error] Stream map '0:a:0' matches no streams.", "no audio stream"),
        (
            "[info] Input #0\n[mp3 @ 0xabc] [error] Odd thing in file:/m/in.mp3\n[fatal] Conversion failed!",
            "Odd thing in in.mp3",
        ),
        ("", "ffmpeg failed without saying why"),
    ],
)
def test_ffmpeg_errors_are_summarised_in_one_line(stderr: str, reason: str) -> None:
    """As root, a directory cannot be made unwritable without a mount, so EACCES is checked here, on
    the stderr lines ffmpeg prints for it."""
    assert summarise_ffmpeg_error(stderr, [Path("/m/in.mp3")]) == reason


# --- interruptions -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_wav(inputs: Path) -> Path:
    """Two minutes of noise: long enough that ffmpeg is still encoding when the test interrupts it, even
    on a fast machine (CI once finished 20 s between two of the watcher's 5 ms looks)."""
    path = inputs / "long.wav"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=duration=120:color=pink:sample_rate=48000:amplitude=0.3",
        "-ac",
        "2",
        str(path),
    )
    return path


def test_ctrl_c_mid_encode_leaves_no_partial_target(long_wav: Path, tmp_path: Path) -> None:
    """SIGINT reaches the main thread once pass 2 has written part of the temporary file, as a Ctrl-C
    would: the child is killed, the temporary removed, and the target never appears."""
    target = tmp_path / "001.ogg"
    lock = threading.Lock()
    finished = threading.Event()
    sent = threading.Event()

    def interrupt_when_encoding() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not finished.is_set():
            if any(temp.stat().st_size > 0 for temp in leftovers(tmp_path)):
                with lock:
                    if not finished.is_set():
                        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
                        sent.set()
                return
            time.sleep(0.001)

    watcher = threading.Thread(target=interrupt_when_encoding)
    watcher.start()
    interrupted = False
    try:
        transcode_to_opus(long_wav, target)
        with lock:
            finished.set()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        finished.set()
        watcher.join()
    assert sent.is_set() and interrupted, "the transcode finished before it could be interrupted"
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_a_timeout_kills_ffmpeg_and_leaves_nothing(long_wav: Path, tmp_path: Path) -> None:
    target = tmp_path / "001.ogg"
    started = time.monotonic()
    with refused(r"^timed out after 0\.3 s$"):
        transcode_to_opus(long_wav, target, timeout=0.3)
    assert time.monotonic() - started < 2.0
    assert not target.exists()
    assert leftovers(tmp_path) == []
