"""One question while it is open: who answered what, and when, by the monotonic clock.

The record (`OpenQuiz`) carries wall-clock times so a restart can find the question again; inside one
process durations come from `time.monotonic()`, which a clock step (NTP, a wrong date fixed) cannot
move. A session resumed after a restart re-bases its monotonic origin on the saved posting time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from quranbot.quiz.question import Question
from quranbot.store.records import OpenQuiz


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    #: The member had answered already: the first answer counts.
    ALREADY = "already"
    #: Past the deadline, or revealed.
    CLOSED = "closed"


@dataclass(frozen=True)
class Answer:
    user_id: int
    choice: int
    seconds: float


@dataclass
class QuizSession:
    record: OpenQuiz
    question: Question
    #: time.monotonic() at the moment the question was posted.
    started: float
    closed: bool = False
    _answers: dict[int, Answer] = field(default_factory=dict)

    @classmethod
    def resume(cls, record: OpenQuiz, question: Question, wall_now: float, mono_now: float) -> QuizSession:
        """A session for a saved record: its answers, and its clock as far along as the wall says."""
        session = cls(record, question, started=mono_now - max(0.0, wall_now - record.posted_at))
        for user, (choice, seconds) in record.answers.items():
            session._answers[int(user)] = Answer(int(user), int(choice), float(seconds))
        return session

    @property
    def open_seconds(self) -> float:
        return self.record.deadline - self.record.posted_at

    def elapsed(self, mono_now: float) -> float:
        return mono_now - self.started

    def remaining(self, mono_now: float) -> float:
        return self.open_seconds - self.elapsed(mono_now)

    def answer(self, user_id: int, choice: int, mono_now: float) -> tuple[Outcome, Answer | None]:
        """Record a click; the answer returned is the member's counted one (None when closed)."""
        if self.closed or self.remaining(mono_now) <= 0:
            return Outcome.CLOSED, self._answers.get(user_id)
        first = self._answers.get(user_id)
        if first is not None:
            return Outcome.ALREADY, first
        counted = Answer(user_id, choice, round(self.elapsed(mono_now), 3))
        self._answers[user_id] = counted
        self.record.answers[str(user_id)] = [choice, counted.seconds]
        return Outcome.ACCEPTED, counted

    def answers(self) -> list[Answer]:
        """In the order they came."""
        return sorted(self._answers.values(), key=lambda a: a.seconds)
