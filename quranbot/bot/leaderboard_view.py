"""What a leaderboard looks like in Discord (quiz points, listening time), and its page buttons.

The page buttons are `DynamicItem`s: their custom_id carries the board, the period and the page they
lead to, so a leaderboard posted before a restart still pages after it. The boards themselves (how
members are ranked, how a value reads) live with their features; `LeaderboardCog` holds them.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import discord
from discord.ext import commands

from quranbot.bot.localizer import replies
from quranbot.i18n.catalog import N_, Messages
from quranbot.ranking import PERIODS, Period, Ranked

PAGE_PREFIX = "quranbot:lb:"
LEADERBOARD_COG = "LeaderboardCog"
PERIOD_NAMES: dict[Period, str] = {"week": N_("this week"), "month": N_("this month"), "all": N_("all time")}


class Board(Protocol):
    """One kind of leaderboard."""

    #: Its name in custom ids and in `/leaderboard <name>`.
    name: str
    #: Message ids (marked with N_), said in the reader's language.
    title: str
    #: What an empty board says (how to get on it).
    empty: str

    def ranking(self, guild_id: int, period: Period) -> list[Ranked]: ...

    def value(self, points: int, text: Messages) -> str: ...

    def today(self) -> datetime.date: ...


def leaderboard_embed(
    board: Board,
    period: Period,
    rows: Sequence[Ranked],
    page: int,
    pages: int,
    viewer: Ranked | None,
    text: Messages,
) -> discord.Embed:
    title = f"{text.t(board.title)} · {text.t(PERIOD_NAMES[period])}"
    embed = discord.Embed(title=title, colour=discord.Colour.gold())
    if not rows:
        embed.description = text.t(board.empty)
    else:
        medals = {1: "🥇", 2: "🥈", 3: "🥉"}
        embed.description = "\n".join(
            f"{medals.get(r.rank, f'`#{r.rank}`')} <@{r.user_id}> — {board.value(r.points, text)}"
            for r in rows
        )
    mine = (
        text.t("Your rank: #{rank} with {value}", rank=viewer.rank, value=board.value(viewer.points, text))
        if viewer
        else text.t("You are not on this board yet")
    )
    embed.add_field(name=text.t("You"), value=mine, inline=False)
    footer = text.t(
        "Page {page} of {pages} · ties share a rank · {date}",
        page=page + 1,
        pages=pages,
        date=text.ltr(board.today().isoformat()),
    )
    embed.set_footer(text=footer)
    return embed


@runtime_checkable
class LeaderboardActions(Protocol):
    """What the page buttons ask of the cog behind them (found by name: buttons outlive views)."""

    async def show_leaderboard(
        self, interaction: discord.Interaction, board: str, period: Period, page: int, *, edit: bool
    ) -> None: ...


class LeaderboardPage(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=PAGE_PREFIX + r"(?P<board>[a-z]+):(?P<period>week|month|all):(?P<page>\d+):(?P<dir>prev|next)",
):
    """A page button of a leaderboard; it carries the board, the period and the page it leads to."""

    def __init__(
        self,
        board: str,
        period: Period,
        page: int,
        direction: str,
        *,
        disabled: bool = False,
        text: Messages | None = None,
    ):
        """`text`: the labels' language (a button rebuilt from its custom_id only dispatches: English)."""
        label = "Previous" if direction == "prev" else "Next"
        super().__init__(
            discord.ui.Button(
                label=text.t(N_("Previous") if direction == "prev" else N_("Next")) if text else label,
                emoji="◀️" if direction == "prev" else "▶️",
                custom_id=f"{PAGE_PREFIX}{board}:{period}:{page}:{direction}",
                style=discord.ButtonStyle.secondary,
                disabled=disabled,
            )
        )
        self.board = board
        self.period: Period = period
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> LeaderboardPage:
        period = next(p for p in PERIODS if p == match["period"])  # the template admits only these
        return cls(match["board"], period, int(match["page"]), match["dir"])

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        cog = client.get_cog(LEADERBOARD_COG) if isinstance(client, commands.Bot) else None
        if not isinstance(cog, LeaderboardActions):
            await interaction.response.send_message(
                replies(interaction).t("Leaderboards are not running right now."), ephemeral=True
            )
            return
        await cog.show_leaderboard(interaction, self.board, self.period, self.page, edit=True)


def leaderboard_view(board: str, period: Period, page: int, pages: int, text: Messages) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(LeaderboardPage(board, period, max(0, page - 1), "prev", disabled=page <= 0, text=text))
    view.add_item(
        LeaderboardPage(
            board, period, min(pages - 1, page + 1), "next", disabled=page >= pages - 1, text=text
        )
    )
    return view
