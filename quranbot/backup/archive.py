"""Backup archives: one zip per backup, checked against its own manifest before anyone trusts it.

A backup is `quranbot-backup-YYYYmmddTHHMMSSZ.zip` in the backups directory: the state files that
existed (see `quranbot.store.layout.STATE_FILES`), the audit trail's files (`audit.jsonl`,
`audit.N.jsonl`: JSON lines, checked by checksum only, since a torn last line is normal for them) and
a `manifest.json` naming each with its size and SHA-256. It is written atomically and read back
before `create_backup` returns, so a backup that is listed was good when it was made. Every reader
re-checks: an archive can rot on disk or be handed in by someone else, so member names are validated
(no absolute paths, no `..`, nothing but state and audit files) before a byte is used, and nothing is
ever extracted by the name inside the archive.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import struct
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from quranbot import __version__
from quranbot.atomic_file import atomic_write_bytes, fsync_directory
from quranbot.audit.files import audit_files, is_audit_file
from quranbot.store.layout import STATE_FILES
from quranbot.store.lock import LOCK_NAME, StateLock, StateLocked, lock_holder
from quranbot.store.storage import CorruptStateFile, parse_state_bytes

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = 1
#: `quranbot-backup-20260102T030405Z.zip`, or `...Z-2.zip` when that second already had one.
BACKUP_NAME = re.compile(r"quranbot-backup-(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<n>\d+))?\.zip")
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
#: State files are small; a manifest claiming more than this is damaged or hostile, not read.
MAX_MEMBER_SIZE = 1 << 30
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: What zipfile raises, beyond BadZipFile, on archives damaged in the wrong place.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, struct.error, NotImplementedError)
#: Two backups in one second (the scheduler and `backup now`) must not pick the same name.
_naming = threading.Lock()


class BackupInvalid(ValueError):
    """An archive that must not be trusted; `reason` says precisely why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path.name} is not a valid backup: {reason}")
        self.path = path
        self.reason = reason


class BackupFile(NamedTuple):
    """One state file inside a backup, as its manifest describes it."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class BackupInfo:
    """A backup archive: when it was made and what it holds. `error` is set only by `list_backups`."""

    path: Path
    created: datetime
    files: list[BackupFile]
    #: The archive's size on disk, in bytes.
    size: int
    error: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class RestoreResult:
    """What `restore_backup` did, so the admin can be told and can undo it."""

    source: BackupInfo
    #: State files written from the archive.
    restored: list[str]
    #: State files the archive does not hold, renamed `NAME.pre-restore-<stamp>` rather than deleted.
    moved_aside: list[Path]
    #: The backup of the state as it was just before the restore; None if there was no state at all.
    safety_backup: Path | None


# -- creating ---------------------------------------------------------------------------------------


def create_backup(state_dir: Path, backups_dir: Path, now: datetime | None = None) -> BackupInfo:
    """Archive the state files that exist, write the archive atomically, and prove it reads back.

    A state file that does not parse is left out (with a warning) rather than failing the whole
    backup: the other files are still worth keeping, and an archive holding a broken file would be
    useless for recovery anyway. Raises BackupInvalid (and leaves no file) if the written archive
    does not verify, OSError if the state cannot be read or the archive cannot be written.
    """
    created = _as_utc(now or datetime.now(UTC))
    contents = _snapshot(state_dir)
    manifest = {
        "format": FORMAT,
        "quranbot_version": __version__,
        "created": created.isoformat(),
        "files": [
            {"name": name, "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
            for name, raw in contents.items()
        ],
    }
    data = _zip_bytes(contents, json.dumps(manifest, indent=2).encode() + b"\n", created)
    with _naming:
        _make_backups_dir(backups_dir)
        path = _unused_name(backups_dir, created)
        atomic_write_bytes(path, data, mode=0o600)
    try:
        info = verify_backup(path)
    except BackupInvalid:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise
    log.debug("Wrote backup %s (%d files, %d bytes)", path.name, len(info.files), info.size)
    return info


def _snapshot(state_dir: Path) -> dict[str, bytes]:
    """The bytes of each state file that exists and parses. Files are replaced atomically by the bot,
    so each read sees one whole version, old or new."""
    contents: dict[str, bytes] = {}
    for name in STATE_FILES:
        try:
            raw = (state_dir / name).read_bytes()
        except FileNotFoundError:
            continue
        try:
            parse_state_bytes(state_dir / name, raw)
        except CorruptStateFile as exc:
            log.warning("Left %s out of the backup: %s", name, exc.reason)
            continue
        contents[name] = raw
    for path in audit_files(state_dir):  # appended to while we read: at worst a torn last line
        try:
            contents[path.name] = path.read_bytes()
        except FileNotFoundError:
            continue  # rotated away between listing and reading
    return contents


def _zip_bytes(contents: dict[str, bytes], manifest: bytes, created: datetime) -> bytes:
    """The archive, built in memory (state is small), with fixed member times and 0600 permissions."""
    moment = max(created, datetime(1980, 1, 1, tzinfo=UTC))  # zip cannot store earlier dates
    stamp = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, raw in [(MANIFEST, manifest), *contents.items()]:
            member = zipfile.ZipInfo(name, date_time=stamp)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o100600 << 16
            archive.writestr(member, raw)
    return buffer.getvalue()


def _make_backups_dir(backups_dir: Path) -> None:
    """Create the directory 0700: backups hold everything the state does."""
    if not backups_dir.is_dir():
        backups_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(backups_dir, 0o700)


def _unused_name(backups_dir: Path, created: datetime) -> Path:
    base = f"quranbot-backup-{created.strftime(STAMP_FORMAT)}"
    path = backups_dir / f"{base}.zip"
    suffix = 1
    while path.exists():
        path = backups_dir / f"{base}-{suffix}.zip"
        suffix += 1
    return path


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone; backups are stamped in UTC")
    return moment.astimezone(UTC)


# -- reading and checking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Manifest:
    created: datetime
    files: list[BackupFile]


@contextlib.contextmanager
def _open_zip(path: Path) -> Iterator[zipfile.ZipFile]:
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BackupInvalid(path, "the file does not exist") from None
    except IsADirectoryError:
        raise BackupInvalid(path, "it is a directory, not a file") from None
    except _ZIP_ERRORS as exc:
        raise BackupInvalid(path, f"not a zip archive, or truncated ({exc})") from None
    except OSError as exc:
        raise BackupInvalid(path, f"cannot be read ({exc.strerror or exc})") from None
    with archive:
        yield archive


def _name_problem(name: str) -> str | None:
    """Why `name` may not be used as a state file name, or None. Checked before anything is read."""
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return f"member {name!r} has an absolute path"
    if ".." in re.split(r"[/\\]", name):
        return f"member {name!r} contains '..' (path traversal)"
    if "\\" in name:
        return f"member {name!r} contains a backslash"
    if name not in STATE_FILES and not is_audit_file(name):
        return (
            f"member {name!r} is not a state file (expected one of {', '.join(STATE_FILES)}, "
            "or audit.jsonl, audit.N.jsonl)"
        )
    return None


def _inspect(path: Path, archive: zipfile.ZipFile) -> _Manifest:
    """Check the archive's structure and manifest without reading any state file's bytes."""
    members = archive.infolist()
    names = [member.filename for member in members]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise BackupInvalid(path, f"member {duplicates[0]!r} appears more than once")
    for name in names:
        if name != MANIFEST and (problem := _name_problem(name)):
            raise BackupInvalid(path, problem)
    if MANIFEST not in names:
        raise BackupInvalid(path, f"{MANIFEST} is missing")
    manifest_info = archive.getinfo(MANIFEST)
    if manifest_info.file_size > MAX_MEMBER_SIZE:
        raise BackupInvalid(path, f"{MANIFEST} is implausibly large ({manifest_info.file_size} bytes)")
    try:
        raw = archive.read(MANIFEST)
    except (*_ZIP_ERRORS, RuntimeError, OSError) as exc:
        raise BackupInvalid(path, f"{MANIFEST} is damaged ({exc})") from None
    manifest = _parse_manifest(path, raw)
    listed = {entry.name: entry for entry in manifest.files}
    for name, entry in listed.items():
        if name not in names:
            raise BackupInvalid(path, f"{name} is listed in {MANIFEST} but missing from the archive")
        if archive.getinfo(name).file_size != entry.size:
            raise BackupInvalid(
                path,
                f"{name} is {archive.getinfo(name).file_size} bytes but {MANIFEST} says {entry.size}",
            )
    for name in names:
        if name != MANIFEST and name not in listed:
            raise BackupInvalid(path, f"member {name!r} is not listed in {MANIFEST}")
    return manifest


def _parse_manifest(path: Path, raw: bytes) -> _Manifest:
    def bad(why: str) -> BackupInvalid:
        return BackupInvalid(path, f"{MANIFEST} is malformed: {why}")

    try:
        document: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise bad("not a JSON object")
    if document.get("format") != FORMAT:
        raise bad(f"format is {document.get('format')!r}; this QuranBot reads format {FORMAT}")
    stamp = document.get("created")
    try:
        created = _as_utc(datetime.fromisoformat(stamp)) if isinstance(stamp, str) else None
    except ValueError:
        created = None
    if created is None:
        raise bad(f"'created' is {stamp!r}, not an ISO-8601 time with a time zone")
    entries = document.get("files")
    if not isinstance(entries, list):
        raise bad("'files' is not a list")
    files: list[BackupFile] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise bad(f"a 'files' entry is not an object: {entry!r}")
        name, size, digest = entry.get("name"), entry.get("size"), entry.get("sha256")
        if not isinstance(name, str):
            raise bad(f"a 'files' entry has no name: {entry!r}")
        if problem := _name_problem(name):
            raise BackupInvalid(path, f"{MANIFEST} lists a bad name: {problem}")
        if any(known.name == name for known in files):
            raise bad(f"{name} is listed twice")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_MEMBER_SIZE:
            raise bad(f"{name} has size {size!r}")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise bad(f"{name} has sha256 {digest!r}, not 64 lowercase hex digits")
        files.append(BackupFile(name, size, digest))
    return _Manifest(created, files)


def _read_checked(path: Path, archive: zipfile.ZipFile, entry: BackupFile) -> bytes:
    """One state file's bytes, proven equal to what the manifest recorded and parseable."""
    try:
        raw = archive.read(entry.name)
    except (*_ZIP_ERRORS, RuntimeError, OSError) as exc:
        raise BackupInvalid(path, f"{entry.name} is damaged ({exc})") from None
    if len(raw) != entry.size:
        raise BackupInvalid(path, f"{entry.name} is {len(raw)} bytes but {MANIFEST} says {entry.size}")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != entry.sha256:
        raise BackupInvalid(
            path, f"{entry.name} has SHA-256 {digest} but {MANIFEST} says {entry.sha256} (checksum mismatch)"
        )
    if is_audit_file(entry.name):
        return raw  # JSON lines; the reader skips a torn line
    try:
        parse_state_bytes(Path(entry.name), raw)
    except CorruptStateFile as exc:
        raise BackupInvalid(path, f"{entry.name} is not a valid state file: {exc.reason}") from None
    return raw


def _load(path: Path) -> tuple[BackupInfo, dict[str, bytes]]:
    """Verify the whole archive and return its state files' bytes."""
    with _open_zip(path) as archive:
        manifest = _inspect(path, archive)
        contents = {entry.name: _read_checked(path, archive, entry) for entry in manifest.files}
    return _info(path, manifest), contents


def _info(path: Path, manifest: _Manifest) -> BackupInfo:
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    return BackupInfo(path=path, created=manifest.created, files=manifest.files, size=size)


def verify_backup(path: Path) -> BackupInfo:
    """Check everything about an archive: structure, names, manifest, every checksum, every parse.

    Raises BackupInvalid with the first problem found.
    """
    info, _ = _load(path)
    return info


def read_member(path: Path, name: str) -> bytes:
    """One state file from a backup, verified (the archive's structure, then this file's checksum and
    parse). Raises BackupInvalid if it cannot be trusted, KeyError if the backup does not hold `name`.
    """
    with _open_zip(path) as archive:
        manifest = _inspect(path, archive)
        for entry in manifest.files:
            if entry.name == name:
                return _read_checked(path, archive, entry)
    raise KeyError(f"{path.name} holds no {name}")


def _stamp_of(path: Path) -> tuple[datetime, int]:
    """The time and sequence number in a backup's file name; sorts same-second backups."""
    match = BACKUP_NAME.fullmatch(path.name)
    assert match is not None
    created = datetime.strptime(match["stamp"], STAMP_FORMAT).replace(tzinfo=UTC)
    return created, int(match["n"] or 0)


def backup_paths(backups_dir: Path) -> list[Path]:
    """The files in `backups_dir` named like backups (nothing else there is ever touched)."""
    try:
        entries = list(backups_dir.iterdir())
    except FileNotFoundError:
        return []
    return [entry for entry in entries if BACKUP_NAME.fullmatch(entry.name) and entry.is_file()]


def list_backups(backups_dir: Path, verify: bool = False) -> list[BackupInfo]:
    """The backups in `backups_dir`, newest first.

    By default only each manifest is read (cheap: retention runs this every hour); `verify=True`
    checks every checksum too. An archive that fails is listed with `error` set, so one bad file
    never hides the others.
    """
    found: list[tuple[tuple[datetime, int], BackupInfo]] = []
    for path in backup_paths(backups_dir):
        stamp = _stamp_of(path)
        try:
            if verify:
                info = verify_backup(path)
            else:
                with _open_zip(path) as archive:
                    info = _info(path, _inspect(path, archive))
        except BackupInvalid as exc:
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue  # pruned while we looked
            info = BackupInfo(path=path, created=stamp[0], files=[], size=size, error=exc.reason)
        found.append(((info.created, stamp[1]), info))
    found.sort(key=lambda item: item[0], reverse=True)
    return [info for _, info in found]


def newest_good_copy(backups_dir: Path, name: str) -> tuple[Path, bytes] | None:
    """The newest backup whose copy of `name` verifies and parses, with those bytes; None if none does.

    This is how the store repairs a state file that is broken at start: a newer backup with a damaged
    copy is skipped (with a warning) in favour of an older good one.
    """
    if name not in STATE_FILES:
        raise ValueError(f"{name!r} is not a state file")
    for info in list_backups(backups_dir):
        if info.error is not None:
            log.warning("Skipped backup %s while looking for %s: %s", info.name, name, info.error)
            continue
        if all(entry.name != name for entry in info.files):
            continue
        try:
            return info.path, read_member(info.path, name)
        except BackupInvalid as exc:
            log.warning("Skipped backup %s while looking for %s: %s", info.name, name, exc.reason)
        except KeyError:
            continue  # replaced between listing and reading
    return None


# -- restoring --------------------------------------------------------------------------------------


def restore_backup(path: Path, state_dir: Path, backups_dir: Path) -> RestoreResult:
    """Make the state directory hold exactly what the backup holds.

    The archive is verified before anything is touched. The bot must be stopped: it owns the state
    files and would overwrite the restored ones (StateLocked otherwise); the lock is held throughout
    so it cannot start half-way. The current state is backed up first, and state files the archive
    lacks are renamed aside, not deleted, so a restore can always be undone.
    """
    info, contents = _load(path)
    holder = lock_holder(state_dir)
    if holder is not None:
        raise StateLocked(state_dir / LOCK_NAME, holder if holder > 0 else None)
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with StateLock(state_dir):
        trail = [p.name for p in audit_files(state_dir)]
        present = [name for name in STATE_FILES if (state_dir / name).exists()] + trail
        safety: BackupInfo | None = None
        if present:
            safety = create_backup(state_dir, backups_dir)
            log.info("Backed up the current state to %s before restoring", safety.name)
        in_safety = {entry.name for entry in safety.files} if safety else set()
        stamp = datetime.now(UTC).strftime(STAMP_FORMAT)
        moved: list[Path] = []
        archived_trail = sorted(name for name in contents if is_audit_file(name))
        for name in [*STATE_FILES, *dict.fromkeys(trail + archived_trail)]:
            target = state_dir / name
            # A file the safety backup could not hold (it did not parse) is kept aside, not overwritten.
            if name in present and (name not in contents or name not in in_safety):
                aside = _unused_aside(target, stamp)
                os.replace(target, aside)
                moved.append(aside)
            if name in contents:
                atomic_write_bytes(target, contents[name])
        if moved:
            fsync_directory(state_dir)
    log.info("Restored %s into %s", info.name, state_dir)
    return RestoreResult(
        source=info,
        restored=list(contents),
        moved_aside=moved,
        safety_backup=safety.path if safety else None,
    )


def _unused_aside(target: Path, stamp: str) -> Path:
    aside = target.with_name(f"{target.name}.pre-restore-{stamp}")
    suffix = 1
    while aside.exists():
        aside = target.with_name(f"{target.name}.pre-restore-{stamp}-{suffix}")
        suffix += 1
    return aside
