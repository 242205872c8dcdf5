"""One tab per guild the bot recites in; the active tab is the guild the controls steer."""

from __future__ import annotations

from textual.widgets import Tab, Tabs

from quranbot.tui.records import PAUSED, PLAYING, GuildNow

PREFIX = "guild-"
GLYPH = {PLAYING: "▶", PAUSED: "‖", "reconnecting": "…"}


def tab_id(guild_id: str) -> str:
    return PREFIX + guild_id


def guild_of(tab: str | None) -> str | None:
    return tab.removeprefix(PREFIX) if tab and tab.startswith(PREFIX) else None


def label(guild: GuildNow) -> str:
    return f"{GLYPH.get(guild.state, '·')} {guild.guild_name}"


class GuildTabs(Tabs):
    DEFAULT_CSS = "GuildTabs { height: 2; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.can_focus = False  # tab switches guilds at the screen; a click on a tab still works
        #: Tab ids asked for, mounted or not yet (add_tab mounts later; asking twice would clash).
        self.guild_ids: list[str] = []

    def upsert(self, guild: GuildNow) -> None:
        text = label(guild)
        if guild.guild_id not in self.guild_ids:
            self.guild_ids.append(guild.guild_id)
            self.add_tab(Tab(text, id=tab_id(guild.guild_id)))
            return
        tab = self.get_tab(tab_id(guild.guild_id))
        if tab is not None and tab.label_text != text:
            tab.label = text

    def drop(self, guild_id: str) -> None:
        if guild_id in self.guild_ids:
            self.guild_ids.remove(guild_id)
            self.remove_tab(tab_id(guild_id))

    def step(self, by: int) -> None:
        if self.guild_ids:
            current = guild_of(self.active)
            index = self.guild_ids.index(current) if current in self.guild_ids else 0
            self.active = tab_id(self.guild_ids[(index + by) % len(self.guild_ids)])
