"""`/leaderboard quiz|listening`: who leads this server, this week, this month or all time, paged.

The boards come from their features (the quiz host, the listening tracker); this cog only draws them.
"""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from quranbot import ranking
from quranbot.bot.command_errors import answer_command_error
from quranbot.bot.leaderboard_view import (
    LEADERBOARD_COG,
    Board,
    LeaderboardPage,
    leaderboard_embed,
    leaderboard_view,
)
from quranbot.bot.localizer import replies
from quranbot.ranking import Period

#: Per member: this many leaderboards per this many seconds.
COOLDOWN_RATE, COOLDOWN_SECONDS = 5, 10.0
PeriodChoice = Literal["week", "month", "all"]


def _member_key(interaction: discord.Interaction) -> tuple[int | None, int]:
    return (interaction.guild_id, interaction.user.id)


class LeaderboardCog(commands.Cog, name=LEADERBOARD_COG):
    board = app_commands.Group(name="leaderboard", description="Who leads this server.", guild_only=True)

    def __init__(self, bot: commands.Bot, boards: list[Board]) -> None:
        self.bot = bot
        self.boards = {b.name: b for b in boards}

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(LeaderboardPage)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(LeaderboardPage)

    async def show_leaderboard(
        self, interaction: discord.Interaction, board: str, period: Period, page: int, *, edit: bool
    ) -> None:
        guild_id = interaction.guild_id
        chosen = self.boards.get(board)
        text = replies(interaction)
        if guild_id is None or chosen is None:
            await interaction.response.send_message(
                text.t("There is no such leaderboard here."), ephemeral=True
            )
            return
        ranked = chosen.ranking(guild_id, period)
        pages = ranking.page_count(ranked)
        page = min(max(0, page), pages - 1)
        embed = leaderboard_embed(
            chosen,
            period,
            ranking.page(ranked, page),
            page,
            pages,
            ranking.find(ranked, interaction.user.id),
            text,
        )
        view = leaderboard_view(board, period, page, pages, text)
        if edit:
            await interaction.response.edit_message(embed=embed, view=view)
        else:
            await interaction.response.send_message(embed=embed, view=view)

    @board.command(name="quiz", description="The quiz leaderboard: this week, this month or all time.")
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=_member_key)
    async def quiz(self, interaction: discord.Interaction, period: PeriodChoice = "week") -> None:
        await self.show_leaderboard(interaction, "quiz", period, 0, edit=False)

    @board.command(name="listening", description="Who listened most: this week, this month or all time.")
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=_member_key)
    async def listening(self, interaction: discord.Interaction, period: PeriodChoice = "week") -> None:
        await self.show_leaderboard(interaction, "listening", period, 0, edit=False)

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await answer_command_error(interaction, error)
