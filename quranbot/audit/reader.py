"""Reading the audit files back, oldest line first, for `quranbot audit` and for the bot's start.

A line that is not a whole record is skipped without a word: the last line of a file the machine lost
power while writing may be cut short, and nothing before or after it is any less readable for that.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from quranbot.audit.files import audit_files
from quranbot.audit.record import AuditRecord


def parse_line(line: bytes) -> AuditRecord | None:
    """The record on one line, or None for a torn or foreign line."""
    try:
        data = json.loads(line.decode("utf-8"))
        return AuditRecord.from_json(data) if isinstance(data, dict) else None
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None


def records_in(path: Path) -> Iterator[AuditRecord]:
    """The records of one file, in order; a file rotated away meanwhile simply has none."""
    try:
        with path.open("rb") as lines:
            for line in lines:
                record = parse_line(line)
                if record is not None:
                    yield record
    except FileNotFoundError:
        return


def read_records(state_dir: Path) -> Iterator[AuditRecord]:
    """Every record kept, oldest first."""
    for path in audit_files(state_dir):
        yield from records_in(path)


def tail_records(state_dir: Path, limit: int) -> list[AuditRecord]:
    """The newest `limit` records, oldest first, reading only as many files (newest first) as needed."""
    found: list[list[AuditRecord]] = []
    count = 0
    for path in reversed(audit_files(state_dir)):
        newest = deque(records_in(path), maxlen=limit)
        found.append(list(newest))
        count += len(newest)
        if count >= limit:
            break
    ordered = [record for chunk in reversed(found) for record in chunk]
    return ordered[-limit:] if limit > 0 else []
