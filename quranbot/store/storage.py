"""A TinyDB storage that never leaves a half-written file, and keeps the parsed data in memory.

TinyDB's own JSONStorage rewrites the file in place, so a crash mid-write leaves broken JSON. This one
writes through `atomic_write_bytes`. Since only the bot process writes (see `StateLock`), the last data
read or written is cached, so a query does not re-parse the file.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from quranbot.atomic_file import atomic_write_bytes

log = logging.getLogger(__name__)

Data = dict[str, dict[str, Any]]


class CorruptStateFile(ValueError):
    """A state file that exists but does not hold the JSON object TinyDB expects."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path} is not a valid state file: {reason}")
        self.path = path
        self.reason = reason


def parse_state_bytes(path: Path, raw: bytes) -> Data:
    """Parse a state file's bytes, or raise CorruptStateFile saying what is wrong with them."""
    if not raw.strip(b"\x00 \t\r\n"):
        raise CorruptStateFile(path, "empty" if not raw else "blank or zero-filled")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptStateFile(path, f"not JSON ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(table, dict) for table in data.values()):
        raise CorruptStateFile(path, "not a TinyDB document (expected an object of tables)")
    return data


class AtomicJSONStorage(Storage):
    """TinyDB storage: atomic, durable writes; files 0600; parsed data cached between calls."""

    def __init__(self, path: str | Path, **_: Any) -> None:
        self.path = Path(path)
        self._cache: Data | None = None
        self.writes = 0

    def read(self) -> Data | None:
        if self._cache is None:
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                return None
            self._cache = parse_state_bytes(self.path, raw)
        # No copy (a deep copy of 10,000 users' statistics per query is too slow). TinyDB mutates what
        # it read only to write it back; if that write fails, write() drops the cache, so memory never
        # runs ahead of the file on disk.
        return self._cache

    @staticmethod
    def encode(data: Data) -> bytes:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    def write(self, data: Data) -> None:
        try:
            atomic_write_bytes(self.path, self.encode(data))
        except OSError:
            self._cache = None  # the file on disk still holds the previous version; read it again
            raise
        self._cache = data
        self.writes += 1

    def close(self) -> None:
        self._cache = None
