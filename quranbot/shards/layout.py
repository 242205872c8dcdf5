"""How a machine's state is laid out: unsharded (the state files at the state root, as always) or one
directory per shard (`shard-N/`), each marked with the shard count it was laid out for.

A guild's records live in the directory of the shard that owns it under that count, so a bot that
started with another count, or unsharded over sharded state (or the reverse), would read the wrong
guilds: `check_layout` refuses that at start and names the migration that fixes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from quranbot.atomic_file import atomic_write_bytes
from quranbot.paths import Paths, shard_of_dir
from quranbot.shards.ownership import Shard
from quranbot.store.layout import STATE_FILES

#: In each shard directory: `{"shard": N, "shard_count": C}`, written by the shard (its one writer).
MARKER = "shard.json"


class LayoutMismatch(RuntimeError):
    """The state on disk is laid out for another shard count; the message names the migration."""


@dataclass(frozen=True)
class ShardDir:
    shard: int
    path: Path
    #: The count its marker records; None when it has none (never started, or damaged).
    count: int | None


def holds_state(directory: Path) -> bool:
    """True when any state file is in `directory`: guilds' records live there."""
    return any((directory / name).exists() for name in STATE_FILES)


def shard_dirs(state_root: Path) -> list[ShardDir]:
    """The machine's shard directories, by shard id."""
    found: list[ShardDir] = []
    try:
        entries = list(state_root.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    for entry in entries:
        shard = shard_of_dir(entry.name)
        if shard is not None and entry.is_dir():
            found.append(ShardDir(shard, entry, read_marker(entry)))
    return sorted(found, key=lambda d: d.shard)


def read_marker(directory: Path) -> int | None:
    try:
        data = json.loads((directory / MARKER).read_text())
        return int(data["shard_count"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_marker(directory: Path, shard: Shard) -> None:
    text = json.dumps({"shard": shard.id, "shard_count": shard.count}) + "\n"
    atomic_write_bytes(directory / MARKER, text.encode())


def check_layout(paths: Paths, shard_count: int | None) -> None:
    """Refuse to run as `shard_count` shards (None: unsharded) over state laid out otherwise."""
    root = paths.state_root
    sharded = [d for d in shard_dirs(root) if holds_state(d.path)]
    if shard_count is None:
        if sharded:
            counts = sorted({d.count for d in sharded if d.count is not None})
            was = str(counts[0]) if len(counts) == 1 else "N"
            names = ", ".join(d.path.name for d in sharded)
            raise LayoutMismatch(
                f"This machine's state is sharded ({names} in {root}) but config.toml has no shard_count: "
                f"set it (`quranbot config set shard_count {was}`), or bring the guilds back into one "
                f"state with `quranbot shards migrate --from-count {was} --to-count 1`"
            )
        return
    if holds_state(root):
        raise LayoutMismatch(
            f"The state in {root} is unsharded: move its guilds to their shards first with "
            f"`quranbot shards migrate --from-count 1 --to-count {shard_count}` (with every bot stopped)"
        )
    other = [d for d in sharded if d.count is not None and d.count != shard_count]
    if other:
        first = other[0]
        raise LayoutMismatch(
            f"{first.path} holds the guilds of shard {first.shard} of {first.count}, but config.toml says "
            f"shard_count = {shard_count}: move them with `quranbot shards migrate "
            f"--from-count {first.count} --to-count {shard_count}` (with every bot stopped), or set "
            f"shard_count back to {first.count}"
        )
