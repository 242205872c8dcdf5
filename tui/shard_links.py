"""The TUI's connections to every shard of the machine, seen by the screen as one link.

One `BotLink` per shard socket, each reconnecting on its own. The screen gets one `LinkState`: connected
while any shard is, with a line that names each shard's state ("shard 0 connected, shard 1 down"), and
the guilds of every connected shard; events pass through as they come (each guild's belong to its
shard), except `stats`, which are merged into the machine's figures. A control goes to the shard that
reported the guild.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quranbot.control.client import BotNotRunning
from quranbot.control.machine import BotSocket
from quranbot.control.shard_stats import merge_stats
from quranbot.tui.connection import BotLink, LinkState, LinkStatus


class ShardLinks:
    def __init__(
        self,
        bots: tuple[BotSocket, ...],
        on_state: Callable[[LinkState], None],
        on_event: Callable[[str, Any], None],
        retry_interval: float = 1.0,
    ) -> None:
        self.bots = bots
        self.retry_interval = retry_interval
        self._on_state = on_state
        self._on_event = on_event
        self.states: dict[BotSocket, LinkState] = {bot: LinkState(LinkStatus.CONNECTING) for bot in bots}
        self.stats: dict[BotSocket, dict[str, Any]] = {}
        #: Which shard reported each guild, so its controls go there.
        self.owners: dict[str, BotSocket] = {}
        self.links = {bot: BotLink(bot.path, *self._callbacks(bot), retry_interval) for bot in bots}

    def _callbacks(self, bot: BotSocket) -> tuple[Callable[[LinkState], None], Callable[[str, Any], None]]:
        def on_state(state: LinkState) -> None:
            self._state(bot, state)

        def on_event(name: str, data: Any) -> None:
            self._event(bot, name, data)

        return on_state, on_event

    @property
    def socket(self) -> Path:
        """Where the machine's sockets are (the screen says what it connects to)."""
        return self.bots[0].path.parent.parent

    async def run(self) -> None:
        await asyncio.gather(*(link.run() for link in self.links.values()))

    async def call(self, method: str, **params: Any) -> Any:
        """To the guild's shard when the call names one, else to the first shard connected."""
        guild = params.get("guild")
        bot = self.owners.get(str(guild)) if guild is not None else None
        if bot is None:
            connected = [b for b, s in self.states.items() if s.status is LinkStatus.CONNECTED]
            if not connected:
                raise BotNotRunning("not connected to any shard of QuranBot (retrying)")
            bot = connected[0]
        return await self.links[bot].call(method, **params)

    def _event(self, bot: BotSocket, name: str, data: Any) -> None:
        if name == "stats":
            self.stats[bot] = data
            self._on_event("stats", merge_stats([self.stats[b] for b in self.bots if b in self.stats]))
            return
        if name in ("player", "listeners") and isinstance(data, dict) and "guild_id" in data:
            self.owners[str(data["guild_id"])] = bot
        self._on_event(name, data)

    def _state(self, bot: BotSocket, state: LinkState) -> None:
        self.states[bot] = state
        if state.status is not LinkStatus.CONNECTED:
            self.stats.pop(bot, None)
            for guild in [g for g, owner in self.owners.items() if owner == bot]:
                del self.owners[guild]
        else:
            for guild in state.guild_ids:
                self.owners[guild] = bot
        self._on_state(self.combined())

    def combined(self) -> LinkState:
        """The machine's state as one: connected while any shard is."""
        connected = [(b, s) for b, s in self.states.items() if s.status is LinkStatus.CONNECTED]
        parts = [f"{bot.label} {state.status.value}" for bot, state in self.states.items()]
        down = [f"{bot.label}: {state.detail}" for bot, state in self.states.items() if state.detail and
                state.status not in (LinkStatus.CONNECTED, LinkStatus.CONNECTING)]  # fmt: skip
        if connected:
            hello = dict(connected[0][1].hello)
            hello["pid"] = ", ".join(str(s.hello.get("pid", "?")) for _, s in connected)
            guild_ids = tuple(g for _, s in connected for g in s.guild_ids)
            return LinkState(
                LinkStatus.CONNECTED, ", ".join(parts), hello, guild_ids, shards=", ".join(parts)
            )
        statuses = {state.status for state in self.states.values()}
        status = statuses.pop() if len(statuses) == 1 else LinkStatus.DISCONNECTED
        return LinkState(status, "; ".join(down) or ", ".join(parts), shards=", ".join(parts))
