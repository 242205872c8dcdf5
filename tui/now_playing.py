"""Now playing in the selected guild: surah (English and Arabic), reciter, progress, modes, listeners,
and, while a per-ayah reciter plays, the ayah being recited (Tanzil's text, verbatim, and Pickthall's).

The bot reports the position about once a second; in between, a quarter-second timer advances it
locally, and only while the guild plays and the link is up (no timer runs while paused or
disconnected, so an idle TUI costs next to nothing). A line is repainted only when its text changes.
"""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from quranbot.quran.metadata import AyahRef
from quranbot.quran.text import TRANSLATION_FILE, load_text
from quranbot.tui.arabic import ArabicOrder, arabic_for_display
from quranbot.tui.playhead import bar, times
from quranbot.tui.records import PAUSED, PLAYING, GuildNow

TICK_SECONDS = 0.25
STATE_LOOK = {
    PLAYING: ("▶ playing", "bold $success"),
    PAUSED: ("‖ paused", "bold $warning"),
    "reconnecting": ("… reconnecting", "bold $error"),
    "idle": ("· idle (nothing to play)", "bold $warning"),
}


def _on_off(name: str, on: bool) -> tuple[str, str]:
    return (f"{name} on", "bold") if on else (f"{name} off", "dim")


def ayah_text(ref: AyahRef, order: ArabicOrder) -> Content:
    """The ayah as Tanzil has it (ordered for the terminal as the surah name is), then its translation."""
    arabic = arabic_for_display(load_text()[ref], order)
    return Content.assemble((arabic, "bold"), "\n", (load_text(TRANSLATION_FILE)[ref], "italic"))


class NowPlaying(Vertical):
    DEFAULT_CSS = """
    NowPlaying { border: round $primary; height: auto; padding: 0 1; }
    NowPlaying > Static { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    NowPlaying #np-title { height: 1; }
    NowPlaying #np-surah { width: 1fr; text-style: bold; }
    NowPlaying #np-arabic { width: auto; text-align: right; text-style: bold; }
    NowPlaying.-stale { border: round $panel-lighten-2; }
    /* the ayah being recited: only while a per-ayah reciter plays; long ayahs are cut at 8 lines */
    NowPlaying #np-ayah { display: none; height: auto; max-height: 8; text-wrap: wrap; margin: 1 0 0 0; }
    NowPlaying.-ayah #np-ayah { display: block; }
    /* no guild to show: only the placeholder, which says why */
    NowPlaying #np-placeholder { display: none; height: 7; color: $text-muted; text-wrap: wrap; }
    NowPlaying #np-placeholder { text-overflow: fold; }
    NowPlaying.-empty > Static, NowPlaying.-empty #np-title { display: none; }
    NowPlaying.-empty #np-placeholder { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.guild: GuildNow | None = None
        self.link_up = False
        self.order = ArabicOrder.LOGICAL
        self._progress_line: Content | None = None
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static("Waiting for QuranBot…", id="np-placeholder")
        yield Static(id="np-state")
        with Horizontal(id="np-title"):
            yield Static(id="np-surah")
            yield Static(id="np-arabic")
        yield Static(id="np-meaning")
        yield Static(id="np-ayah")
        yield Static(id="np-reciter")
        yield Static(id="np-progress")
        yield Static(id="np-listeners")
        yield Static(id="np-action")

    def on_mount(self) -> None:
        self.add_class("-empty")
        self.border_title = "Now playing"
        self._timer = self.set_interval(TICK_SECONDS, self._tick, pause=True)

    def on_resize(self) -> None:
        self._progress_line = None
        self._tick()

    # -- what to show ---------------------------------------------------------------------------------
    def show(self, guild: GuildNow | None, *, link_up: bool, order: ArabicOrder, placeholder: str) -> None:
        self.guild, self.link_up, self.order = guild, link_up, order
        self.set_class(guild is None, "-empty")
        self.set_class(not link_up, "-stale")
        if guild is None:
            self.border_title = "Now playing"
            self.query_one("#np-placeholder", Static).update(Content(placeholder))
            self._run_timer(False)
            return
        channel = f" · #{guild.channel_name}" if guild.channel_name else ""
        title = f"{guild.guild_name}{channel}"
        if str(self.border_title) != title:
            self.border_title = Content(title)
        self._set("#np-state", self._state_line(guild))
        self._set("#np-surah", Content(f"{guild.surah}. {guild.surah_name}"))
        self._set("#np-arabic", Content(arabic_for_display(guild.surah_arabic, order)), layout=True)
        ayah = f" · ayah {guild.ayah}" if guild.ayah else ""
        self._set("#np-meaning", Content(f"{guild.surah_english} · {guild.ayah_count} ayahs{ayah}"))
        self.set_class(guild.ayah is not None, "-ayah")
        if guild.ayah is not None:
            self._set("#np-ayah", ayah_text(AyahRef(guild.surah, guild.ayah), order), layout=True)
        reciter = guild.reciter_name or guild.reciter or "none"
        self._set("#np-reciter", Content.assemble(("Reciter  ", "dim"), reciter))
        names = ", ".join(listener.name for listener in guild.listeners) or "nobody"
        self._set("#np-listeners", Content.assemble((f"Listeners ({len(guild.listeners)})  ", "dim"), names))
        self._set("#np-action", Content.assemble(("Last action  ", "dim"), guild.last_action or "—"))
        self._progress_line = None
        self._tick()
        self._run_timer(link_up and guild.state == PLAYING)

    def _state_line(self, guild: GuildNow) -> Content:
        if not self.link_up:
            state: tuple[str, str] = ("■ disconnected (last known)", "bold $error")
        else:
            state = STATE_LOOK.get(guild.state, (guild.state, "bold"))
        voice = f"voice {guild.connection}"
        if guild.recoveries:
            voice += f", {guild.recoveries} {'recovery' if guild.recoveries == 1 else 'recoveries'}"
        return Content.assemble(
            state,
            "   ",
            _on_off("loop", guild.loop),
            " · ",
            _on_off("shuffle", guild.shuffle),
            "   ",
            (voice, "dim"),
        )

    def _set(self, selector: str, content: Content, layout: bool = False) -> None:
        """Repaint a line only when it changed; only the Arabic name's width can change the layout."""
        widget = self.query_one(selector, Static)
        if widget.content != content:
            widget.update(content, layout=layout)

    # -- the moving part ------------------------------------------------------------------------------
    def _run_timer(self, running: bool) -> None:
        if self._timer is not None:
            if running:
                self._timer.resume()
            else:
                self._timer.pause()

    def _tick(self) -> None:
        guild = self.guild
        if guild is None:
            return
        progress = self.query_one("#np-progress", Static)
        elapsed = guild.elapsed(time.monotonic()) if self.link_up else guild.position  # frozen when cut off
        label = times(elapsed, guild.duration)
        width = progress.content_region.width - len(label) - 2
        filled, empty = bar(elapsed, guild.duration, width)
        line = Content.assemble((filled, "$accent"), (empty, "dim"), "  ", label)
        if line != self._progress_line:
            self._progress_line = line
            progress.update(line, layout=False)
