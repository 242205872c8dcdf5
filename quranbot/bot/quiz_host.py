"""Runs quiz questions in Discord channels: posts them, takes answers, reveals them at the deadline.

One `QuizHost` per bot, owned by the quiz cog. Each open question is a `QuizSession` with one timer
task; the timer reveals it by editing the question's message once (no countdown edits: the embed shows
a Discord timestamp that counts down by itself). What a restart must not lose is in the store: the
question is saved when posted, answers are buffered and flushed with the playback position, and at
start every saved question is re-armed with its remaining time, or revealed at once if its deadline
passed while the bot was down. Scoring a reveal is idempotent (each record remembers the quizzes it
counted), so a crash between saving the scores and closing the question cannot count anyone twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import random
import secrets
import time
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import discord

from quranbot.bot.audit_trail import refuse
from quranbot.bot.localizer import Localizer
from quranbot.bot.quiz_view import answer_view, question_embed, reveal_embed, shown_choices
from quranbot.i18n.catalog import N_
from quranbot.quiz import leaderboard
from quranbot.quiz.bank import BankLoader
from quranbot.quiz.member_stats import AnswerResult, apply_answer
from quranbot.quiz.picker import NoQuestions, pick, remember
from quranbot.quiz.question import LETTERS, Question
from quranbot.quiz.session import Outcome, QuizSession
from quranbot.ranking import Period, Ranked
from quranbot.store.records import OpenQuiz, QuizGuild, QuizScore
from quranbot.store.state import StateStore

log = logging.getLogger(__name__)

#: Days of per-guild activity kept (questions and answers per day).
ACTIVITY_DAYS = 31
#: Answer clicks a member may make per this many seconds (over all questions).
ANSWER_RATE, ANSWER_PER = 10, 60.0
#: Click acknowledgements in flight at once. discord.py's connection pool has no limit (voice needs
#: that), so a crowd clicking together opened one TLS connection per click: 1,000 clicks at once took 3 s
#: on the sandbox that way, 0.5–1.1 s queued behind 4–64 kept-alive connections (bench/quiz.py). Against
#: the real Discord each answer waits a network round trip (~50–100 ms), so the queue must stay wide:
#: 64 in flight answer about 1,000 clicks a second there.
ACK_CONCURRENCY = 64


class ChannelBusy(RuntimeError):
    """A question is already open in that channel."""

    def __init__(self, session: QuizSession) -> None:
        super().__init__("a question is already open in this channel")
        self.session = session


@dataclass
class GuildActivity:
    """Today's quiz figures for `quranbot status` and the TUI, kept in memory, updated at each reveal."""

    day: str = ""
    questions: int = 0
    answers: int = 0
    #: user id -> points today.
    points: dict[int, int] = field(default_factory=dict)


class QuizHost:
    def __init__(
        self,
        bot: discord.Client,
        store: StateStore,
        bank: BankLoader,
        timezone: ZoneInfo,
        default_deadline: int,
        localizer: Localizer,
        rng: random.Random | None = None,
    ) -> None:
        self.bot = bot
        #: Questions and reveals in the server's language, answers to a click in the member's.
        self.localizer = localizer
        self.store = store
        self.bank = bank
        self.timezone = timezone
        self.default_deadline = default_deadline
        self.rng = rng or random.Random()
        self.sessions: dict[int, QuizSession] = {}
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._activity: dict[int, GuildActivity] = {}
        self._answer_limits: dict[tuple[int, int], list[float]] = {}
        self._acks = asyncio.Semaphore(ACK_CONCURRENCY)
        #: Every member's record per guild, read from the store once, then kept current at each reveal
        #: (the store is written too): stats and leaderboards never re-read a large file.
        self._scores: dict[int, dict[int, QuizScore]] = {}
        #: Leaderboards as last ranked, per (guild, period), with the day and reveal count they are of.
        self._rankings: dict[tuple[int, Period], tuple[str, int, list[Ranked]]] = {}
        self._reveals: dict[int, int] = {}
        #: Display names of members seen answering (the bot has no member list: no privileged intent).
        self.names: dict[int, str] = {}

    # -- time ------------------------------------------------------------------------------------------
    def today(self, wall: float | None = None) -> datetime.date:
        """The guild's local date (config.toml's time zone)."""
        return datetime.datetime.fromtimestamp(time.time() if wall is None else wall, self.timezone).date()

    def deadline_seconds(self, guild_id: int) -> int:
        return self.store.quiz_guild(guild_id).deadline_seconds or self.default_deadline

    # -- lifecycle -------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Pick up every question left open by the previous run (call once the loop runs)."""
        wall, mono = time.time(), time.monotonic()
        for record in self.store.open_quizzes():
            question = self.bank.bank().get(record.question_id)
            if question is None or record.message_id is None:
                log.warning(
                    "Dropping quiz %x: %s", record.quiz_id,
                    "its question is no longer in the bank" if question else "it was never posted",
                )  # fmt: skip
                self.store.delete_open_quiz(record.quiz_id)
                continue
            session = QuizSession.resume(record, question, wall, mono)
            self.sessions[record.quiz_id] = session
            left = session.remaining(mono)
            what = (
                f"re-armed, {left:.0f} s left" if left > 0 else "its deadline passed while stopped; revealing"
            )
            log.info("Quiz %x in channel %s: %s", record.quiz_id, record.channel_id, what)
            self._arm(session)

    async def close(self) -> None:
        """Stop the timers; open questions stay saved (with their answers) for the next run."""
        timers = list(self._timers.values())
        for timer in timers:
            timer.cancel()
        for timer in timers:
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        self._timers.clear()
        for session in self.sessions.values():
            self.store.buffer_open_quiz(session.record)

    def _arm(self, session: QuizSession) -> None:
        quiz_id = session.record.quiz_id
        self._timers[quiz_id] = asyncio.create_task(
            self._reveal_at_deadline(session), name=f"quiz {quiz_id:x}"
        )

    async def _reveal_at_deadline(self, session: QuizSession) -> None:
        await asyncio.sleep(max(0.0, session.remaining(time.monotonic())))
        self._timers.pop(session.record.quiz_id, None)
        try:
            await self.reveal(session.record.quiz_id)
        except Exception:
            log.exception("Revealing quiz %x failed", session.record.quiz_id)

    def open_in(self, channel_id: int) -> QuizSession | None:
        """The question taking answers in the channel now (one past its deadline is only being revealed)."""
        now = time.monotonic()
        return next(
            (
                s
                for s in self.sessions.values()
                if s.record.channel_id == channel_id and not s.closed and s.remaining(now) > 0
            ),
            None,
        )

    # -- asking ----------------------------------------------------------------------------------------
    def choose(self, guild_id: int, category: str | None, difficulty: str | None) -> Question:
        pool = self.bank.bank().questions(category, difficulty)
        if not pool:
            raise NoQuestions(
                "No questions match"
                + (f" the {category.capitalize()} category" if category else "")
                + (f" at {difficulty} level" if difficulty else "")
            )
        return pick(pool, self.store.quiz_guild(guild_id).history, self.rng)

    async def ask(
        self,
        channel: discord.abc.Messageable,
        channel_id: int,
        guild_id: int,
        question: Question,
        asked_by: discord.abc.User | None = None,
    ) -> QuizSession:
        """Post `question` in the channel and open it; raises ChannelBusy, or discord.HTTPException."""
        busy = self.open_in(channel_id)
        if busy is not None:
            raise ChannelBusy(busy)
        wall, mono = time.time(), time.monotonic()
        deadline = wall + self.deadline_seconds(guild_id)
        record = OpenQuiz(
            quiz_id=secrets.randbits(48),
            guild_id=guild_id,
            channel_id=channel_id,
            question_id=question.id,
            posted_at=wall,
            deadline=deadline,
            asked_by=asked_by.id if asked_by else None,
        )
        session = QuizSession(record, question, started=mono)
        self.sessions[record.quiz_id] = session  # before the post: a click may beat the send's answer
        name = asked_by.display_name if asked_by else None
        text = self.localizer.for_guild(self.bot.get_guild(guild_id) or guild_id)
        try:
            message = await channel.send(
                embed=question_embed(question, deadline, name, text), view=answer_view(record.quiz_id)
            )
        except BaseException:
            del self.sessions[record.quiz_id]
            raise
        record.message_id = message.id
        self.store.save_open_quiz(record)
        quiz_guild = self.store.quiz_guild(guild_id)
        quiz_guild.history = remember(quiz_guild.history, question.id)
        self.store.save_quiz_guild(quiz_guild)
        self._arm(session)
        log.info(
            "Quiz %x posted in channel %s: %s (%s)",
            record.quiz_id,
            channel_id,
            question.id,
            name or "schedule",
        )
        self._publish("posted", session, message_id=message.id, asked_by=name)
        return session

    # -- answering -------------------------------------------------------------------------------------
    def _limited(self, guild_id: int, user_id: int) -> float | None:
        """Seconds to wait if the member clicked ANSWER_RATE times in the last ANSWER_PER s, else None."""
        now = time.monotonic()
        key = (guild_id, user_id)
        recent = [t for t in self._answer_limits.get(key, []) if now - t < ANSWER_PER]
        if len(recent) >= ANSWER_RATE:
            self._answer_limits[key] = recent
            return ANSWER_PER - (now - recent[0])
        recent.append(now)
        self._answer_limits[key] = recent
        if len(self._answer_limits) > 10_000:  # forget members who stopped clicking
            self._answer_limits = {k: v for k, v in self._answer_limits.items() if now - v[-1] < ANSWER_PER}
        return None

    async def answer(self, interaction: discord.Interaction, quiz_id: int, choice: int) -> None:
        session = self.sessions.get(quiz_id)
        user = interaction.user
        text = self.localizer.for_interaction(interaction)
        if session is None:
            refuse(interaction, "the question has closed")
            await self._tell(interaction, text.t("This question has closed."))
            return
        wait = self._limited(session.record.guild_id, user.id)
        if wait is not None:
            refuse(interaction, f"cooldown: {wait:.0f} s left")
            await self._tell(
                interaction, text.t("Slow down: you can answer again in {seconds} s.", seconds=f"{wait:.0f}")
            )
            return
        self.names[user.id] = user.display_name
        outcome, counted = session.answer(user.id, choice, time.monotonic())
        if outcome is Outcome.CLOSED:
            refuse(interaction, "the question has closed")
            await self._tell(interaction, text.t("This question has closed."))
            return
        assert counted is not None
        picked = f"**{LETTERS[counted.choice]}** · {shown_choices(session.question, text)[counted.choice]}"
        reveal = f"<t:{int(session.record.deadline)}:R>"
        if outcome is Outcome.ALREADY:
            refuse(interaction, "already answered: the first answer counts")
            await self._tell(
                interaction,
                text.t(
                    "You already answered {picked}: your first answer counts. "
                    "The answer is revealed {reveal}.",
                    picked=picked,
                    reveal=reveal,
                ),
            )
            return
        self.store.buffer_open_quiz(session.record)
        await self._tell(
            interaction,
            text.t("Your answer: {picked}. The answer is revealed {reveal}.", picked=picked, reveal=reveal),
        )
        self._publish("answered", session, user_id=str(user.id), answers=len(session.record.answers))

    async def _tell(self, interaction: discord.Interaction, text: str) -> None:
        """Answer a click privately; at most ACK_CONCURRENCY answers are in flight at once."""
        async with self._acks:
            await interaction.response.send_message(text, ephemeral=True)

    # -- revealing -------------------------------------------------------------------------------------
    async def reveal(self, quiz_id: int) -> list[AnswerResult]:
        """Close the question, score everyone who answered, and show the answer on its message."""
        session = self.sessions.get(quiz_id)
        if session is None or session.closed:
            return []
        session.closed = True
        record, question = session.record, session.question
        results = self._score(session)
        await self._show_reveal(session, results)
        self.store.delete_open_quiz(quiz_id)
        self.sessions.pop(quiz_id, None)
        self._publish(
            "revealed", session, answers=len(results), correct=sum(1 for r in results if r.correct),
            answer=LETTERS[question.answer],
        )  # fmt: skip
        log.info(
            "Quiz %x revealed: %d answer(s), %d right", record.quiz_id, len(results),
            sum(1 for r in results if r.correct),
        )  # fmt: skip
        return results

    def _score(self, session: QuizSession) -> list[AnswerResult]:
        record = session.record
        wall = time.time()
        today = self.today(wall)
        activity = self.activity(record.guild_id)  # loaded before this reveal changes what it reads
        results, scores = [], []
        known = self.scores(record.guild_id)
        for answer in session.answers():
            score = known.get(answer.user_id) or QuizScore(record.guild_id, answer.user_id)
            known[answer.user_id] = score
            results.append(
                apply_answer(
                    score, record.quiz_id, session.question, answer.choice, answer.seconds, today, wall
                )
            )
            scores.append(score)
        self.store.save_quiz_scores(record.guild_id, scores)
        self._reveals[record.guild_id] = self._reveals.get(record.guild_id, 0) + 1  # rankings are stale
        quiz_guild = self.store.quiz_guild(record.guild_id)
        self._count_activity(quiz_guild, activity, today, results)
        self.store.save_quiz_guild(quiz_guild)
        return results

    def _count_activity(
        self,
        quiz_guild: QuizGuild,
        activity: GuildActivity,
        today: datetime.date,
        results: list[AnswerResult],
    ) -> None:
        day = today.isoformat()
        questions, answers = quiz_guild.activity.get(day, [0, 0])
        quiz_guild.activity[day] = [questions + 1, answers + len(results)]
        oldest = (today - datetime.timedelta(days=ACTIVITY_DAYS - 1)).isoformat()
        quiz_guild.activity = {d: v for d, v in quiz_guild.activity.items() if d >= oldest}
        if activity.day != day:  # the reveal crossed midnight
            activity.day, activity.points = day, {}
        activity.questions, activity.answers = quiz_guild.activity[day]
        for result in results:
            activity.points[result.user_id] = activity.points.get(result.user_id, 0) + result.points

    async def _show_reveal(self, session: QuizSession, results: list[AnswerResult]) -> None:
        """Edit the question's message into its answer; if the message is gone, post the answer anew."""
        record = session.record
        channel = self.bot.get_partial_messageable(record.channel_id, guild_id=record.guild_id)
        view = answer_view(record.quiz_id, session.question, revealed=True)
        text = self.localizer.for_guild(self.bot.get_guild(record.guild_id) or record.guild_id)
        if record.message_id is not None:
            try:
                await channel.get_partial_message(record.message_id).edit(
                    embed=reveal_embed(session.question, results, text), view=view
                )
                return
            except discord.NotFound:
                log.info("Quiz %x: its message was deleted; posting the answer anew", record.quiz_id)
            except discord.HTTPException as exc:
                log.warning("Could not show the answer of quiz %x: %s", record.quiz_id, exc)
                return
        try:
            await channel.send(
                embed=reveal_embed(session.question, results, text, note=N_("The question was deleted"))
            )
        except discord.HTTPException as exc:
            log.warning(
                "Could not post the answer of quiz %x in channel %s: %s",
                record.quiz_id,
                record.channel_id,
                exc,
            )

    # -- figures ---------------------------------------------------------------------------------------
    def activity(self, guild_id: int) -> GuildActivity:
        """Today's figures (reset at the guild's midnight; loaded from the store on first use)."""
        day = self.today().isoformat()
        activity = self._activity.get(guild_id)
        if activity is None or activity.day != day:
            questions, answers = self.store.quiz_guild(guild_id).activity.get(day, [0, 0])
            points = {s.user_id: s.daily[day] for s in self.scores(guild_id).values() if s.daily.get(day)}
            activity = self._activity[guild_id] = GuildActivity(day, questions, answers, points)
        return activity

    def scores(self, guild_id: int) -> dict[int, QuizScore]:
        """Every member's quiz record in the guild, by user id (the live objects: do not change them)."""
        known = self._scores.get(guild_id)
        if known is None:
            known = self._scores[guild_id] = {s.user_id: s for s in self.store.quiz_scores(guild_id)}
        return known

    def ranking(self, guild_id: int, period: Period) -> list[Ranked]:
        """The guild's leaderboard for the period, ranked again only after a reveal or at midnight
        (100,000 members take a few hundred ms; a page press then costs nothing)."""
        day = self.today()
        key = (guild_id, period)
        version = (day.isoformat(), self._reveals.get(guild_id, 0))
        cached = self._rankings.get(key)
        if cached is not None and cached[:2] == version:
            return cached[2]
        ranked = leaderboard.rank(self.scores(guild_id).values(), period, day)
        self._rankings[key] = (*version, ranked)
        return ranked

    def top_today(self, guild_id: int, count: int = 3) -> list[tuple[int, int]]:
        """(user id, points) of today's best, best first."""
        points = self.activity(guild_id).points
        return sorted(((u, p) for u, p in points.items() if p > 0), key=lambda item: (-item[1], item[0]))[
            :count
        ]

    def _publish(self, kind: str, session: QuizSession, **fields: object) -> None:
        record = session.record
        event = {
            "event": kind,
            "guild_id": str(record.guild_id),
            "channel_id": str(record.channel_id),
            "quiz_id": f"{record.quiz_id:x}",
            "question_id": session.question.id,
            "category": session.question.category,
            "difficulty": session.question.difficulty,
            "deadline": round(record.deadline, 3),
            **fields,
        }
        self.bot.dispatch("quiz_event", event)
