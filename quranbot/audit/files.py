"""Where the audit trail lives: `audit.jsonl` in the state directory, and the rotated `audit.N.jsonl`.

`audit.1.jsonl` is the most recent rotated file, `audit.N.jsonl` the oldest kept. Backups archive
every file named like this, and only those (see quranbot/backup/archive.py).
"""

from __future__ import annotations

import re
from pathlib import Path

CURRENT = "audit.jsonl"
#: `audit.jsonl`, `audit.1.jsonl`, `audit.2.jsonl`, ... (a number of at most three digits).
AUDIT_NAME = re.compile(r"audit(?:\.(?P<n>[1-9][0-9]{0,2}))?\.jsonl")


def rotated_name(index: int) -> str:
    return CURRENT if index == 0 else f"audit.{index}.jsonl"


def is_audit_file(name: str) -> bool:
    return AUDIT_NAME.fullmatch(name) is not None


def audit_files(state_dir: Path) -> list[Path]:
    """The audit files that exist, oldest first (so their lines read in the order they were written)."""
    try:
        names = [entry.name for entry in state_dir.iterdir() if entry.is_file()]
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        match = AUDIT_NAME.fullmatch(name)
        if match is not None:
            found.append((int(match["n"] or 0), name))
    return [state_dir / name for _, name in sorted(found, reverse=True)]
