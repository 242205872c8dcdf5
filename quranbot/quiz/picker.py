"""Which question to ask next in a guild: none of its recent ones until the matching pool runs out."""

from __future__ import annotations

import random
from collections.abc import Sequence

from quranbot.quiz.question import Question

#: Question ids a guild remembers (oldest dropped first): no repeat among these.
HISTORY_LIMIT = 1000


class NoQuestions(LookupError):
    """No question matches the category and difficulty asked for."""


def pick(pool: Sequence[Question], history: Sequence[str], rng: random.Random) -> Question:
    """A random question not in `history`; if all were asked, the one asked longest ago."""
    if not pool:
        raise NoQuestions("no question matches")
    recent = set(history[-HISTORY_LIMIT:])
    fresh = [q for q in pool if q.id not in recent]
    if fresh:
        return rng.choice(fresh)
    last_asked = {qid: index for index, qid in enumerate(history)}
    return min(pool, key=lambda q: last_asked.get(q.id, -1))


def remember(history: list[str], question_id: str) -> list[str]:
    """The history with `question_id` asked now, bounded to HISTORY_LIMIT."""
    updated = [qid for qid in history if qid != question_id]
    updated.append(question_id)
    return updated[-HISTORY_LIMIT:]
