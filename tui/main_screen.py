"""The one screen: what the bot is doing, per guild, and the keys to steer it.

It holds the latest state the bot reported (guilds, stats) and hands each widget its part. Every
control goes over the socket as a `control` request for the selected guild; the reply (the guild's
new status) is shown at once, and an error reply is shown as a notification with the bot's message.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Tabs

from quranbot.audit.record import AuditRecord
from quranbot.control.client import BotNotRunning, ControlError
from quranbot.tui.arabic import ArabicOrder
from quranbot.tui.connection import Link, LinkState, LinkStatus
from quranbot.tui.control_bar import ControlBar
from quranbot.tui.guild_tabs import GuildTabs, guild_of
from quranbot.tui.link_bar import LinkBar
from quranbot.tui.log_pane import LogPane
from quranbot.tui.messages import BotEvent, LinkChanged
from quranbot.tui.now_playing import NowPlaying
from quranbot.tui.pickers import ReciterPicker, SurahPicker
from quranbot.tui.records import PAUSED, BotStats, GuildNow, LogEntry, listeners_from
from quranbot.tui.stats_pane import StatsPane


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_pause", "Pause"),
        Binding("n", "next", "Next"),
        Binding("p", "previous", "Prev"),
        Binding("l", "loop", "Loop"),
        Binding("s", "shuffle", "Shuffle"),
        Binding("g", "pick_surah", "Surah"),
        Binding("slash", "pick_surah", "Surah", show=False),
        Binding("r", "pick_reciter", "Reciter"),
        Binding("v", "log_level", "Level"),
        Binding("f", "search_logs", "Search"),
        Binding("u", "audit_trail", "Audit"),
        Binding("tab", "next_guild", "Guild"),
        Binding("shift+tab", "next_guild(-1)", "Guild", show=False),
        Binding("a", "arabic_order", "Arabic"),
    ]
    AUTO_FOCUS = ""  # the keys belong to the controls until the log search is asked for (f)
    DEFAULT_CSS = """
    MainScreen #top { height: auto; }
    MainScreen #left { width: 1fr; height: auto; }
    """

    def __init__(self, link: Link, note: str | None = None) -> None:
        super().__init__()
        self.link = link
        self.note = note
        self.link_state = LinkState(LinkStatus.CONNECTING)
        self.guilds: dict[str, GuildNow] = {}
        self.selected: str | None = None
        self.stats: BotStats | None = None
        self.order = ArabicOrder.LOGICAL
        #: The reciters the bot listed or played this session (slug -> name), for the reciter picker.
        self.reciters: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield LinkBar(self.note, id="link")
        yield GuildTabs(id="guilds")
        with Horizontal(id="top"):
            with Vertical(id="left"):
                yield NowPlaying(id="now")
                yield ControlBar(id="controls")
            yield StatsPane(id="stats")
        yield LogPane(id="logs")
        yield Footer()

    @property
    def link_up(self) -> bool:
        return self.link_state.status is LinkStatus.CONNECTED

    # -- from the bot ---------------------------------------------------------------------------------
    def on_link_changed(self, message: LinkChanged) -> None:
        self.link_state = message.state
        self.query_one(LinkBar).show(message.state, self.link.retry_interval)
        if self.link_up:
            for guild_id in [g for g in self.guilds if g not in message.state.guild_ids]:
                self._forget(guild_id)
        self._show_selected()  # the stats pane too

    def on_bot_event(self, message: BotEvent) -> None:
        try:
            self._apply_event(message.name, message.data, message.received_at)
        except (KeyError, TypeError, ValueError) as exc:  # a monitor should outlive one odd event
            self.notify(f"Could not read a {message.name!r} event: {exc}", severity="warning", markup=False)

    def _apply_event(self, name: str, data: Any, received_at: float) -> None:
        if name == "player":
            self._apply_status(data, received_at)
        elif name == "listeners":
            guild = self.guilds.get(str(data["guild_id"]))
            if guild is not None:
                self._store(guild.with_listeners(listeners_from(data.get("listeners"))))
        elif name == "logs":
            self.query_one(LogPane).add(LogEntry.from_json(data))
        elif name == "audit":
            self.query_one(LogPane).add_audit(AuditRecord.from_json(data))
        elif name == "stats":
            self.stats = BotStats.from_json(data)
            self._show_stats()
        elif name == "dropped":
            self.query_one(LogPane).note(f"{data.get('count')} events were dropped: the TUI fell behind")
        elif name == "error":
            self.notify(str(data.get("message", data)), title="QuranBot", severity="error", markup=False)

    def _apply_status(self, data: dict[str, Any], received_at: float) -> None:
        guild = GuildNow.from_json(data, received_at)
        known = self.guilds.get(guild.guild_id)
        if known is not None and guild.sent_at < known.sent_at:
            return  # a reply overtook this older event on the socket
        self._store(guild)

    def _store(self, guild: GuildNow) -> None:
        first = guild.guild_id not in self.guilds
        self.guilds[guild.guild_id] = guild
        if guild.reciter:
            self.reciters[guild.reciter] = guild.reciter_name or guild.reciter
        self.query_one(GuildTabs).upsert(guild)
        if self.selected is None:
            self.selected = guild.guild_id
        if first:
            self.refresh_bindings()
        if guild.guild_id == self.selected:
            self._show_selected()

    def _forget(self, guild_id: str) -> None:
        self.guilds.pop(guild_id, None)
        self.query_one(GuildTabs).drop(guild_id)
        if self.selected == guild_id:
            self.selected = next(iter(self.guilds), None)
        self.refresh_bindings()

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        guild_id = guild_of(event.tab.id if event.tab else None)
        if guild_id is not None and guild_id != self.selected:
            self.selected = guild_id
            self._show_selected()

    def _show_selected(self) -> None:
        guild = self.guilds.get(self.selected) if self.selected else None
        self.query_one(NowPlaying).show(
            guild, link_up=self.link_up, order=self.order, placeholder=self._waiting()
        )
        self.query_one(ControlBar).show_paused(guild is not None and guild.state == PAUSED)
        self._show_stats()

    def _show_stats(self) -> None:
        """The bot's figures, with the listening of the guild the other panes show."""
        self.query_one(StatsPane).show(self.stats, link_up=self.link_up, guild_id=self.selected)

    def _waiting(self) -> str:
        state = self.link_state
        if state.status is LinkStatus.CONNECTED:
            return "Connected. No guild is reciting yet: the bot may still be joining its voice channel."
        if state.status is LinkStatus.CONNECTING:
            return f"Connecting to {self.link.socket}…"
        every = f"Retrying every {self.link.retry_interval:g} s."
        if state.status is LinkStatus.FORBIDDEN:
            return f"Not allowed to use the control socket.\n{state.detail}\n{every}"
        return f"Disconnected: {state.detail}\n{every}"

    # -- to the bot -----------------------------------------------------------------------------------
    def _target(self) -> GuildNow | None:
        return self.guilds.get(self.selected) if self.selected else None

    def _send(self, action: str, **params: Any) -> None:
        self.run_worker(self._control(action, **params), group="control")

    async def _control(self, action: str, **params: Any) -> None:
        guild = self._target()
        if guild is not None:
            params["guild"] = guild.guild_id
        try:
            result = await self.link.call("control", action=action, **params)
        except ControlError as exc:
            self.notify(exc.message, title="QuranBot refused", severity="error", markup=False)
        except (BotNotRunning, ConnectionError, TimeoutError) as exc:
            self.notify(str(exc), title="Not sent", severity="error", markup=False)
        else:
            if isinstance(result, dict) and "guild_id" in result:
                self._apply_status(result, time.monotonic())

    def action_toggle_pause(self) -> None:
        guild = self._target()
        self._send("resume" if guild is not None and guild.state == PAUSED else "pause")

    def action_next(self) -> None:
        self._send("next")

    def action_previous(self) -> None:
        self._send("previous")

    def action_loop(self) -> None:
        self._send("loop")

    def action_shuffle(self) -> None:
        self._send("shuffle")

    def action_pick_surah(self) -> None:
        def chosen(surah: str | None) -> None:
            if surah:
                self._send("play", surah=int(surah))

        self.app.push_screen(SurahPicker(self.order), chosen)

    def action_pick_reciter(self) -> None:
        self.run_worker(self._pick_reciter(), group="picker", exclusive=True)

    async def _pick_reciter(self) -> None:
        """Ask the bot which reciters are imported (an import since it started shows too), then pick."""
        try:
            listed = await self.link.call("reciters")
        except (ControlError, BotNotRunning, ConnectionError, TimeoutError):
            listed = {"reciters": []}  # offer what the bot has reported, and typing a slug
        for reciter in listed["reciters"]:
            self.reciters[reciter["slug"]] = reciter["name"]

        def chosen(reciter: str | None) -> None:
            if reciter:
                self._send("reciter", reciter=reciter)

        guild = self._target()
        self.app.push_screen(ReciterPicker(dict(self.reciters), guild.reciter if guild else None), chosen)

    # -- the view -------------------------------------------------------------------------------------
    def action_log_level(self) -> None:
        self.query_one(LogPane).cycle_level()

    def action_audit_trail(self) -> None:
        self.query_one(LogPane).toggle_audit()

    def action_search_logs(self) -> None:
        self.query_one(LogPane).focus_search()

    def action_next_guild(self, by: int = 1) -> None:
        self.query_one(GuildTabs).step(by)

    def action_arabic_order(self) -> None:
        self.order = self.order.toggled()
        self._show_selected()
        self.notify(self.order.describe(), timeout=3)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_guild":
            return len(self.guilds) > 1
        return True
