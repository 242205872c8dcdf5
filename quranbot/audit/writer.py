"""The audit file's one writer: one line per record, appended at once, rotated by size, secrets masked.

Why a plain append on the event loop, not a buffer or a thread (bench/audit.py, 2-core VM): a whole
`record()` (mask, encode, one `write(2)` of a ~300-byte line to an O_APPEND file) holds the loop about
20 µs (p99 ~50 µs; a rotation ~0.3–0.6 ms, once a MiB); handing it to `asyncio.to_thread` holds the
loop just as long (the future and the wake-ups) and adds a thread hop that can reorder records, and a
buffer flushed later would lose its lines to a SIGKILL. Members act a few times a minute, so this is
noise. Once `record()` returns, the line is in the kernel's page cache: a crash of the bot loses
nothing; only a power cut can lose the last seconds, and then the last line may be cut short, which
the reader skips and the next start closes with a newline.

The bound: `audit.jsonl` grows to `max_bytes`, then becomes `audit.1.jsonl` (and 1 becomes 2, ...);
`keep` rotated files are kept, so the trail never holds more than about (keep + 1) × max_bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

from quranbot.audit.files import AUDIT_NAME, CURRENT, rotated_name
from quranbot.audit.filters import AuditFilter, select
from quranbot.audit.reader import tail_records
from quranbot.audit.record import MASK, AuditRecord
from quranbot.config.schema import DEFAULT_AUDIT_KEEP, DEFAULT_AUDIT_MAX_KIB
from quranbot.secret import Secret

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = DEFAULT_AUDIT_MAX_KIB * 1024
DEFAULT_KEEP = DEFAULT_AUDIT_KEEP
#: Records kept in memory for the control socket's `audit` method and topic snapshot.
RECENT = 1000
FILE_MODE = 0o600
#: A Discord webhook URL anywhere in a record is masked, whether or not it is a known secret.
WEBHOOK_URL = re.compile(r"https?://(?:[\w-]+\.)?discord(?:app)?\.com/api/(?:v\d+/)?webhooks/\S+", re.I)


class AuditLog:
    """Open it once (`open()`), `record()` from the event loop or any thread, `close()` at the end."""

    def __init__(
        self,
        state_dir: Path,
        max_bytes: int = DEFAULT_MAX_BYTES,
        keep: int = DEFAULT_KEEP,
        secrets: Iterable[Secret] = (),
        recent: int = RECENT,
    ) -> None:
        if max_bytes < 1024 or keep < 1:
            raise ValueError("an audit file needs at least 1 KiB and one rotated file")
        self.state_dir = state_dir
        self.max_bytes = max_bytes
        self.keep = keep
        self._secrets = [s.reveal() for s in secrets if s]
        self._recent: deque[AuditRecord] = deque(maxlen=recent)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0
        #: The file ends in a cut-short line: the next record starts on a line of its own.
        self._torn = False
        #: Records that could not be written (a full disk); they are still in memory and published.
        self.unwritten = 0
        self._failing = False
        self._closed = False
        #: Called with each record after it is written (the control socket publishes it).
        self.on_record: Callable[[AuditRecord], None] | None = None
        #: Also called with each record, in the order added (the metrics count commands by outcome).
        self.listeners: list[Callable[[AuditRecord], None]] = []

    @property
    def path(self) -> Path:
        return self.state_dir / CURRENT

    def add_secret(self, secret: Secret) -> None:
        """A secret learned after start (a webhook URL): never written from now on."""
        if secret and secret.reveal() not in self._secrets:
            self._secrets.append(secret.reveal())

    # -- lifecycle --------------------------------------------------------------------------------------
    def open(self) -> AuditLog:
        """Load the newest records into memory and open the file for appending."""
        self._recent.extend(tail_records(self.state_dir, self._recent.maxlen or 0))
        with self._lock:
            try:
                self._open_file()
            except OSError as exc:  # the bot recites on; each record tries again (and is counted)
                log.error("Cannot open the audit trail %s: %s", self.path, exc.strerror or exc)
                self._failing = True
        return self

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> AuditLog:
        return self.open()

    def __exit__(self, *_: object) -> None:
        self.close()

    def _open_file(self) -> None:
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        self._size = os.fstat(fd).st_size
        self._torn = self._size > 0 and not _ends_with_newline(self.path)
        self._fd = fd

    # -- writing ----------------------------------------------------------------------------------------
    def record(self, record: AuditRecord) -> AuditRecord:
        """Write one record (masked) and hand it on; never raises for a disk that says no."""
        record = self._masked(record)
        line = record.to_line().encode()
        with self._lock:
            self._recent.append(record)
            self._write(line)
        if self.on_record is not None:
            self.on_record(record)
        for listener in self.listeners:
            listener(record)
        return record

    def _write(self, line: bytes) -> None:
        try:
            if self._fd is None:
                self._open_file()
            if self._size > 0 and self._size + len(line) > self.max_bytes:
                self._rotate()
            if self._torn:
                line = b"\n" + line
            assert self._fd is not None
            written = os.write(self._fd, line)
            self._size += written
            self._torn = written < len(line)
            if self._closed:  # a straggler after close(): written, and the file closed again
                os.close(self._fd)
                self._fd = None
        except OSError as exc:
            self.unwritten += 1
            if not self._failing:
                log.error("Could not write the audit trail to %s: %s", self.path, exc.strerror or exc)
            self._failing = True
            self._torn = True  # whatever reached the file may end mid-line
            return
        if self._failing:
            log.info("Writing the audit trail again (%d records could not be written)", self.unwritten)
            self._failing = False

    def _rotate(self) -> None:
        """audit.jsonl → audit.1.jsonl → ... → audit.<keep>.jsonl; anything older is removed."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        for entry in self.state_dir.iterdir():
            match = AUDIT_NAME.fullmatch(entry.name)
            if match is not None and int(match["n"] or 0) >= self.keep:
                entry.unlink(missing_ok=True)
        for index in range(self.keep - 1, -1, -1):
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.state_dir / rotated_name(index), self.state_dir / rotated_name(index + 1))
        self._open_file()

    def _masked(self, record: AuditRecord) -> AuditRecord:
        def mask(text: str) -> str:
            for secret in self._secrets:
                text = text.replace(secret, MASK)
            return WEBHOOK_URL.sub(MASK, text)

        return dataclasses.replace(
            record,
            actor=mask(record.actor),
            action=mask(record.action),
            reason=mask(record.reason),
            args={name: mask(value) for name, value in record.args.items()},
        )

    # -- reading ----------------------------------------------------------------------------------------
    def recent(self, limit: int = 100, wanted: AuditFilter | None = None) -> list[AuditRecord]:
        """The newest `limit` records in memory that match, oldest first."""
        with self._lock:
            records = list(self._recent)
        return select(records, wanted or AuditFilter(), limit)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"
