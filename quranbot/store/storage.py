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

    def serialise(self, data: Data) -> bytes:
        """The bytes `write` puts on disk (a subclass may reuse earlier work)."""
        return self.encode(data)

    def write(self, data: Data) -> None:
        try:
            atomic_write_bytes(self.path, self.serialise(data))
        except OSError:
            self._cache = None  # the file on disk still holds the previous version; read it again
            raise
        self._cache = data
        self.writes += 1

    def close(self) -> None:
        self._cache = None


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class ReusingJSONStorage(AtomicJSONStorage):
    """For stats.json: each document is encoded once and its bytes reused while the document is the same
    object, so a flush re-encodes only the members whose records were replaced.

    Why: `json.dumps` is one C call that holds the GIL for all of it, and 10,000 members' records (about
    5 KiB each) take about a second, during which discord.py's audio thread cannot send a frame. With
    the bytes reused, a flush holds the GIL for the changed records and a join (bench/listening.py).
    It relies on how the store writes this file: `StateTable.upsert_many` always stores new dicts, and
    nothing else changes a stored document in place. A record mutated through the store's live
    `ListeningStats` (whose nested lists and dicts the document shares until its flush) may be written
    as it was at its last flush by a write of something else in between (a member forgotten); its own
    flush, at most a statistics interval later, writes it as it is. The price is memory: the encoded
    bytes are kept beside the parsed documents (about the file's size)."""

    def __init__(self, path: str | Path, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        #: (table, document id) -> (the document object encoded, `"id":{...}` as bytes)
        self._pieces: dict[tuple[str, str], tuple[object, bytes]] = {}

    def prime(self) -> None:
        """Encode what is on disk now, at open: before the bot recites, so that its first flush does not
        hold the GIL for every record while audio plays."""
        data = self.read()
        if data:
            self.serialise(data)

    def serialise(self, data: Data) -> bytes:
        pieces: dict[tuple[str, str], tuple[object, bytes]] = {}
        chunks: list[bytes] = [b"{"]  # one join at the end: the file is copied once, not per table
        for number, (name, table) in enumerate(data.items()):
            chunks.append(b"," if number else b"")
            chunks.append(_dumps(name).encode() + b":{")
            for index, (doc_id, document) in enumerate(table.items()):
                key = (name, doc_id)
                piece = self._pieces.get(key)
                if piece is None or piece[0] is not document:
                    piece = (document, f"{_dumps(str(doc_id))}:{_dumps(document)}".encode())
                pieces[key] = piece
                if index:
                    chunks.append(b",")
                chunks.append(piece[1])
            chunks.append(b"}")
        chunks.append(b"}")
        self._pieces = pieces
        return b"".join(chunks)

    def close(self) -> None:
        super().close()
        self._pieces = {}
