"""Test tones: a sine wave encoded the way imported recitations are (Ogg Opus, 48 kHz, 20 ms frames).

The sandbox's listener can recognise a tone's pitch, so a tone file lets a test or the demo hear which
audio reached the voice channel without fabricating any recitation.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


class FfmpegMissing(RuntimeError):
    """ffmpeg is not installed; the message says how to install it."""


def ffmpeg_binary() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        raise FfmpegMissing("ffmpeg is not installed: run `sudo apt-get install ffmpeg` (or ./install.sh)")
    return path


def write_tone(path: Path, frequency: float = 440.0, seconds: float = 5.0, bitrate_kbps: int = 64) -> Path:
    """Encode a stereo sine of `frequency` Hz lasting `seconds` to Ogg Opus at `path`."""
    write_tones([(path, frequency)], seconds, bitrate_kbps)
    return path


def write_tones(tones: list[tuple[Path, float]], seconds: float, bitrate_kbps: int = 64) -> None:
    """Encode several tones with ONE ffmpeg process (its start-up, not the encoding, is the slow part)."""
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    for _, frequency in tones:
        command += ["-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={seconds}:sample_rate=48000"]
    for index, (path, _) in enumerate(tones):
        path.parent.mkdir(parents=True, exist_ok=True)
        command += ["-map", f"{index}:a", "-ac", "2", "-c:a", "libopus", "-b:a", f"{bitrate_kbps}k"]
        command += ["-frame_duration", "20", "-f", "ogg", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg could not write {tones[0][0].parent}: {result.stderr.strip()}")
