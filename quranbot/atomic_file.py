"""Write a file so that a crash, a power cut or a full disk leaves either the old file or the new one.

The new content goes to a temporary file in the same directory, is flushed and fsynced, then renamed
over the target (atomic on POSIX), and the directory is fsynced so the rename itself is durable.
Leftover temporaries from a process killed mid-write are named `.NAME.*.tmp` and can be swept.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def temp_prefix(path: Path) -> str:
    return f".{path.name}."


TEMP_SUFFIX = ".tmp"


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` atomically and durably; on any error the old file is untouched."""
    fd, temp_name = tempfile.mkstemp(prefix=temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    fsync_directory(path.parent)


def sweep_temporaries(directory: Path) -> list[Path]:
    """Remove temporaries left by writers that were killed mid-write; returns what was removed.

    Only call this while holding the directory's write lock, or a live writer's temp file may vanish.
    """
    removed = []
    for candidate in directory.glob(f".*{TEMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
            removed.append(candidate)
    return removed
