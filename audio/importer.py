"""`quranbot reciter import`: turn what the admin has into a verified reciter, once.

Stages: `scan` maps every file to a surah/ayah (naming.py) and resolves duplicates that are byte-for-
byte copies; `run` transcodes what is new or changed, in parallel, into a private staging folder, then
`publish` moves the files in and writes the manifest last. An interrupted or failed import leaves the
previous version of the reciter exactly as it was (a new reciter stays invisible).
"""

from __future__ import annotations

import datetime
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from quranbot.audio.library import (
    Library,
    LibraryError,
    Reciter,
    Track,
    new_staging_dir,
    publish,
    read_manifest,
    slugify,
    track_file_name,
)
from quranbot.audio.naming import ImportPlan, Key, Match, plan
from quranbot.audio.source import Source, SourceFile
from quranbot.audio.transcode import TranscodeError, transcode_to_opus

DISK_FULL = "no space left on device"


@dataclass(frozen=True)
class ImportOptions:
    name: str
    arabic_name: str | None = None
    bitrate_kbps: int = 64
    target_lufs: float = -16.0
    jobs: int | None = None  # None: one per CPU core


@dataclass(frozen=True)
class ImportProgress:
    files_done: int
    files_total: int
    audio_seconds: float
    elapsed_seconds: float

    @property
    def speed(self) -> float:
        """Audio seconds imported per wall-clock second."""
        return self.audio_seconds / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0


@dataclass(frozen=True)
class FileFailure:
    relative: str
    reason: str


@dataclass
class ImportResult:
    plan: ImportPlan
    reciter: Reciter | None = None
    imported: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[FileFailure] = field(default_factory=list)
    #: Duplicate files that were identical copies: one was imported.
    identical_copies: list[list[str]] = field(default_factory=list)
    #: Why the import stopped before publishing (a full disk, Ctrl+C); None when it finished.
    aborted: str | None = None
    audio_seconds: float = 0.0
    elapsed_seconds: float = 0.0


class _Abort(Exception):
    """A failure that must stop the whole import (the disk is full)."""


class Importer:
    def __init__(
        self,
        audio_dir: Path,
        options: ImportOptions,
        progress: Callable[[ImportProgress], None] | None = None,
    ) -> None:
        self.audio_dir = audio_dir
        self.options = options
        self.slug = slugify(options.name) or "reciter"
        self._progress = progress

    @property
    def directory(self) -> Path:
        return self.audio_dir / self.slug

    def existing(self) -> Reciter | None:
        try:
            return read_manifest(self.directory)
        except LibraryError:
            return None

    def scan(self, source: Source) -> tuple[ImportPlan, list[list[str]]]:
        """Map the source's files; duplicates that are identical copies are reduced to one file."""
        result = plan([f.relative for f in source.files()])
        by_name = {f.relative: f for f in source.files()}
        copies: list[list[str]] = []
        for key, relatives in list(result.duplicates):
            if len({by_name[r].sha256() for r in relatives}) == 1:
                result.duplicates.remove((key, relatives))
                result.matches[key] = Match(relatives[0], key[0], key[1], "identical copies")
                copies.append(relatives)
        if copies:
            covered = {surah for surah, _ in result.matches}
            result.missing_surahs = [s for s in result.missing_surahs if s not in covered]
        return result, copies

    def run(
        self, source: Source, found: ImportPlan, identical_copies: list[list[str]] | None = None
    ) -> ImportResult:
        started = time.monotonic()
        result = ImportResult(plan=found, identical_copies=identical_copies or [])
        files = {f.relative: f for f in source.files()}
        previous = self.existing()
        same_encoding = previous is not None and (
            previous.bitrate_kbps == self.options.bitrate_kbps
            and previous.target_lufs == self.options.target_lufs
        )
        tracks: dict[Key, Track] = dict(previous.tracks) if previous is not None and same_encoding else {}
        todo: list[Match] = []
        for key, match in sorted(found.matches.items(), key=lambda item: (item[0][0], item[0][1] or 0)):
            old = tracks.get(key)
            if (
                old is not None
                and old.source_sha256 == files[match.relative].sha256()
                and (self.directory / old.file).is_file()
            ):
                result.unchanged.append(match.relative)
            else:
                todo.append(match)
        Library(self.audio_dir).sweep_stale_staging()
        staging = new_staging_dir(self.audio_dir, self.slug)
        try:
            new_tracks = self._transcode_all(todo, files, staging, result, started)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, _Abort):
                result.aborted = str(exc)
                result.elapsed_seconds = time.monotonic() - started
                return result
            raise
        tracks.update(new_tracks)
        result.elapsed_seconds = time.monotonic() - started
        if not tracks:
            shutil.rmtree(staging, ignore_errors=True)
            return result
        reciter = Reciter(
            slug=self.slug,
            name=self.options.name,
            directory=self.directory,
            tracks=tracks,
            arabic_name=self.options.arabic_name or (previous.arabic_name if previous else None),
            source=str(source.path),
            bitrate_kbps=self.options.bitrate_kbps,
            target_lufs=self.options.target_lufs,
            imported_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        )
        result.reciter = publish(staging, reciter)
        return result

    def _transcode_all(
        self,
        todo: list[Match],
        files: dict[str, SourceFile],
        staging: Path,
        result: ImportResult,
        started: float,
    ) -> dict[Key, Track]:
        tracks: dict[Key, Track] = {}
        lock = threading.Lock()
        stop = threading.Event()
        total = len(todo) + len(result.unchanged)
        done = [len(result.unchanged)]

        def one(match: Match) -> None:
            if stop.is_set():
                return
            source_file = files[match.relative]
            try:
                track, seconds = self._transcode(match, source_file, staging)
            except TranscodeError as exc:
                if DISK_FULL in exc.reason:
                    stop.set()
                    raise _Abort(
                        f"the disk is full ({exc.reason}) while importing {match.relative}"
                    ) from None
                with lock:
                    result.failed.append(FileFailure(match.relative, exc.reason))
                    done[0] += 1
                return
            with lock:
                tracks[track.key] = track
                result.imported.append(match.relative)
                result.audio_seconds += seconds
                done[0] += 1
                if self._progress is not None:
                    self._progress(
                        ImportProgress(done[0], total, result.audio_seconds, time.monotonic() - started)
                    )

        workers = self.options.jobs or os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="import") as pool:
            futures: list[Future[None]] = [pool.submit(one, match) for match in todo]
            try:
                finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            except BaseException:  # Ctrl+C: let running ffmpegs end, start no more
                stop.set()
                pool.shutdown(cancel_futures=True)
                raise
            for future in finished:
                if future.exception() is not None:
                    stop.set()
                    pool.shutdown(cancel_futures=True)
                    raise future.exception()  # type: ignore[misc]
        result.failed.sort(key=lambda f: f.relative)
        result.imported.sort()
        return tracks

    def _transcode(self, match: Match, source_file: SourceFile, staging: Path) -> tuple[Track, float]:
        with source_file.materialize() as path:
            temporary = staging / f"{match.surah:03d}-{match.ayah if match.ayah is not None else 'all'}.ogg"
            outcome = transcode_to_opus(
                path, temporary, bitrate_kbps=self.options.bitrate_kbps, target_lufs=self.options.target_lufs
            )
        name = track_file_name(match.surah, match.ayah, outcome.sha256)
        os.replace(temporary, staging / name)
        track = Track(
            surah=match.surah,
            ayah=match.ayah,
            file=name,
            frames=outcome.output.packet_count,
            size=outcome.size_bytes,
            sha256=outcome.sha256,
            source_name=match.relative,
            source_sha256=source_file.sha256(),
            input_lufs=outcome.input_loudness.integrated_lufs
            if not outcome.input_loudness.is_silent
            else None,
        )
        return track, outcome.source_duration_seconds
