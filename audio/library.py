"""The reciter library: imported recitations on disk, and the typed view the player reads.

Each reciter is a folder `audio/<slug>/` of Ogg Opus files (48 kHz, 20 ms frames) and a `manifest.json`
written last and atomically: a folder without a manifest (an import that was interrupted) is invisible.
Track files are named by content (`018-3f2a9c1d.ogg`), so a re-import writes new files beside the old
ones and switches to them in one manifest write; nothing the player has open is ever overwritten.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from quranbot.atomic_file import atomic_write_bytes, fsync_directory

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
STAGING_PREFIX = ".import-"

Kind = Literal["surah", "ayah", "both"]
TrackKey = tuple[int, int | None]  # (surah, ayah); ayah None: the whole surah; 0: its bismillah


class LibraryError(ValueError):
    """A reciter that cannot be found or read; the message says which and why."""


@dataclass(frozen=True)
class Track:
    surah: int
    ayah: int | None
    file: str
    frames: int
    size: int
    sha256: str
    source_name: str
    source_sha256: str
    input_lufs: float | None = None

    @property
    def key(self) -> TrackKey:
        return (self.surah, self.ayah)

    @property
    def duration_seconds(self) -> float:
        """Exact: every packet is one 20 ms frame."""
        return self.frames * 0.02


@dataclass(frozen=True)
class Reciter:
    slug: str
    name: str
    directory: Path
    tracks: Mapping[TrackKey, Track]
    arabic_name: str | None = None
    source: str = ""
    sample: bool = False
    bitrate_kbps: int = 64
    target_lufs: float = -16.0
    imported_at: str = ""

    @property
    def kind(self) -> Kind | None:
        whole = any(ayah is None for _, ayah in self.tracks)
        per_ayah = any(ayah is not None for _, ayah in self.tracks)
        if whole and per_ayah:
            return "both"
        return "surah" if whole else ("ayah" if per_ayah else None)

    def surahs(self) -> list[int]:
        """Surahs with a whole-surah file."""
        return sorted(s for s, a in self.tracks if a is None)

    def ayah_surahs(self) -> list[int]:
        """Surahs with per-ayah files."""
        return sorted({s for s, a in self.tracks if a is not None and a > 0})

    def ayahs(self, surah: int) -> list[int]:
        return sorted(a for s, a in self.tracks if s == surah and a is not None and a > 0)

    def track(self, surah: int, ayah: int | None = None) -> Track | None:
        return self.tracks.get((surah, ayah))

    def path(self, track: Track) -> Path:
        return self.directory / track.file

    @property
    def ayah_count(self) -> int:
        return sum(1 for _, a in self.tracks if a is not None and a > 0)

    @property
    def hours(self) -> float:
        return sum(t.duration_seconds for t in self.tracks.values()) / 3600

    @property
    def size(self) -> int:
        return sum(t.size for t in self.tracks.values())


def slugify(name: str) -> str:
    """A folder name from a display name: ASCII letters, digits, hyphens ("Abdul Basit" → "abdul-basit")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:60].strip("-")


def manifest_document(reciter: Reciter, *, format_version: int = MANIFEST_FORMAT) -> dict[str, Any]:
    return {
        "format": format_version,
        "slug": reciter.slug,
        "name": reciter.name,
        "arabic_name": reciter.arabic_name,
        "source": reciter.source,
        "sample": reciter.sample,
        "bitrate_kbps": reciter.bitrate_kbps,
        "target_lufs": reciter.target_lufs,
        "imported_at": reciter.imported_at,
        "kind": reciter.kind,
        "tracks": [asdict(t) for t in sorted(reciter.tracks.values(), key=_order)],
    }


def _order(track: Track) -> tuple[int, int]:
    return (track.surah, -1 if track.ayah is None else track.ayah)


def read_manifest(directory: Path) -> Reciter:
    path = directory / MANIFEST
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise LibraryError(f"{directory.name}: no manifest (an import that did not finish?)") from None
    except (OSError, ValueError) as exc:
        raise LibraryError(f"{directory.name}: unreadable manifest ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
        raise LibraryError(
            f"{directory.name}: manifest format {document.get('format')!r} is not {MANIFEST_FORMAT}"
        )
    try:
        tracks = [Track(**item) for item in document["tracks"]]
        return Reciter(
            slug=directory.name,
            name=str(document["name"]),
            directory=directory,
            tracks={t.key: t for t in tracks},
            arabic_name=document.get("arabic_name"),
            source=str(document.get("source", "")),
            sample=bool(document.get("sample", False)),
            bitrate_kbps=int(document.get("bitrate_kbps", 64)),
            target_lufs=float(document.get("target_lufs", -16.0)),
            imported_at=str(document.get("imported_at", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LibraryError(f"{directory.name}: malformed manifest ({exc})") from None


def write_manifest(reciter: Reciter) -> None:
    """The commit point of an import: the bot sees the new tracks from this write on."""
    data = json.dumps(manifest_document(reciter), ensure_ascii=False, indent=1).encode()
    atomic_write_bytes(reciter.directory / MANIFEST, data, mode=0o644)


@dataclass
class Library:
    """All reciters under `audio_dir`; `problems` lists folders that could not be read, and why."""

    audio_dir: Path
    problems: list[str] = field(default_factory=list)

    def reciters(self) -> list[Reciter]:
        self.problems = []
        found = []
        if not self.audio_dir.is_dir():
            return []
        for directory in sorted(self.audio_dir.iterdir()):
            if not directory.is_dir() or directory.name.startswith("."):
                continue
            try:
                found.append(read_manifest(directory))
            except LibraryError as exc:
                self.problems.append(str(exc))
        return found

    def get(self, name: str) -> Reciter:
        """A reciter by slug or display name (case-insensitive)."""
        wanted = name.casefold()
        reciters = self.reciters()
        for reciter in reciters:
            if wanted in (reciter.slug, reciter.name.casefold()) or reciter.slug == slugify(name):
                return reciter
        known = ", ".join(r.slug for r in reciters) or "none imported yet"
        raise LibraryError(f"No reciter named {name!r} (reciters: {known})")

    def rename(self, name: str, new_name: str, arabic_name: str | None = None) -> Reciter:
        """Change the display names; the folder (slug) stays, so saved playback state keeps working."""
        reciter = self.get(name)
        renamed = replace(reciter, name=new_name, arabic_name=arabic_name or reciter.arabic_name)
        write_manifest(renamed)
        return renamed

    def remove(self, name: str) -> Reciter:
        reciter = self.get(name)
        # Manifest first: from that moment the reciter is gone for the bot, even if the rest fails.
        (reciter.directory / MANIFEST).unlink()
        shutil.rmtree(reciter.directory)
        return reciter

    def sweep_stale_staging(self) -> list[Path]:
        """Remove staging folders of imports whose process is gone (killed, or the machine rebooted)."""
        removed: list[Path] = []
        if not self.audio_dir.is_dir():
            return removed
        for staging in self.audio_dir.glob(f"{STAGING_PREFIX}*"):
            pid = _staging_pid(staging)
            if pid is not None and not _alive(pid):
                shutil.rmtree(staging, ignore_errors=True)
                removed.append(staging)
        return removed


def _staging_pid(staging: Path) -> int | None:
    """`.import-<slug>-<pid>-<random>` → pid."""
    parts = staging.name.rsplit("-", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def track_file_name(surah: int, ayah: int | None, content_sha256: str) -> str:
    """`018-3f2a9c1d.ogg` (a whole surah) or `002255-3f2a9c1d.ogg` (an ayah): named by content."""
    stem = f"{surah:03d}" if ayah is None else f"{surah:03d}{ayah:03d}"
    return f"{stem}-{content_sha256[:8]}.ogg"


def new_staging_dir(audio_dir: Path, slug: str) -> Path:
    """A private folder beside the reciters, on the same filesystem so publishing is a rename."""
    audio_dir.mkdir(parents=True, exist_ok=True)
    staging = audio_dir / f"{STAGING_PREFIX}{slug}-{os.getpid()}-{secrets.token_hex(3)}"
    staging.mkdir()
    return staging


def publish(staging: Path, reciter: Reciter) -> Reciter:
    """Move staged track files into the reciter's folder, then switch to them with one manifest write.

    Until the manifest is replaced the bot sees the previous version (or, for a new reciter, nothing);
    afterwards files no manifest names any more are deleted, and so is the staging folder.
    """
    reciter.directory.mkdir(parents=True, exist_ok=True)
    for track in reciter.tracks.values():
        staged = staging / track.file
        if staged.exists():
            os.replace(staged, reciter.directory / track.file)
        elif not (reciter.directory / track.file).exists():
            raise LibraryError(f"{reciter.slug}: track file {track.file} is missing")
    fsync_directory(reciter.directory)
    write_manifest(reciter)
    named = {t.file for t in reciter.tracks.values()}
    for old in reciter.directory.glob("*.ogg"):
        if old.name not in named:
            old.unlink()
    shutil.rmtree(staging, ignore_errors=True)
    return reciter
