"""Which shard owns a guild: Discord's rule, `(guild_id >> 22) % shard_count`.

Discord sends a shard's session the events of exactly those guilds, so the same rule decides which
shard's state directory holds a guild's records.
"""

from __future__ import annotations

from dataclasses import dataclass


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard that owns `guild_id` when the bot runs as `shard_count` shards."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class Shard:
    """One gateway shard: `id` of `count` (Discord's IDENTIFY field `shard: [id, count]`)."""

    id: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.id < self.count:
            raise ValueError(f"shard {self.id} is not one of {self.count} (0 to {self.count - 1})")

    def owns(self, guild_id: int) -> bool:
        return shard_of(guild_id, self.count) == self.id

    def __str__(self) -> str:
        return f"shard {self.id} of {self.count}"
