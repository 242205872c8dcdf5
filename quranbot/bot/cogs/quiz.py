"""The quiz in Discord: `/quiz start|stats|schedule|unschedule|deadline` (its leaderboard is in
cogs/leaderboard.py).

Thin: it parses, checks permission and cooldowns, and calls `QuizHost` (questions, answers, reveals)
and `QuizSchedule` (scheduled posts). Discord does not let a command with subcommands be run on its
own, so asking a question is `/quiz start` rather than a bare `/quiz`.
"""

from __future__ import annotations

import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from quranbot import ranking
from quranbot.bot.audit_trail import failed, refuse
from quranbot.bot.command_errors import answer_command_error
from quranbot.bot.localizer import replies
from quranbot.bot.quiz_host import ChannelBusy, QuizHost
from quranbot.bot.quiz_schedule import QuizSchedule
from quranbot.bot.quiz_view import (
    QUIZ_COG,
    AnswerButton,
    shown_name,
    stats_embed,
)
from quranbot.config.rules import QUIZ_DEADLINE_RANGE
from quranbot.i18n.bidi import Verbatim
from quranbot.i18n.catalog import N_, Messages
from quranbot.quiz.picker import NoQuestions
from quranbot.store.records import QuizScore

log = logging.getLogger(__name__)

#: Per member: this many /quiz commands per this many seconds (answers have their own limit).
COOLDOWN_RATE, COOLDOWN_SECONDS = 10, 60.0
#: The schedule's choices: their English names are what Discord shows (choices are synced in English);
#: the reply says them in the member's language.
INTERVAL_NAMES = {
    15: N_("every 15 minutes"), 30: N_("every 30 minutes"), 60: N_("every hour"), 120: N_("every 2 hours"),
    180: N_("every 3 hours"), 240: N_("every 4 hours"), 360: N_("every 6 hours"), 720: N_("every 12 hours"),
    1440: N_("once a day (midnight)"),
}  # fmt: skip
INTERVALS = [app_commands.Choice(name=name, value=minutes) for minutes, name in INTERVAL_NAMES.items()]


def _member_key(interaction: discord.Interaction) -> tuple[int | None, int]:
    return interaction.guild_id, interaction.user.id


def _manages_guild(interaction: discord.Interaction) -> bool:
    permissions = interaction.permissions
    return bool(permissions.manage_guild)


class QuizCog(commands.Cog, name=QUIZ_COG):
    quiz = app_commands.Group(
        name="quiz",
        description="Questions about the Quran, with points, streaks and leaderboards.",
        guild_only=True,
    )

    def __init__(self, bot: commands.Bot, host: QuizHost, schedule: QuizSchedule) -> None:
        self.bot = bot
        self.host = host
        self.schedule = schedule

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(AnswerButton)
        self.host.restore()
        await self.schedule.start()

    async def cog_unload(self) -> None:
        for guild_id in self.schedule.guild_ids():
            self.schedule.disarm(guild_id)
        await self.host.close()

    # -- what the buttons call (QuizActions) -----------------------------------------------------------
    async def answer(self, interaction: discord.Interaction, quiz_id: int, choice: int) -> None:
        await self.host.answer(interaction, quiz_id, choice)

    # -- /quiz -----------------------------------------------------------------------------------------
    @quiz.command(name="start", description="Ask a question here: four choices, one answer each.")
    @app_commands.describe(category="Quran, Hadith, Fiqh or History", difficulty="How hard")
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=_member_key)
    async def start(
        self,
        interaction: discord.Interaction,
        category: Literal["quran", "hadith", "fiqh", "history"] | None = None,
        difficulty: Literal["beginner", "intermediate", "advanced"] | None = None,
    ) -> None:
        channel, guild_id = interaction.channel, interaction.guild_id
        text = replies(interaction)
        if guild_id is None or not isinstance(channel, discord.abc.Messageable) or channel.id is None:
            refuse(interaction, "not in a server's text channel")
            await interaction.response.send_message(
                text.t("Quizzes run in a server's text channels."), ephemeral=True
            )
            return
        try:
            question = self.host.choose(guild_id, category, difficulty)
        except NoQuestions as exc:
            refuse(interaction, f"bad input: {exc}")
            await interaction.response.send_message(
                self._no_questions(text, category, difficulty), ephemeral=True
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            session = await self.host.ask(channel, channel.id, guild_id, question, asked_by=interaction.user)
        except ChannelBusy as busy:
            refuse(interaction, "a question is already open here")
            link = self._link(guild_id, busy.session.record.channel_id, busy.session.record.message_id)
            await interaction.followup.send(
                text.t("A question is already open here: {link}", link=Verbatim(link)), ephemeral=True
            )
            return
        except discord.HTTPException as exc:
            log.warning("Could not post a quiz in channel %s: %s", channel.id, exc)
            failed(interaction, f"Discord refused the post: {exc}")
            await interaction.followup.send(
                text.t("I could not post in this channel: check my permissions here."), ephemeral=True
            )
            return
        closes = int(session.record.deadline)
        await interaction.followup.send(
            text.t("Question posted; it closes {relative}.", relative=f"<t:{closes}:R>"), ephemeral=True
        )

    @staticmethod
    def _no_questions(text: Messages, category: str | None, difficulty: str | None) -> str:
        """Why nothing can be asked, and for a category only an imported bank has, how to get one."""
        if category and difficulty:
            message = text.t(
                "No questions match the {category} category at {difficulty} level.",
                category=shown_name(category, text),
                difficulty=shown_name(difficulty, text),
            )
        elif category:
            message = text.t(
                "No questions match the {category} category.", category=shown_name(category, text)
            )
        elif difficulty:
            message = text.t(
                "No questions match at {difficulty} level.", difficulty=shown_name(difficulty, text)
            )
        else:
            message = text.t("No questions match.")
        if category not in (None, "quran"):
            message += " " + text.t("An admin can import a bank: `quranbot quiz import FILE`.")
        return message

    @quiz.command(name="stats", description="Quiz points, rank, accuracy, streaks and achievements.")
    @app_commands.describe(member="Whose (default: yours)")
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=_member_key)
    async def stats(self, interaction: discord.Interaction, member: discord.Member | None = None) -> None:
        guild_id = interaction.guild_id
        assert guild_id is not None
        who = member or interaction.user
        scores = self.host.scores(guild_id)
        score = scores.get(who.id) or QuizScore(guild_id, who.id)
        ranked = self.host.ranking(guild_id, "all")
        place = ranking.find(ranked, who.id)
        embed = stats_embed(
            who.display_name, score, place.rank if place else None, len(ranked), replies(interaction)
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @quiz.command(name="schedule", description="Post a question here on a schedule (Manage Server).")
    @app_commands.describe(channel="Where the questions go", every="How often")
    @app_commands.choices(every=INTERVALS)
    async def schedule_command(
        self, interaction: discord.Interaction, channel: discord.TextChannel, every: app_commands.Choice[int]
    ) -> None:
        if not _manages_guild(interaction):
            raise app_commands.MissingPermissions(["manage_guild"])
        guild_id = interaction.guild_id
        assert guild_id is not None
        following = self.schedule.set(guild_id, channel.id, every.value * 60)
        text = replies(interaction)
        message = text.t(
            "A question will be posted in {channel} {every} (this server's time zone).",
            channel=channel.mention,
            every=text.t(INTERVAL_NAMES[every.value]),
        )
        if following:
            message += " " + text.t("The first at {time}.", time=f"<t:{int(following.timestamp())}:t>")
        await interaction.response.send_message(message, ephemeral=True)

    @quiz.command(name="unschedule", description="Stop the scheduled questions (Manage Server).")
    async def unschedule(self, interaction: discord.Interaction) -> None:
        if not _manages_guild(interaction):
            raise app_commands.MissingPermissions(["manage_guild"])
        guild_id = interaction.guild_id
        assert guild_id is not None
        self.schedule.set(guild_id, None, None)
        await interaction.response.send_message(
            replies(interaction).t("Scheduled questions stopped."), ephemeral=True
        )

    @quiz.command(name="deadline", description="How long a question stays open, in seconds (Manage Server).")
    async def deadline(
        self,
        interaction: discord.Interaction,
        seconds: app_commands.Range[int, QUIZ_DEADLINE_RANGE[0], QUIZ_DEADLINE_RANGE[1]],
    ) -> None:
        if not _manages_guild(interaction):
            raise app_commands.MissingPermissions(["manage_guild"])
        guild_id = interaction.guild_id
        assert guild_id is not None
        quiz_guild = self.host.store.quiz_guild(guild_id)
        quiz_guild.deadline_seconds = seconds
        self.host.store.save_quiz_guild(quiz_guild)
        await interaction.response.send_message(
            replies(interaction).t("Questions now stay open {seconds} s.", seconds=seconds), ephemeral=True
        )

    # -- helpers and errors ------------------------------------------------------------------------
    def _link(self, guild_id: int, channel_id: int, message_id: int | None) -> str:
        return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id or ''}".rstrip("/")

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await answer_command_error(interaction, error)
