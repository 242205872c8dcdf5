"""The controls for the mouse: one button per key, running the very same screen action as the key."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button

BUTTONS = (
    ("previous", "Previous", "screen.previous"),
    ("pause", "Pause", "screen.toggle_pause"),
    ("next", "Next", "screen.next"),
    ("loop", "Loop", "screen.loop"),
    ("shuffle", "Shuffle", "screen.shuffle"),
    ("surah", "Surah…", "screen.pick_surah"),
    ("reciter", "Reciter…", "screen.pick_reciter"),
)


class ControlBar(Horizontal):
    DEFAULT_CSS = """
    ControlBar { height: 1; margin: 0 0 1 0; }
    ControlBar Button { margin-right: 1; min-width: 8; }
    """

    def compose(self) -> ComposeResult:
        for name, label, action in BUTTONS:
            button = Button(label, id=f"button-{name}", compact=True, action=action)
            button.can_focus = False  # keys stay with the screen; a click still presses
            yield button

    def show_paused(self, paused: bool) -> None:
        self.query_one("#button-pause", Button).label = "Resume" if paused else "Pause"
