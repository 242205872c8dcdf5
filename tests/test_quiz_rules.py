"""The quiz's rules as plain functions: points, member records, achievements, leaderboards, picking,
schedule slots. The numbers are the design's formula worked by hand."""

from __future__ import annotations

import datetime
import random
from zoneinfo import ZoneInfo

import pytest

from quranbot.quiz.leaderboard import rank
from quranbot.quiz.member_stats import DAILY_DAYS, apply_answer
from quranbot.quiz.picker import HISTORY_LIMIT, pick, remember
from quranbot.quiz.question import Question, Reference
from quranbot.quiz.schedule import SlotTrigger, grace, latest_slot, next_slot
from quranbot.quiz.scoring import points
from quranbot.quiz.session import Outcome, QuizSession
from quranbot.ranking import find, page, page_count, period_start
from quranbot.store.records import OpenQuiz, QuizScore

TODAY = datetime.date(2026, 12, 2)  # a Wednesday


def question(qid: str = "q", difficulty: str = "beginner", answer: int = 1) -> Question:
    return Question(
        id=qid,
        category="quran",
        difficulty=difficulty,  # type: ignore[arg-type]
        question="?",
        choices=("a", "b", "c", "d"),
        answer=answer,
        explanation="b",
        references=(Reference(surah=1, first_ayah=1),),
    )


@pytest.mark.parametrize(
    ("difficulty", "seconds", "streak", "expected"),
    [
        ("beginner", 0.0, 0, 15),  # 10 + 5 + 0
        ("beginner", 3.0, 0, 14),  # 10 + 4.5 -> 14
        ("intermediate", 6.0, 1, 21),  # 15 + 4 + 2
        ("advanced", 15.0, 4, 30),  # 20 + 2.5 + 8 = 30.5 -> 30
        ("advanced", 29.9, 10, 40),  # 20 + 0.0167 + 20 (the cap)
        ("advanced", 45.0, 25, 40),  # past the speed window: no speed points; streak capped at 20
        ("intermediate", 0.0, 3, 26),  # 15 + 5 + 6
    ],
)
def test_points_follow_the_formula(difficulty: str, seconds: float, streak: int, expected: int) -> None:
    assert points(difficulty, seconds, streak, correct=True) == expected  # type: ignore[arg-type]


def test_a_wrong_answer_scores_nothing_whatever_its_speed_and_streak() -> None:
    assert points("advanced", 0.0, 10, correct=False) == 0


def test_answers_move_the_record_streak_categories_daily_and_achievements() -> None:
    score = QuizScore(1, 7)
    first = apply_answer(score, 1, question(), 1, 3.0, TODAY, 1000.0)
    assert (first.correct, first.points, score.streak, score.points) == (True, 14, 1, 14)
    assert [a.id for a in first.earned] == ["first-correct"]
    second = apply_answer(score, 2, question(difficulty="advanced"), 1, 0.0, TODAY, 1001.0)
    assert second.points == 20 + 5 + 2  # the streak before it was 1
    wrong = apply_answer(score, 3, question(), 0, 1.0, TODAY, 1002.0)
    assert (wrong.points, score.streak, score.best_streak) == (0, 0, 2)
    assert score.categories == {"quran": [2, 3]} and score.answered == 3 and score.correct == 2
    assert score.daily == {TODAY.isoformat(): 41} and score.last_activity == 1002.0
    assert score.achievements == ["first-correct"]
    repeated = apply_answer(score, 2, question(), 1, 0.0, TODAY, 1003.0)  # a reveal repeated after a crash
    assert repeated.points == 0 and score.answered == 3


def test_ten_in_a_row_is_earned_once_and_daily_points_are_bounded() -> None:
    score = QuizScore(1, 7)
    earned = []
    start = TODAY - datetime.timedelta(days=DAILY_DAYS + 5)
    for n in range(12):  # one a day for 12 days, the first 400+ days ago
        day = start + datetime.timedelta(days=n)
        earned += [a.id for a in apply_answer(score, n, question(), 1, 0.0, day, 0.0).earned]
    assert earned == ["first-correct", "streak-10"]
    apply_answer(score, 99, question(), 1, 0.0, TODAY, 0.0)  # today: the days older than 400 go
    oldest = (TODAY - datetime.timedelta(days=DAILY_DAYS - 1)).isoformat()
    assert min(score.daily) >= oldest and len(score.daily) == 1 + 6
    assert score.points == sum(points("beginner", 0.0, n, True) for n in range(13))  # the total keeps all


def test_leaderboard_ties_share_a_rank_and_are_listed_by_user_id() -> None:
    scores = [QuizScore(1, u, points=p) for u, p in [(5, 50), (3, 70), (9, 50), (4, 20), (8, 0)]]
    ranked = rank(scores, "all", TODAY)
    assert [(r.rank, r.user_id, r.points) for r in ranked] == [(1, 3, 70), (2, 5, 50), (2, 9, 50), (4, 4, 20)]
    assert find(ranked, 8) is None  # no points: not ranked
    assert rank(list(reversed(scores)), "all", TODAY) == ranked  # the same whatever the input order


def test_week_and_month_count_the_guilds_calendar() -> None:
    score = QuizScore(
        1, 1, points=100, daily={"2026-11-30": 5, "2026-11-29": 7, "2026-12-01": 3, "2026-11-02": 9}
    )
    assert period_start("week", TODAY) == datetime.date(2026, 11, 30)  # Monday
    assert period_start("month", TODAY) == datetime.date(2026, 12, 1)
    assert rank([score], "week", TODAY)[0].points == 8
    assert rank([score], "month", TODAY)[0].points == 3
    assert rank([score], "all", TODAY)[0].points == 100


def test_pages_of_ten() -> None:
    ranked = rank([QuizScore(1, u, points=100 - u) for u in range(23)], "all", TODAY)
    assert page_count(ranked) == 3 and len(page(ranked, 2)) == 3 and page(ranked, 9) == page(ranked, 2)
    assert page(ranked, 0)[0].user_id == 0


def test_no_question_repeats_until_the_pool_is_used_up() -> None:
    pool = [question(f"q{n}") for n in range(5)]
    rng = random.Random(1)
    history: list[str] = []
    for _ in range(5):
        history = remember(history, pick(pool, history, rng).id)
    assert sorted(history) == sorted(q.id for q in pool)
    assert pick(pool, history, rng).id == history[0]  # then the one asked longest ago
    long = remember([f"x{n}" for n in range(HISTORY_LIMIT)], "new")
    assert len(long) == HISTORY_LIMIT and long[-1] == "new"


def test_a_session_takes_one_answer_each_and_closes_at_its_deadline() -> None:
    record = OpenQuiz(1, 1, 2, "q", posted_at=1000.0, deadline=1030.0)
    session = QuizSession(record, question(), started=50.0)
    assert session.answer(7, 1, 52.0)[0] is Outcome.ACCEPTED
    outcome, first = session.answer(7, 2, 53.0)
    assert outcome is Outcome.ALREADY and first is not None and first.choice == 1
    assert session.answer(8, 1, 80.0)[0] is Outcome.CLOSED
    resumed = QuizSession.resume(record, question(), wall_now=1010.0, mono_now=500.0)
    assert resumed.remaining(500.0) == pytest.approx(20.0) and resumed.answers()[0].seconds == 2.0


def test_slots_are_on_the_guilds_clock_across_daylight_saving() -> None:
    london = ZoneInfo("Europe/London")
    # 2026-03-29 01:00 UTC: London's clocks go from 01:00 GMT to 02:00 BST.
    before = datetime.datetime(2026, 3, 29, 0, 30, tzinfo=datetime.UTC)
    after = datetime.datetime(2026, 3, 29, 1, 30, tzinfo=datetime.UTC)
    assert latest_slot(before, 3600, london).astimezone(london).hour == 0
    assert latest_slot(after, 3600, london).astimezone(london).hour == 2
    daily = next_slot(datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.UTC), 86400, london)
    assert daily.astimezone(london).strftime("%H:%M") == "00:00" and daily.utcoffset() == datetime.timedelta(
        hours=1
    )
    riyadh = ZoneInfo("Asia/Riyadh")  # UTC+3: local midnight is 21:00 UTC
    slot = latest_slot(datetime.datetime(2026, 12, 2, 22, 10, tzinfo=datetime.UTC), 6 * 3600, riyadh)
    assert slot == datetime.datetime(2026, 12, 2, 21, 0, tzinfo=datetime.UTC)
    assert grace(60) == 60 and grace(86400) == 3600


def test_the_trigger_fires_at_each_slot_once() -> None:
    trigger = SlotTrigger(900, ZoneInfo("UTC"))
    now = datetime.datetime(2026, 12, 2, 10, 7, tzinfo=datetime.UTC)
    first = trigger.get_next_fire_time(None, now)
    assert first == datetime.datetime(2026, 12, 2, 10, 15, tzinfo=datetime.UTC)
    assert trigger.get_next_fire_time(first, first) == datetime.datetime(
        2026, 12, 2, 10, 30, tzinfo=datetime.UTC
    )
    with pytest.raises(ValueError):
        SlotTrigger(0, ZoneInfo("UTC"))
