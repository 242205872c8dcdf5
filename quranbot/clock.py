"""Durations as people read them on a clock face: 4:07, 1:02:03 (for Discord, the CLI and the TUI)."""

from __future__ import annotations


def clock(seconds: float) -> str:
    whole = max(0, int(seconds))
    return (
        f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
        if whole >= 3600
        else f"{whole // 60}:{whole % 60:02d}"
    )
