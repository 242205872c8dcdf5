"""Schema versions of the state files and the ordered migrations between them.

Each file records its version in a `_meta` table. A newer bot upgrades an older file step by step
(and writes it back); an older bot refuses a file from a newer one instead of misreading it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from quranbot.store.layout import STATE_FILES

Data = dict[str, dict[str, Any]]
META_TABLE = "_meta"
META_DOC = "1"


class SchemaTooNew(RuntimeError):
    """The file was written by a newer QuranBot than this one."""


@dataclass(frozen=True)
class Migration:
    """Turns a file's data at version `to_version - 1` into `to_version`."""

    to_version: int
    description: str
    apply: Callable[[Data], Data]


@dataclass(frozen=True)
class Schema:
    file: str
    migrations: tuple[Migration, ...] = ()

    def __post_init__(self) -> None:
        expected = list(range(2, 2 + len(self.migrations)))
        if [m.to_version for m in self.migrations] != expected:
            raise ValueError(f"{self.file}: migrations must go to versions {expected} in order")

    @property
    def version(self) -> int:
        return 1 + len(self.migrations)

    def upgrade(self, data: Data | None) -> tuple[Data, bool]:
        """Bring `data` (None: a new file) to this version; returns the data and whether it changed."""
        if data is None:
            return stamp({}, self.version), True
        found = stored_version(data)
        if found > self.version:
            raise SchemaTooNew(
                f"{self.file} was written by a newer QuranBot (schema {found}; this version reads up to "
                f"{self.version}): upgrade QuranBot, or restore a backup made by this version"
            )
        for migration in self.migrations[found - 1 :]:
            data = stamp(migration.apply(data), migration.to_version)
        changed = found != self.version or META_TABLE not in data
        return stamp(data, self.version), changed


def stored_version(data: Data) -> int:
    """The version a file says it has; files from before versioning count as version 1."""
    meta = data.get(META_TABLE, {}).get(META_DOC, {})
    return int(meta.get("schema_version", 1))


def stamp(data: Data, version: int) -> Data:
    data[META_TABLE] = {META_DOC: {"schema_version": version}}
    return data


#: The schema of every state file. Add a Migration here when a stored format changes.
SCHEMAS: dict[str, Schema] = {name: Schema(name) for name in STATE_FILES}
