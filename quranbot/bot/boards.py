"""The leaderboards `/leaderboard` shows: quiz points and listening time, each ranked by its feature."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

from quranbot.bot.listening_tracker import ListeningTracker
from quranbot.bot.listening_view import duration
from quranbot.bot.quiz_host import QuizHost
from quranbot.i18n.catalog import N_, Messages
from quranbot.listening import leaderboard as listening_board
from quranbot.ranking import Period, Ranked

#: A listening board is ranked again at most this often (100,000 members take a few hundred ms, and
#: the figures move every second anyway); a page press within it costs nothing.
RANK_SECONDS = 5.0


class QuizBoard:
    name = "quiz"
    title = N_("Quiz leaderboard")
    empty = N_("No points yet in this period: `/quiz start` asks a question.")

    def __init__(self, host: QuizHost) -> None:
        self.host = host

    def ranking(self, guild_id: int, period: Period) -> list[Ranked]:
        return self.host.ranking(guild_id, period)

    def value(self, points: int, text: Messages) -> str:
        return text.t("{points} points", points=f"{points:,}")

    def today(self) -> datetime.date:
        return self.host.today()


class ListeningBoard:
    name = "listening"
    title = N_("Listening leaderboard")
    empty = N_("Nobody has listened in this period yet: join the Quran voice channel.")

    def __init__(self, tracker: ListeningTracker, refresh: Callable[[int], None]) -> None:
        self.tracker = tracker
        self._refresh = refresh
        self._cache: dict[tuple[int, Period], tuple[float, datetime.date, list[Ranked]]] = {}

    def ranking(self, guild_id: int, period: Period) -> list[Ranked]:
        today = self.today()
        cached = self._cache.get((guild_id, period))
        if cached is not None and cached[1] == today and time.monotonic() - cached[0] < RANK_SECONDS:
            return cached[2]
        self._refresh(guild_id)
        ranked = listening_board.rank(self.tracker.store.all_listening(guild_id), period, today)
        self._cache[(guild_id, period)] = (time.monotonic(), today, ranked)
        return ranked

    def value(self, points: int, text: Messages) -> str:
        return duration(points, text)

    def today(self) -> datetime.date:
        return self.tracker.today()
