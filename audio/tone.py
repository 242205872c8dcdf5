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
    path.parent.mkdir(parents=True, exist_ok=True)
    source = f"sine=frequency={frequency}:duration={seconds}:sample_rate=48000"
    command = [
        ffmpeg_binary(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        source,
        "-ac",
        "2",
        "-c:a",
        "libopus",
        "-b:a",
        f"{bitrate_kbps}k",
        "-frame_duration",
        "20",
        "-f",
        "ogg",
        str(path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg could not write {path}: {result.stderr.strip()}")
    return path
