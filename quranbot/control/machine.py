"""The bots of this machine and their control sockets: one unsharded bot (`RUNTIME/control.sock`, as
always), or one process per shard (`RUNTIME/shard-N/control.sock`).

The CLI and the TUI ask every one and merge what they answer; a shard that is down has no socket to
ask, so the shards a machine runs are found from config.toml (`shard_ids`, else every shard of
`shard_count`), from the state root's `shard-N/` directories (a shard that ran here) and from the
runtime root's (a shard running now), so a stopped shard is reported as down rather than forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from quranbot.config.load import load_config
from quranbot.config.schema import ConfigError
from quranbot.paths import Paths, shard_of_dir
from quranbot.shards.layout import shard_dirs
from quranbot.shards.ownership import shard_of


@dataclass(frozen=True)
class BotSocket:
    """One bot process's control socket: a shard's, or the unsharded bot's (`shard` None)."""

    shard: int | None
    paths: Paths

    @property
    def path(self) -> Path:
        return self.paths.control_socket

    @property
    def label(self) -> str:
        return "QuranBot" if self.shard is None else f"shard {self.shard}"


@dataclass(frozen=True)
class MachineBots:
    """What runs (or ran) here: the sockets to ask, and the shard count when sharded."""

    sockets: tuple[BotSocket, ...]
    shard_count: int | None

    @property
    def sharded(self) -> bool:
        return any(socket.shard is not None for socket in self.sockets)

    def owner(self, guild_id: int) -> BotSocket | None:
        """The socket of the shard that owns `guild_id` (the only one when unsharded), if it is here."""
        if not self.sharded:
            return self.sockets[0]
        if self.shard_count is None:
            return None
        wanted = shard_of(guild_id, self.shard_count)
        return next((s for s in self.sockets if s.shard == wanted), None)


def _shards_in(root: Path) -> set[int]:
    try:
        names = [entry.name for entry in root.iterdir() if entry.is_dir()]
    except OSError:
        return set()
    return {shard for shard in map(shard_of_dir, names) if shard is not None}


def machine_bots(paths: Paths) -> MachineBots:
    """Every bot this machine runs; unsharded (no shard keys, no shard directories) it is the one
    control socket of today. A config.toml that does not load only loses the shards it would name."""
    try:
        config = load_config(paths.config_file)
        named, count = set(config.machine_shards), config.shard_count
    except ConfigError:
        named, count = set(), None
    shards = named | _shards_in(paths.state_root) | _shards_in(paths.runtime_root)
    if count is None:  # config.toml unreadable here: the count the shards' directories were made for
        marked = {d.count for d in shard_dirs(paths.state_root) if d.count is not None}
        count = marked.pop() if len(marked) == 1 else None
    if not shards:
        return MachineBots((BotSocket(None, paths.for_shard(None)),), None)
    sockets = [BotSocket(shard, paths.for_shard(shard)) for shard in sorted(shards)]
    unsharded = paths.for_shard(None)
    if unsharded.control_socket.exists():  # a bot left running from before sharding: show it too
        sockets.insert(0, BotSocket(None, unsharded))
    return MachineBots(tuple(sockets), count)
