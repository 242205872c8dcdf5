"""Reciter import throughput: audio seconds imported per wall-clock second, one job vs all cores.

A synthetic 114-surah MP3 set (a few seconds per surah, made with ffmpeg) is imported twice in the
same run into fresh libraries: `--jobs 1`, then one job per core. Real recitations are minutes long,
so the per-file start-up cost weighs less there; use --seconds to see how the rate changes.

Reproduce: .venv/bin/python bench/import.py [--seconds 8] [--surahs 114]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from quranbot.audio.importer import Importer, ImportOptions
from quranbot.audio.source import open_source


def make_mp3_set(folder: Path, surahs: int, seconds: float) -> None:
    folder.mkdir(parents=True)
    for surah in range(1, surahs + 1):
        subprocess.run(
            [
                "ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi",
                "-i", f"sine=frequency={200 + surah}:duration={seconds}:sample_rate=44100",
                "-c:a", "libmp3lame", "-b:a", "128k", str(folder / f"{surah:03d}.mp3"),
            ],
            check=True,
        )  # fmt: skip


def timed_import(source: Path, library: Path, jobs: int) -> tuple[float, float, int]:
    importer = Importer(library, ImportOptions(name=f"bench-{jobs}", jobs=jobs))
    with open_source(source) as opened:
        found, copies = importer.scan(opened)
        start = time.perf_counter()
        result = importer.run(opened, found, copies)
        elapsed = time.perf_counter() - start
    assert not result.failed and result.reciter is not None, result.failed
    return result.audio_seconds, elapsed, len(result.imported)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="audio per surah file")
    parser.add_argument("--surahs", type=int, default=114)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source"
        make_mp3_set(source, args.surahs, args.seconds)
        rows = []
        for jobs in (1, cores):
            audio, elapsed, files = timed_import(source, Path(tmp) / f"library-{jobs}", jobs)
            rows.append((jobs, files, audio, elapsed, audio / elapsed))
    encoding = "two-pass EBU R128 (measure, then gain) + Opus 64 kbps"
    print(f"{args.surahs} MP3 files x {args.seconds:g} s, {encoding}; {cores} cores")
    print(f"{'jobs':>5} {'files':>6} {'audio s':>9} {'wall s':>8} {'audio s / wall s':>17}")
    for jobs, files, audio, elapsed, rate in rows:
        print(f"{jobs:>5} {files:>6} {audio:>9.0f} {elapsed:>8.1f} {rate:>17.1f}")
    print(f"speed-up with {cores} jobs: {rows[1][4] / rows[0][4]:.2f}x")
    print(f"reproduce: .venv/bin/python bench/import.py --seconds {args.seconds:g} --surahs {args.surahs}")


if __name__ == "__main__":
    main()
