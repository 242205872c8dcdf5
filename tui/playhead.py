"""Elapsed/total as text and as a bar, drawn from whole cells so a repaint happens only when it changes.

The bot sends the position about once a second while playing; between events the TUI advances it
itself (`GuildNow.elapsed`). The text changes once a second and the bar once per cell, so the caller
compares the new line with the last one and repaints only on a difference.
"""

from __future__ import annotations

from quranbot.clock import clock

FILLED = "━"
EMPTY = "─"


def bar(elapsed: float, total: float, width: int) -> tuple[str, str]:
    """The filled and the empty part of a `width`-cell bar."""
    width = max(0, width)
    fraction = 0.0 if total <= 0 else min(1.0, max(0.0, elapsed / total))
    filled = int(fraction * width)
    return FILLED * filled, EMPTY * (width - filled)


def times(elapsed: float, total: float) -> str:
    return f"{clock(elapsed)} / {clock(total)}"
