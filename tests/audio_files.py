"""Real audio files for tests, made with ffmpeg: sines at a chosen level in any container."""

from __future__ import annotations

import subprocess
from pathlib import Path

CODECS = {".mp3": ["-c:a", "libmp3lame", "-b:a", "96k"], ".wav": [], ".flac": [], ".m4a": ["-c:a", "aac"]}


def make_sine(path: Path, hz: float = 440.0, seconds: float = 1.0, volume_db: float = -20.0) -> Path:
    """A mono sine of `seconds` at roughly `volume_db` dBFS, encoded by the file's extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", f"sine=frequency={hz}:duration={seconds}:sample_rate=44100",
            "-af", f"volume={volume_db}dB", *CODECS[path.suffix], str(path),
        ],
        check=True,
    )  # fmt: skip
    return path
