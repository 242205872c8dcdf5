"""What the admin hands to `quranbot reciter import`: a folder or a .zip of audio files, read safely.

A zip is never extracted whole: a reciter's archive can be several gigabytes, and a hostile one can
name members `../../etc/cron.d/x`. So member names are checked before anything else (one bad name
refuses the whole archive, since it says the archive was not made in good faith), and each member
is copied out alone, to a private temp file, only for as long as ffmpeg needs to read it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

__all__ = [
    "Skipped",
    "Source",
    "SourceError",
    "SourceFile",
    "is_macos_junk",
    "open_source",
    "unsafe_member_reason",
]

_CHUNK = 1 << 20
_ZIP_MAGIC = b"PK"
_DRIVE_LETTER = re.compile(r"[A-Za-z]:")
"""`C:` at the start of a path component: a Windows drive, which would escape the target there."""

# Errors zipfile and zlib raise for a damaged member or an unsupported compression method; both mean
# "this member cannot be read". (Encrypted members are skipped when listing, so never opened.)
_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)


class SourceError(Exception):
    """The source cannot be read as a whole (or a member of it cannot); the message names the path."""


@dataclass(frozen=True)
class Skipped:
    """An entry of the source that is not offered as a file, and why (so the report can say so)."""

    relative: str
    reason: str


def is_macos_junk(relative: str) -> bool:
    """Finder's resource forks (`._name`) and the `__MACOSX/` folder its zips carry: never audio,
    even when named `._001.mp3`."""
    parts = PurePosixPath(relative).parts
    return "__MACOSX" in parts or (bool(parts) and parts[-1].startswith("._"))


class SourceFile(ABC):
    """One regular file of the source, named by its POSIX path inside the source."""

    def __init__(self, relative: str, size: int) -> None:
        self.relative = relative
        self.size = size
        self._sha256: str | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.relative!r}, size={self.size})"

    @abstractmethod
    def open(self) -> AbstractContextManager[IO[bytes]]:
        """The file's bytes as a binary stream."""

    @abstractmethod
    def materialize(self) -> AbstractContextManager[Path]:
        """A real file path ffmpeg can read, valid until the context exits."""

    def sha256(self) -> str:
        """Hex SHA-256 of the content, read in chunks (files can be large) and computed once."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            with self.open() as stream:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
            self._sha256 = digest.hexdigest()
        return self._sha256


class _FolderFile(SourceFile):
    def __init__(self, relative: str, size: int, path: Path) -> None:
        super().__init__(relative, size)
        self.path = path

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        try:
            stream = self.path.open("rb")
        except OSError as exc:
            raise SourceError(f"Cannot read {self.path}: {exc.strerror or exc}") from exc
        with stream:
            yield stream

    @contextmanager
    def materialize(self) -> Iterator[Path]:
        """The file itself: it is already on disk, and copying it would only cost time."""
        yield self.path


class _ZipMember(SourceFile):
    def __init__(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, relative: str, workdir: Path | None
    ) -> None:
        super().__init__(relative, info.file_size)
        self._archive = archive
        self._info = info
        self._workdir = workdir

    def _name(self) -> str:
        return f"{self._archive.filename}: {self._info.filename}"

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        # Reading errors surface while the caller reads (a bad CRC at the end), so wrap the whole block.
        try:
            with self._archive.open(self._info) as stream:
                yield stream
        except _MEMBER_ERRORS as exc:
            raise SourceError(f"Cannot read {self._name()}: {exc}") from exc

    @contextmanager
    def materialize(self) -> Iterator[Path]:
        """The member copied alone to a 0600 temp file (mkstemp), removed on exit. The suffix is
        kept because ffmpeg guesses raw formats such as .aac from it."""
        descriptor, name = tempfile.mkstemp(
            prefix="quranbot-import-", suffix=PurePosixPath(self.relative).suffix, dir=self._workdir
        )
        path = Path(name)
        try:
            with os.fdopen(descriptor, "wb") as target, self.open() as stream:
                shutil.copyfileobj(stream, target, _CHUNK)
            yield path
        finally:
            path.unlink(missing_ok=True)


class Source:
    """A folder or a zip, listed once when opened. `skipped` says what was left out and why."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.skipped: list[Skipped] = []
        self._files: list[SourceFile] = []

    def files(self) -> list[SourceFile]:
        """Regular files sorted by relative path; folders, links and macOS junk are not among them."""
        return list(self._files)

    def _finish(self, found: list[SourceFile]) -> None:
        self._files = sorted(found, key=lambda f: f.relative)
        self.skipped.sort(key=lambda s: s.relative)


class _FolderSource(Source):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        found: list[SourceFile] = []
        self._walk(path, found)
        self._finish(found)

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.path).as_posix()

    def _walk(self, folder: Path, found: list[SourceFile]) -> None:
        """Recursive scandir that never follows a link: a link could lead out of the folder, or
        around in a loop."""
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            self.skipped.append(Skipped(self._relative(folder), f"cannot read folder: {exc.strerror}"))
            return
        for entry in entries:
            path = Path(entry.path)
            relative = self._relative(path)
            if entry.is_symlink():
                self.skipped.append(
                    Skipped(relative, f"symbolic link (to {os.readlink(path)}), not followed")
                )
            elif entry.is_dir(follow_symlinks=False):
                if entry.name == "__MACOSX":
                    self.skipped.append(Skipped(relative, "macOS metadata folder"))
                else:
                    self._walk(path, found)
            elif not entry.is_file(follow_symlinks=False):
                self.skipped.append(Skipped(relative, "not a regular file (a device, pipe or socket)"))
            elif is_macos_junk(relative):
                self.skipped.append(Skipped(relative, "macOS metadata (resource fork)"))
            else:
                found.append(_FolderFile(relative, entry.stat(follow_symlinks=False).st_size, path))


class _ZipSource(Source):
    def __init__(self, path: Path, archive: zipfile.ZipFile, workdir: Path | None) -> None:
        super().__init__(path)
        found: list[SourceFile] = []
        for info in archive.infolist():
            relative = "/".join(part for part in info.filename.split("/") if part not in ("", "."))
            if info.is_dir() or not relative:
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                self.skipped.append(Skipped(relative, "symbolic link stored in the zip, not followed"))
            elif info.flag_bits & 0x1:
                self.skipped.append(Skipped(relative, "encrypted (password-protected) zip entry"))
            elif is_macos_junk(relative):
                self.skipped.append(Skipped(relative, "macOS metadata (resource fork)"))
            else:
                found.append(_ZipMember(archive, info, relative, workdir))
        self._finish(found)


def unsafe_member_reason(name: str) -> str | None:
    """Why a zip member name could write outside an extraction folder, or None if it cannot."""
    if name.startswith("/"):
        return "an absolute path"
    if "\\" in name:
        return "a backslash (a Windows path separator)"
    parts = name.split("/")
    if ".." in parts:
        return "a '..' component"
    if any(_DRIVE_LETTER.match(part) for part in parts):
        return "a drive letter"
    return None


def _check_members(path: Path, archive: zipfile.ZipFile) -> None:
    for info in archive.infolist():
        reason = unsafe_member_reason(info.filename)
        if reason is not None:
            raise SourceError(
                f"Refusing {path}: member {info.filename!r} contains {reason}; "
                "nothing was extracted (the archive is not safe to unpack)"
            )


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        with path.open("rb") as probe:
            magic = probe.read(len(_ZIP_MAGIC))
    except OSError as exc:
        raise SourceError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as exc:
        if magic == _ZIP_MAGIC or path.suffix.lower() == ".zip":
            raise SourceError(f"{path} is not a valid zip archive (corrupt or truncated): {exc}") from exc
        raise SourceError(f"{path} is neither a folder nor a zip archive") from exc


@contextmanager
def _open(path: Path, workdir: Path | None) -> Iterator[Source]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise SourceError(f"{path} does not exist") from exc
    except OSError as exc:
        raise SourceError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(mode):
        try:
            os.scandir(path).close()
        except OSError as exc:
            raise SourceError(f"Cannot read the folder {path}: {exc.strerror or exc}") from exc
        yield _FolderSource(path)
        return
    if not stat.S_ISREG(mode):
        raise SourceError(f"{path} is neither a folder nor a zip archive")
    with _open_zip(path) as archive:
        _check_members(path, archive)
        yield _ZipSource(path, archive, workdir)


def open_source(path: Path, *, workdir: Path | None = None) -> AbstractContextManager[Source]:
    """Open a folder or a .zip for reading; raises SourceError with the path in the message.

    `workdir` is where zip members are materialized (default: the system temp folder); the importer
    can point it at the library's disk when /tmp is a small tmpfs.
    """
    return _open(path, workdir)
