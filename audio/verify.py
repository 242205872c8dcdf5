"""`quranbot reciter verify`: is every file of a reciter still what the import wrote?

Checks each track against its manifest entry: present, same SHA-256, an Ogg Opus stream of 20 ms
packets with the recorded frame count, and decodable from start to end by ffmpeg.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from quranbot.audio.library import Reciter, Track
from quranbot.audio.ogg import OggError, probe_ogg_opus
from quranbot.audio.tone import ffmpeg_binary


@dataclass(frozen=True)
class TrackProblem:
    file: str
    problem: str


def verify_track(reciter: Reciter, track: Track) -> TrackProblem | None:
    path = reciter.path(track)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return TrackProblem(track.file, "missing")
    except OSError as exc:
        return TrackProblem(track.file, f"unreadable ({exc.strerror})")
    if hashlib.sha256(data).hexdigest() != track.sha256:
        return TrackProblem(track.file, "checksum mismatch: the file changed after import")
    try:
        info = probe_ogg_opus(path)
    except OggError as exc:
        return TrackProblem(track.file, f"not a valid Ogg Opus file ({exc})")
    if not info.all_20ms:
        return TrackProblem(track.file, "not all packets are 20 ms frames")
    if info.packet_count != track.frames:
        return TrackProblem(track.file, f"{info.packet_count} frames, the manifest says {track.frames}")
    decoded = subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    if decoded.returncode != 0 or decoded.stderr.strip():
        first = (decoded.stderr.strip().splitlines() or ["ffmpeg failed"])[0]
        return TrackProblem(track.file, f"does not decode: {first}")
    return None


def verify_reciter(
    reciter: Reciter, jobs: int | None = None, progress: Callable[[int], None] | None = None
) -> list[TrackProblem]:
    """Every problem found, in track order (an empty list: all good)."""
    tracks = sorted(reciter.tracks.values(), key=lambda t: (t.surah, t.ayah or 0))

    def check(track: Track) -> TrackProblem | None:
        problem = verify_track(reciter, track)
        if progress is not None:
            progress(1)
        return problem

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return [p for p in pool.map(check, tracks) if p is not None]
