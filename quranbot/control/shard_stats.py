"""The `stats` of several shard processes as one `Stats` object (docs/PROTOCOL.md), for the TUI.

Counts, rates, CPU and memory add up (the machine's total); the uptime is the youngest shard's, the
gateway latency the worst, the last backup the oldest shard's newest (the one an admin should worry
about) and the next one the soonest. Per-guild lists join (each shard has its own guilds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SUMMED = ("cpu_percent", "cpu_seconds", "rss_bytes", "guilds", "voice_connected", "packets_sent",
          "packets_per_second", "recoveries")  # fmt: skip
JOINED = ("quiz", "listening")


def merge_stats(each: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One `Stats` for the machine; `pid` is the first shard's, `pids` lists them all."""
    if not each:
        raise ValueError("no stats to merge")
    merged: dict[str, Any] = dict(each[0])
    for key in SUMMED:
        if all(key in stats for stats in each):
            merged[key] = sum(stats[key] for stats in each)
    merged["uptime"] = min(stats.get("uptime", 0.0) for stats in each)
    merged["logged_in"] = all(stats.get("logged_in") for stats in each)
    latencies = [stats["gateway_latency_ms"] for stats in each if stats.get("gateway_latency_ms") is not None]
    merged["gateway_latency_ms"] = max(latencies) if latencies else None
    backups = [stats["last_backup"] for stats in each if stats.get("last_backup")]
    merged["last_backup"] = max(backups, key=lambda b: b["age"]) if len(backups) == len(each) else None
    upcoming = [stats["next_backup"] for stats in each if stats.get("next_backup")]
    merged["next_backup"] = min(upcoming) if upcoming else None
    for key in JOINED:
        merged[key] = [entry for stats in each for entry in stats.get(key) or []]
    merged["pids"] = [stats.get("pid") for stats in each]
    return merged
