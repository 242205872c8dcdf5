"""Gateway sharding: which shard owns a guild, where each shard keeps its state, and moving guilds
between shards when the count changes (docs/SCALING.md)."""
