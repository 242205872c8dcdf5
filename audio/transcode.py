"""Transcode a recitation once, at import, to loudness-normalised Ogg Opus (48 kHz, stereo, 20 ms packets).

Playback copies the Opus packets of these files to Discord as they are (see DESIGN.md, "Passthrough"), so
everything about the sound is decided here: EBU R128 loudness normalisation in two passes (measure, then
apply `loudnorm` with the measured values, `linear=true` so the dynamics of the recitation are kept
whenever the true peak allows), then libopus at a fixed 20 ms frame duration.

ffmpeg and ffprobe run as child processes with argument lists (never a shell); every function is
self-contained (no module state), so many imports can run on threads at once. A transcode writes to a
temporary file beside the target and renames it into place only once the output has been checked, so an
error, a full disk, a timeout or Ctrl-C never leaves a partial target behind.

Failures about one file raise `TranscodeError` with a one-line reason (the import carries on with the
next file); a missing ffmpeg raises `FfmpegMissing` (nothing can be imported at all).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from quranbot.atomic_file import TEMP_SUFFIX, temp_prefix
from quranbot.audio.ogg import SAMPLE_RATE, OggError, OggOpusInfo, probe_ogg_opus
from quranbot.audio.tone import FfmpegMissing, ffmpeg_binary

SILENCE_LUFS = -70.0
"""EBU R128's absolute gate: an integrated loudness at or below it means there is nothing to normalise."""

OUTPUT_MODE = 0o644
"""Imported audio is read by the bot's service user, whoever ran the import."""

Normalization = Literal["linear", "dynamic", "none"]


class TranscodeError(RuntimeError):
    """One source file could not be transcoded; `reason` is a single human-readable line."""

    def __init__(self, source: Path, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Loudness:
    """An EBU R128 measurement. Integrated loudness is -inf for silence or audio shorter than 400 ms."""

    integrated_lufs: float
    true_peak_dbtp: float
    lra_lu: float
    threshold_lufs: float

    @property
    def is_silent(self) -> bool:
        """Too quiet (or too short) to measure, so there is no gain that would reach a target."""
        return not math.isfinite(self.integrated_lufs) or self.integrated_lufs <= SILENCE_LUFS


@dataclass(frozen=True, slots=True)
class TranscodeResult:
    source: Path
    target: Path
    source_duration_seconds: float
    """How much audio ffmpeg decoded from the source (not what its header claims)."""
    output: OggOpusInfo
    input_loudness: Loudness
    normalization: Normalization
    """What `loudnorm` did: "linear" (one gain), "dynamic" (its compressor, when a single gain would
    exceed the true-peak limit or the loudness range is wider than asked), "none" (silent input)."""
    note: str | None
    """Anything the admin should hear about, e.g. that silent input was not normalised."""
    sha256: str
    size_bytes: int


# --- running ffmpeg ----------------------------------------------------------------------------------


def ffprobe_binary() -> str:
    path = shutil.which("ffprobe")
    if path is None:
        raise FfmpegMissing("ffprobe is not installed: run `sudo apt-get install ffmpeg` (or ./install.sh)")
    return path


def _ffmpeg_url(path: Path) -> str:
    """An absolute `file:` URL, so a name with a colon or a leading dash is never read as a protocol or
    an option."""
    return f"file:{os.path.abspath(path)}"


class _Deadline:
    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def remaining(self) -> float | None:
        return None if self.end is None else max(self.end - time.monotonic(), 0.001)


def _run(command: list[str], source: Path, deadline: _Deadline) -> subprocess.CompletedProcess[str]:
    """Run a child to completion; on a timeout or any exception (Ctrl-C included) it is killed first."""
    try:
        return subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=deadline.remaining(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TranscodeError(source, f"timed out after {deadline.seconds:g} s") from None


_LOG_LINE = re.compile(
    r"^(?:\[(?P<context>[^\]@]+?) @ 0x[0-9a-fA-F]+\] )?"
    r"\[(?P<level>panic|fatal|error|warning|info|verbose|debug|trace)\] ?(?P<message>.*)$"
)
_ERROR_LEVELS = frozenset({"panic", "fatal", "error"})


@dataclass(frozen=True, slots=True)
class _LogLine:
    level: str
    context: str | None
    message: str


def _log_lines(stderr: str) -> list[_LogLine]:
    """ffmpeg's stderr, one record per line, from `-loglevel level+...` prefixes (unprefixed lines, such
    as the inside of a JSON block, are kept as level "info")."""
    records = []
    for raw in stderr.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _LOG_LINE.match(line)
        if match is None:
            records.append(_LogLine("info", None, line))
        else:
            records.append(_LogLine(match["level"], match["context"], match["message"].strip()))
    return records


def _errors(stderr: str) -> list[_LogLine]:
    return [line for line in _log_lines(stderr) if line.level in _ERROR_LEVELS]


# (a phrase ffmpeg prints, the reason we give), most telling first.
_OUTPUT_FAILURES: tuple[tuple[str, str], ...] = (
    ("No space left on device", "no space left on device"),
    ("Permission denied", "permission denied"),
    ("Read-only file system", "read-only file system"),
    ("Disk quota exceeded", "disk quota exceeded"),
    ("File too large", "file too large"),
)
_KNOWN_FAILURES: tuple[tuple[str, str], ...] = (
    *_OUTPUT_FAILURES,
    ("matches no streams", "no audio stream"),
    ("does not contain any stream", "no audio stream (does not contain any stream)"),
    ("moov atom not found", "not a complete MP4/M4A file (moov atom not found)"),
    ("Invalid data found when processing input", "Invalid data found when processing input"),
    ("No such file or directory", "no such file or directory"),
)


# Consequences, not causes: ffmpeg prints these after the line that says what really went wrong.
_GENERIC_FAILURES = (
    "Conversion failed",
    "Error marking filters as finished",
    "Error while filtering",
    "Error while processing the decoded data",
    "Task finished with error code",
    "Terminating thread with return code",
)


def summarise_ffmpeg_error(stderr: str, paths: Iterable[Path] = ()) -> str:
    """The one line of ffmpeg's stderr that says what went wrong, as a short reason.

    Known failures (a full disk, a missing stream, ...) map to fixed wordings; otherwise the first error
    line that names a cause (ffmpeg reports the cause first, then its consequences), without its
    `[demuxer @ 0x...]` prefix and with file paths shortened to their names.
    """
    errors = _errors(stderr) or _log_lines(stderr)
    if not errors:
        return "ffmpeg failed without saying why"
    for phrase, reason in _KNOWN_FAILURES:
        if any(phrase in line.message for line in errors):
            return reason
    causes = [line for line in errors if not line.message.startswith(_GENERIC_FAILURES)]
    message = (causes or errors)[0].message
    for path in paths:
        message = message.replace(_ffmpeg_url(path), path.name).replace(str(path), path.name)
    return message[:200]


# --- loudness ----------------------------------------------------------------------------------------


# Both passes measure the stereo mix the listener hears (a 5.1 downmix is not as loud as its 5.1 source).
_STEREO = "aformat=channel_layouts=stereo"

_LOUDNORM_JSON = re.compile(r"\{[^{}]*\"input_i\"[^{}]*\}")


def _parse_loudnorm(stderr: str) -> dict[str, str]:
    """The last JSON block `loudnorm` printed (its values are strings such as "-16.02" or "-inf")."""
    blocks = _LOUDNORM_JSON.findall(stderr)
    if not blocks:
        raise ValueError("loudnorm printed no measurement")
    parsed = json.loads(blocks[-1])
    if not isinstance(parsed, dict):
        raise ValueError("loudnorm's measurement is not a JSON object")
    return {str(key): str(value) for key, value in parsed.items()}


def _number(values: dict[str, str], key: str) -> float:
    try:
        return float(values[key])
    except (KeyError, ValueError):
        raise ValueError(f"loudnorm's measurement has no number for {key!r}") from None


_EBUR128_SUMMARY = re.compile(
    r"Integrated loudness:\s*I:\s*(?P<i>\S+) LUFS\s*Threshold:\s*(?P<thresh>\S+) LUFS"
    r"\s*Loudness range:\s*LRA:\s*(?P<lra>\S+) LU"
    r".*?True peak:\s*Peak:\s*(?P<peak>\S+) dBFS",
    re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class _Measurement:
    loudness: Loudness
    target_offset: float
    """loudnorm's suggested gain offset for pass 2, used only if it falls back to dynamic mode."""
    decoded_seconds: float
    decode_errors: list[str]


def _measure(
    ffmpeg: str, source: Path, target_lufs: float, true_peak: float, lra: float, deadline: _Deadline
) -> _Measurement:
    """Pass 1: decode the first audio stream through `ebur128` (true peak on) into the null muxer.

    ebur128 gives the same EBU R128 figures loudnorm's first pass does, about 5x faster: loudnorm runs
    its whole dynamic processor (at 192 kHz) even when it only measures.
    """
    command = [
        ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info",
        "-i", _ffmpeg_url(source), "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-af", f"{_STEREO},ebur128=peak=true:framelog=verbose", "-f", "null", "-", "-progress", "pipe:1",
    ]  # fmt: skip
    result = _run(command, source, deadline)
    if result.returncode != 0:
        raise TranscodeError(source, summarise_ffmpeg_error(result.stderr, [source]))
    decoded = [int(value) for value in re.findall(r"^out_time_us=(\d+)$", result.stdout, re.MULTILINE)]
    decoded_seconds = decoded[-1] / 1e6 if decoded else 0.0
    match = _EBUR128_SUMMARY.search(result.stderr)
    if match is None:
        if decoded_seconds == 0.0:
            raise TranscodeError(source, "no audio could be decoded")
        raise TranscodeError(source, "ebur128 printed no loudness summary")
    loudness = Loudness(
        integrated_lufs=float(match["i"]),
        true_peak_dbtp=float(match["peak"]),
        lra_lu=float(match["lra"]),
        threshold_lufs=float(match["thresh"]),
    )
    errors = [line.message for line in _errors(result.stderr)]
    return _Measurement(loudness, 0.0, decoded_seconds, errors)


def measure_loudness(
    path: Path,
    *,
    target_lufs: float = -16.0,
    true_peak: float = -1.5,
    lra: float = 11.0,
    timeout: float | None = None,
) -> Loudness:
    """The integrated loudness, true peak, loudness range and gate threshold of `path`'s first audio
    stream (EBU R128, as pass 1 measures it)."""
    return _measure(ffmpeg_binary(), path, target_lufs, true_peak, lra, _Deadline(timeout)).loudness


def measure_output_loudness(path: Path, *, timeout: float | None = None) -> Loudness:
    """Measure a finished file with the `ebur128` filter: an implementation independent of `loudnorm`,
    to check what pass 2 produced. Silence reads as -70 LUFS (the gate), which `is_silent` covers."""
    command = [
        ffmpeg_binary(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info",
        "-i", _ffmpeg_url(path), "-map", "0:a:0",
        "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-",
    ]  # fmt: skip
    result = _run(command, path, _Deadline(timeout))
    if result.returncode != 0:
        raise TranscodeError(path, summarise_ffmpeg_error(result.stderr, [path]))
    match = _EBUR128_SUMMARY.search(result.stderr)
    if match is None:
        raise TranscodeError(path, "ebur128 printed no summary")
    return Loudness(
        integrated_lufs=float(match["i"]),
        true_peak_dbtp=float(match["peak"]),
        lra_lu=float(match["lra"]),
        threshold_lufs=float(match["thresh"]),
    )


# --- the source --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SourceProbe:
    declared_seconds: float | None
    """The duration the container's header states, or None when ffmpeg could only estimate it."""


def _probe_source(source: Path, deadline: _Deadline) -> _SourceProbe:
    """Check with ffprobe that the file is a container ffmpeg can read and holds an audio stream."""
    try:
        size = source.stat().st_size
    except OSError as error:
        raise TranscodeError(source, (error.strerror or str(error)).lower()) from None
    if not source.is_file():
        raise TranscodeError(source, "not a regular file")
    if size == 0:
        raise TranscodeError(source, "empty file (0 bytes)")
    command = [
        ffprobe_binary(), "-hide_banner", "-loglevel", "level+warning",
        "-show_entries",
        "format=format_name,duration:stream=codec_type,codec_name,duration,channels,sample_rate",
        "-of", "json", _ffmpeg_url(source),
    ]  # fmt: skip
    result = _run(command, source, deadline)
    if result.returncode != 0:
        # The demuxer's own complaint (e.g. "mp3: Failed to read frame size") says more than the
        # generic "Invalid argument" that follows it.
        demuxer = [line for line in _errors(result.stderr) if line.context is not None]
        if demuxer:
            detail = f"{demuxer[0].context}: {demuxer[0].message}"
        else:
            detail = summarise_ffmpeg_error(result.stderr, [source])
        raise TranscodeError(source, f"not an audio file ffmpeg can read ({detail})")
    try:
        report = json.loads(result.stdout)
        streams: list[dict[str, object]] = report.get("streams", [])
        container: dict[str, object] = report.get("format", {})
    except (ValueError, AttributeError):
        raise TranscodeError(source, "ffprobe's report could not be read") from None
    audio = [stream for stream in streams if stream.get("codec_type") == "audio"]
    if not audio:
        found = ", ".join(f"{s.get('codec_type', '?')} {s.get('codec_name', '?')}" for s in streams)
        raise TranscodeError(source, f"no audio stream (the file holds: {found or 'no streams'})")
    if not _positive(audio[0].get("channels")) or not _positive(audio[0].get("sample_rate")):
        # A file a demuxer claimed on a weak guess (text named .flac), with no decodable parameters.
        warnings = [line for line in _log_lines(result.stderr) if line.context and line.level == "warning"]
        detail = f"{warnings[0].context}: {warnings[0].message}" if warnings else "no channels or sample rate"
        raise TranscodeError(source, f"not an audio file ffmpeg can read ({detail})")
    estimated = "Estimating duration from bitrate" in result.stderr
    declared: float | None = None
    for value in (audio[0].get("duration"), container.get("duration")):
        if value is not None:
            with contextlib.suppress(ValueError):
                declared = float(str(value))
                break
    return _SourceProbe(None if estimated else declared)


def _positive(value: object) -> bool:
    try:
        return float(str(value)) > 0
    except ValueError:
        return False


def _check_complete(source: Path, probe: _SourceProbe, measurement: _Measurement) -> None:
    """Refuse damaged input: decode errors, or less audio than the header declares (a truncated file)."""
    if measurement.decode_errors:
        # Each decoding error is usually two lines: the decoder's complaint, then ffmpeg's summary.
        count = sum("Error while decoding" in m for m in measurement.decode_errors)
        count = count or len(measurement.decode_errors)
        worst = next(
            (
                reason
                for phrase, reason in _KNOWN_FAILURES
                if any(phrase in m for m in measurement.decode_errors)
            ),
            measurement.decode_errors[-1],
        )
        raise TranscodeError(
            source, f"damaged audio data: {worst} ({count} decoding error{'s' * (count > 1)})"
        )
    declared, decoded = probe.declared_seconds, measurement.decoded_seconds
    if declared is not None and declared - decoded > max(0.5, 0.02 * declared):
        raise TranscodeError(
            source,
            f"truncated: only {decoded:.2f} s of the {declared:.2f} s its header declares could be decoded",
        )


# --- the transcode -----------------------------------------------------------------------------------


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _loudnorm_pass2(measurement: _Measurement, target_lufs: float, true_peak: float, lra: float) -> str:
    # loudnorm rejects measured values outside its ranges, which extreme files can produce. It also
    # reads measured_LRA=0 (and measured_I=0, measured_thresh=-70) as "not measured" and then silently
    # falls back to dynamic mode: a steady signal (a test tone, a drone) really measures LRA 0.00, so
    # nudge the sentinels by 0.01, far below what the measurement resolves.
    loudness = measurement.loudness
    measured_i = _clamp(loudness.integrated_lufs, -99.0, -0.01)
    measured_tp = _clamp(loudness.true_peak_dbtp, -99.0, 98.99)
    measured_lra = _clamp(loudness.lra_lu, 0.01, 99.0)
    measured_thresh = _clamp(loudness.threshold_lufs, -99.0, 0.0)
    if measured_thresh == SILENCE_LUFS:
        measured_thresh -= 0.01
    offset = (
        _clamp(measurement.target_offset, -99.0, 99.0) if math.isfinite(measurement.target_offset) else 0.0
    )
    return (
        f"{_STEREO},loudnorm=I={target_lufs:g}:TP={true_peak:g}:LRA={lra:g}"
        f":measured_I={measured_i:.2f}:measured_TP={measured_tp:.2f}"
        f":measured_LRA={measured_lra:.2f}:measured_thresh={measured_thresh:.2f}:offset={offset:.2f}"
        ":linear=true:print_format=json"
    )


def _linear_gain(loudness: Loudness, target_lufs: float, true_peak: float, lra: float) -> float | None:
    """The one gain loudnorm's linear mode would apply, or None where it would compress instead.

    Mirrors af_loudnorm: linear if the true peak after the gain stays under the limit and the loudness
    range fits. Applying that gain with `volume` gives the same result without loudnorm's 192 kHz
    processing, so the common case encodes several times faster.
    """
    gain = target_lufs - loudness.integrated_lufs
    if loudness.true_peak_dbtp + gain <= true_peak and loudness.lra_lu <= lra:
        return gain
    return None


def _why_dynamic(loudness: Loudness, target_lufs: float, true_peak: float, lra: float) -> str:
    """loudnorm keeps one linear gain only if the result's true peak stays under the limit and the
    loudness range fits the target range; otherwise it compresses, and the admin should know why."""
    gain = target_lufs - loudness.integrated_lufs
    if loudness.true_peak_dbtp + gain > true_peak:
        why = (
            f"a single gain of {gain:+.1f} dB would put the true peak at "
            f"{loudness.true_peak_dbtp + gain:.1f} dBTP, over {true_peak:g}"
        )
    else:
        why = f"the loudness range, {loudness.lra_lu:.1f} LU, is wider than {lra:g} LU"
    return f"normalised in loudnorm's dynamic mode (its compressor changes the dynamics): {why}"


def _create_temp(target: Path) -> Path:
    """An empty file beside `target`, named like atomic_file's temporaries (`.NAME.*.tmp`) so a sweep
    after a crash removes it."""
    fd, name = tempfile.mkstemp(prefix=temp_prefix(target), suffix=TEMP_SUFFIX, dir=target.parent)
    os.close(fd)
    return Path(name)


def _encode(
    ffmpeg: str,
    source: Path,
    temp: Path,
    audio_filter: str | None,
    bitrate_kbps: int,
    deadline: _Deadline,
    *,
    allow_damaged: bool,
) -> Normalization:
    """Pass 2: normalise (if there is a filter) and encode to Ogg Opus in `temp`."""
    filters = ["-af", audio_filter] if audio_filter else []
    level = "level+info" if filters else "level+error"  # info: loudnorm reports the mode it used
    command = [
        ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", level,
        "-y", "-i", _ffmpeg_url(source), "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-map_metadata", "-1", "-map_chapters", "-1",
        *filters,
        "-ar", str(SAMPLE_RATE), "-ac", "2",
        "-c:a", "libopus", "-b:a", f"{bitrate_kbps}k", "-frame_duration", "20",
        "-application", "audio", "-vbr", "on",
        # bitexact: no random Ogg serial and no encoder version tag, so the same source always gives
        # the same bytes (and the same sha256).
        "-fflags", "+bitexact", "-flags:a", "+bitexact",
        "-f", "ogg", _ffmpeg_url(temp),
    ]  # fmt: skip
    result = _run(command, source, deadline)
    errors = _errors(result.stderr)
    # ffmpeg 5.1 exits 0 even when it could not write its output (ENOSPC while writing the trailer), so
    # any error line counts. With allow_damaged the decoding errors pass 1 found are expected again.
    output_trouble = any(phrase in line.message for line in errors for phrase, _ in _OUTPUT_FAILURES)
    if result.returncode != 0 or output_trouble or (errors and not allow_damaged):
        raise TranscodeError(source, summarise_ffmpeg_error(result.stderr, [source, temp]))
    if not filters:
        return "none"
    try:
        kind = _parse_loudnorm(result.stderr).get("normalization_type", "")
    except ValueError:
        kind = ""
    return "dynamic" if kind == "dynamic" else "linear"


def transcode_to_opus(
    source: Path,
    target: Path,
    *,
    bitrate_kbps: int = 64,
    target_lufs: float = -16.0,
    true_peak: float = -1.5,
    lra: float = 11.0,
    allow_damaged: bool = False,
    timeout: float | None = None,
) -> TranscodeResult:
    """Transcode `source` to a loudness-normalised Ogg Opus file at `target` (replaced atomically).

    Two-pass EBU R128: pass 1 measures, pass 2 applies `loudnorm` with those measurements. Silent input
    is encoded without normalisation (there is no gain to compute) and says so in `note`. Damaged input
    (decoding errors, or a file shorter than its header declares) is refused unless `allow_damaged`.
    `timeout` bounds the whole transcode, in seconds.

    Raises TranscodeError (one line, about this file) or FfmpegMissing.
    """
    ffmpeg = ffmpeg_binary()
    ffprobe_binary()
    deadline = _Deadline(timeout)
    probe = _probe_source(source, deadline)
    measurement = _measure(ffmpeg, source, target_lufs, true_peak, lra, deadline)
    if not allow_damaged:
        _check_complete(source, probe, measurement)
    if measurement.decoded_seconds <= 0.0:
        raise TranscodeError(source, "no audio could be decoded")
    loudness = measurement.loudness
    note: str | None = None
    audio_filter: str | None = None
    if loudness.is_silent:
        note = (
            f"integrated loudness is {loudness.integrated_lufs:g} LUFS (silent, or shorter than 400 ms): "
            "encoded without loudness normalisation"
        )
    elif (gain := _linear_gain(loudness, target_lufs, true_peak, lra)) is not None:
        audio_filter = f"{_STEREO},volume={gain:.2f}dB"
    else:
        audio_filter = _loudnorm_pass2(measurement, target_lufs, true_peak, lra)

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = _create_temp(target)
    except FileExistsError:  # mkdir: the "directory" is a file
        raise TranscodeError(source, f"cannot write to {target.parent}: not a directory") from None
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise TranscodeError(source, f"cannot write to {target.parent}: {reason}") from None
    try:
        normalization = _encode(
            ffmpeg, source, temp, audio_filter, bitrate_kbps, deadline, allow_damaged=allow_damaged
        )
        try:
            info = probe_ogg_opus(temp)
        except OggError as error:
            raise TranscodeError(source, f"ffmpeg wrote an invalid Ogg Opus file: {error}") from None
        if not info.all_20ms or info.channels != 2 or info.input_sample_rate != SAMPLE_RATE:
            raise TranscodeError(
                source,
                f"unexpected output: {info.channels} channels, {info.input_sample_rate} Hz, packets of "
                f"{info.frame_ms if info.frame_ms is not None else 'mixed'} ms (want 2, 48000, 20)",
            )
        if abs(info.duration_seconds - measurement.decoded_seconds) > 0.1:
            raise TranscodeError(
                source,
                f"the output lasts {info.duration_seconds:.3f} s but the source decoded to "
                f"{measurement.decoded_seconds:.3f} s",
            )
        with open(temp, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        os.chmod(temp, OUTPUT_MODE)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    if normalization == "dynamic":
        note = _why_dynamic(loudness, target_lufs, true_peak, lra)
    return TranscodeResult(
        source=source,
        target=target,
        source_duration_seconds=measurement.decoded_seconds,
        output=info,
        input_loudness=loudness,
        normalization=normalization,
        note=note,
        sha256=digest,
        size_bytes=info.size_bytes,
    )
