"""Listening statistics as plain functions: the local-hour split, accrual and sessions, khatms, who is
credited with a surah, achievements, leaderboards, figures and the CSV export. Times are worked by hand
from the zones' rules (Europe/London: GMT/BST; Asia/Kolkata +5:30; Asia/Kathmandu +5:45)."""

from __future__ import annotations

import csv
import datetime
import io
import json
import random
from zoneinfo import ZoneInfo

import pytest

from quranbot.listening import audience as aud
from quranbot.listening.accrual import DAILY_DAYS, SESSION_LIMIT, accrue, close_session, open_session
from quranbot.listening.achievements import BY_ID, day_streak, earn
from quranbot.listening.calendar import split_by_local_hour
from quranbot.listening.export import CSV_COLUMNS, write_csv
from quranbot.listening.figures import format_duration, guild_figures, member_figures
from quranbot.listening.khatm import SURAH_COUNT, credit_surah, heard_count, progress_bar
from quranbot.listening.leaderboard import period_seconds, rank
from quranbot.ranking import find, period_start, rank_totals
from quranbot.store.records import ListeningStats, SurahAudience

UTC = datetime.UTC
LONDON = ZoneInfo("Europe/London")
TODAY = datetime.date(2026, 12, 2)  # a Wednesday


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    """Unix time of a UTC wall-clock time."""
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def listened(
    stats: ListeningStats, start: float, seconds: float, reciter: str = "afasy", surah: int = 1
) -> None:
    accrue(stats, start, start + seconds, tz=UTC, reciter=reciter, surah=surah)


# -- the local-hour split ---------------------------------------------------------------------------------


def test_london_spring_forward_skips_one_oclock() -> None:
    # 29 March 2026, 01:00 GMT = 01:00 UTC becomes 02:00 BST: 00:30–02:30 UTC is local 00:30–03:30.
    pieces = split_by_local_hour(at(2026, 3, 29, 0, 30), at(2026, 3, 29, 2, 30), LONDON)
    assert pieces == [("2026-03-29", 0, 1800.0), ("2026-03-29", 2, 3600.0), ("2026-03-29", 3, 1800.0)]


def test_london_autumn_back_lives_one_oclock_twice() -> None:
    # 25 October 2026, 02:00 BST = 01:00 UTC becomes 01:00 GMT: 00:30–02:30 UTC is local 01:30 BST–02:30 GMT.
    pieces = split_by_local_hour(at(2026, 10, 25, 0, 30), at(2026, 10, 25, 2, 30), LONDON)
    assert pieces == [("2026-10-25", 1, 1800.0), ("2026-10-25", 1, 3600.0), ("2026-10-25", 2, 1800.0)]


@pytest.mark.parametrize(
    ("zone", "first", "last"),
    [("Asia/Kolkata", 1800.0, 1800.0), ("Asia/Kathmandu", 900.0, 2700.0)],  # +5:30 and +5:45
)
def test_half_and_quarter_hour_offsets_cut_at_the_local_hour(zone: str, first: float, last: float) -> None:
    # 00:00–02:00 UTC is local 05:30–07:30 (Kolkata), 05:45–07:45 (Kathmandu).
    pieces = split_by_local_hour(at(2026, 1, 1), at(2026, 1, 1, 2), ZoneInfo(zone))
    assert pieces == [("2026-01-01", 5, first), ("2026-01-01", 6, 3600.0), ("2026-01-01", 7, last)]


def test_an_offset_change_off_the_hour_is_found_too() -> None:
    # Lord Howe Island goes back half an hour at 02:00 local (15:00 UTC, 4 April 2026): 01:30–02:00 twice.
    pieces = split_by_local_hour(
        at(2026, 4, 4, 14, 30), at(2026, 4, 4, 15, 30), ZoneInfo("Australia/Lord_Howe")
    )
    assert pieces == [("2026-04-05", 1, 1800.0), ("2026-04-05", 1, 1800.0)]


def test_an_offset_change_between_hour_boundaries_cuts_the_hour() -> None:
    # St John's went forward at 00:01 local until 2011: 14 March 2010, 00:01 NST (03:31 UTC) -> 01:01 NDT.
    pieces = split_by_local_hour(at(2010, 3, 14, 3), at(2010, 3, 14, 5), ZoneInfo("America/St_Johns"))
    assert pieces == [
        ("2010-03-13", 23, 1800.0),
        ("2010-03-14", 0, 60.0),
        ("2010-03-14", 1, 3540.0),
        ("2010-03-14", 2, 1800.0),
    ]


def test_an_interval_across_midnight_splits_the_day() -> None:
    pieces = split_by_local_hour(at(2026, 12, 1, 23, 59, 50), at(2026, 12, 2, 0, 0, 10), LONDON)
    assert pieces == [("2026-12-01", 23, 10.0), ("2026-12-02", 0, 10.0)]
    # The same instants in Kolkata are 05:29:50–05:30:10 on one day, in one hour.
    assert split_by_local_hour(
        at(2026, 12, 1, 23, 59, 50), at(2026, 12, 2, 0, 0, 10), ZoneInfo("Asia/Kolkata")
    ) == [("2026-12-02", 5, 20.0)]


def test_no_interval_gives_no_pieces() -> None:
    assert split_by_local_hour(100.0, 100.0, LONDON) == []
    assert split_by_local_hour(100.0, 90.0, LONDON) == []


def test_pieces_always_add_up_to_the_interval() -> None:
    rng = random.Random(5)
    for zone in ("Europe/London", "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe", "UTC"):
        tz = ZoneInfo(zone)
        for _ in range(200):
            start = at(2026, 1, 1) + rng.uniform(0, 365 * 86400)
            length = rng.choice([0.02, 5.0, 15.0, rng.uniform(0, 3 * 86400)])
            pieces = split_by_local_hour(start, start + length, tz)
            assert sum(p[2] for p in pieces) == pytest.approx(length, abs=1e-6)
            assert all(p[2] > 0 and 0 <= p[1] <= 23 and p[2] <= 3600 for p in pieces)


# -- accrual and sessions ---------------------------------------------------------------------------------


def test_totals_per_reciter_surah_hour_and_day_add_up_to_the_total() -> None:
    stats = ListeningStats(1, 7)
    start = at(2026, 12, 1, 23, 50)
    for n in range(80):  # 15 s at a time across midnight, changing reciter and surah as it goes
        accrue(
            stats, start + 15 * n, start + 15 * (n + 1), tz=LONDON, reciter=("afasy", "husary")[n % 2],
            surah=1 + n // 30,
        )  # fmt: skip
    assert stats.seconds == pytest.approx(1200.0)
    assert stats.reciters == pytest.approx({"afasy": 600.0, "husary": 600.0})
    assert stats.surahs == pytest.approx({"1": 450.0, "2": 450.0, "3": 300.0})
    assert stats.daily == pytest.approx({"2026-12-01": 600.0, "2026-12-02": 600.0})
    assert (
        len(stats.hours) == 24
        and stats.hours[23] == pytest.approx(600.0)
        and stats.hours[0] == pytest.approx(600.0)
    )
    assert sum(stats.hours) == pytest.approx(stats.seconds)
    assert (stats.first_seen, stats.last_seen) == (start, start + 1200)


def test_the_local_zone_decides_the_hour_and_the_day() -> None:
    stats = ListeningStats(1, 7)
    accrue(
        stats,
        at(2026, 12, 1, 20, 0),
        at(2026, 12, 1, 20, 0, 15),
        tz=ZoneInfo("Asia/Kathmandu"),
        reciter=None,
        surah=None,
    )
    # 20:00 UTC is 01:45 the next day in Kathmandu.
    assert stats.daily == {"2026-12-02": 15.0} and stats.hours[1] == 15.0
    assert stats.reciters == {} and stats.surahs == {} and stats.seconds == 15.0  # nothing to credit them to


def test_a_wall_clock_step_backwards_adds_nothing() -> None:
    stats = ListeningStats(1, 7)
    listened(stats, at(2026, 12, 2, 10), 15)
    before = stats.to_document()
    accrue(stats, at(2026, 12, 2, 10, 0, 15), at(2026, 12, 2, 9, 59), tz=UTC, reciter="afasy", surah=1)
    accrue(stats, at(2026, 12, 2, 10, 0, 15), at(2026, 12, 2, 10, 0, 15), tz=UTC, reciter="afasy", surah=1)
    assert stats.to_document() == before


def test_daily_seconds_keep_the_last_35_local_dates() -> None:
    stats = ListeningStats(1, 7, daily={"2026-01-01": 50.0})  # a stale day from an old record
    first = datetime.date(2026, 11, 1)
    for n in range(40):
        day = first + datetime.timedelta(days=n)
        listened(stats, datetime.datetime.combine(day, datetime.time(12), UTC).timestamp(), 60)
    newest = first + datetime.timedelta(days=39)
    assert len(stats.daily) == DAILY_DAYS == 35
    assert (
        min(stats.daily) == (newest - datetime.timedelta(days=34)).isoformat()
        and max(stats.daily) == newest.isoformat()
    )
    assert stats.seconds == 2400.0  # pruned days stay in the total


def test_sessions_open_close_and_remember_the_longest() -> None:
    stats = ListeningStats(1, 7)
    open_session(stats, 1000.0)
    assert stats.sessions == 1 and stats.first_seen == 1000.0
    accrue(stats, 1000.0, 1015.0, tz=UTC, reciter="afasy", surah=1)
    accrue(stats, 1015.0, 1030.0, tz=UTC, reciter="afasy", surah=2)
    accrue(stats, 1030.0, 1045.0, tz=UTC, reciter="husary", surah=1)
    assert stats.session == {
        "start": 1000.0,
        "end": 1045.0,
        "seconds": 45.0,
        "reciters": ["afasy", "husary"],
        "surahs": [1, 2],
    }
    close_session(stats)
    assert stats.session is None and stats.longest_session == 45.0 and len(stats.recent_sessions) == 1
    close_session(stats)  # nothing open: nothing happens
    assert len(stats.recent_sessions) == 1 and stats.sessions == 1
    open_session(stats, 2000.0)
    accrue(stats, 2000.0, 2010.0, tz=UTC, reciter="afasy", surah=1)
    open_session(stats, 3000.0)  # a join with one still open closes it first
    assert stats.sessions == 3 and [s["seconds"] for s in stats.recent_sessions] == [45.0, 10.0]
    assert stats.longest_session == 45.0


def test_a_session_that_heard_nothing_is_not_a_session() -> None:
    stats = ListeningStats(1, 7)
    open_session(stats, 1000.0)
    close_session(stats)
    assert stats.sessions == 0 and stats.recent_sessions == [] and stats.first_seen == 0.0
    listened(stats, 2000.0, 15)  # no session open: accrual opens one at the interval's start
    assert stats.sessions == 1 and stats.session is not None and stats.session["start"] == 2000.0
    close_session(stats)
    open_session(stats, 5000.0)
    close_session(stats)
    assert stats.sessions == 1 and stats.first_seen == 2000.0 and len(stats.recent_sessions) == 1


def test_recent_sessions_are_bounded_oldest_first() -> None:
    stats = ListeningStats(1, 7)
    for n in range(SESSION_LIMIT + 5):
        open_session(stats, 10_000.0 * n)
        listened(stats, 10_000.0 * n, n + 1)
        close_session(stats)
    assert stats.sessions == 25 and len(stats.recent_sessions) == SESSION_LIMIT == 20
    assert [s["seconds"] for s in stats.recent_sessions] == [float(n + 1) for n in range(5, 25)]
    assert stats.longest_session == 25.0


# -- khatm ------------------------------------------------------------------------------------------------


def test_113_surahs_are_no_khatm_and_the_114th_completes_one() -> None:
    stats = ListeningStats(1, 7)
    order = list(range(1, SURAH_COUNT + 1))
    random.Random(2).shuffle(order)
    last = order.pop()
    assert not any(credit_surah(stats, n) for n in order)
    assert stats.heard == sorted(order) and heard_count(stats) == 113 and stats.khatms == 0
    assert credit_surah(stats, order[0]) is False  # a repeat counts in the total, not twice in heard
    assert stats.surahs_completed == 114 and heard_count(stats) == 113
    assert credit_surah(stats, last) is True
    assert (stats.khatms, stats.heard, stats.surahs_completed) == (1, [], 115)
    assert credit_surah(stats, 5) is False and stats.heard == [5]  # the next khatm begins


def test_a_surah_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError):
        credit_surah(ListeningStats(1, 7), 115)


def test_progress_bar_is_six_lines_of_nineteen() -> None:
    bar = progress_bar([1, 19, 20, 114, 20])
    lines = bar.split("\n")
    assert len(lines) == 6 and all(len(line) == 19 and set(line) <= {"▰", "▱"} for line in lines)
    assert bar.count("▰") == 4
    assert lines[0][0] == lines[0][18] == lines[1][0] == lines[5][18] == "▰"
    assert lines[0][1] == lines[1][1] == "▱"
    assert progress_bar([]) == "\n".join(["▱" * 19] * 6)


# -- who is credited with a surah -------------------------------------------------------------------------


def test_only_members_present_from_the_first_frame_to_the_last_are_credited() -> None:
    audience = SurahAudience(1)
    aud.begin(audience, 36, "afasy", {3, 1, 2})
    assert audience.members == [1, 2, 3]
    aud.left(audience, 2)  # stopped listening mid-surah
    aud.left(audience, 99)  # never was in it
    # 4 joined late; 2 came back: neither heard it all. 3 is gone at the end.
    assert aud.finished(audience, 36, "afasy", {1, 2, 4}) == [1]
    assert (audience.surah, audience.reciter, audience.members) == (None, None, [])
    assert aud.finished(audience, 36, "afasy", {1, 2, 4}) == []  # credited once


def test_a_jump_or_another_surah_or_reciter_credits_nobody() -> None:
    audience = SurahAudience(1)
    aud.begin(audience, 36, "afasy", {1})
    aud.interrupt(audience)
    assert aud.finished(audience, 36, "afasy", {1}) == []
    aud.begin(audience, 36, "afasy", {1})
    assert aud.finished(audience, 37, "afasy", {1}) == []
    aud.begin(audience, 36, "afasy", {1})
    assert aud.finished(audience, 36, "husary", {1}) == []


def test_a_restart_mid_surah_keeps_only_members_still_present_on_the_same_recitation() -> None:
    audience = SurahAudience(1)
    aud.begin(audience, 36, "afasy", {1, 2, 3})
    saved = SurahAudience.from_document(json.loads(json.dumps(audience.to_document())))
    aud.resumed(saved, 36, "afasy", {2, 3, 4})
    assert saved.members == [2, 3]
    assert aud.finished(saved, 36, "afasy", {2, 3, 4}) == [2, 3]
    aud.begin(audience, 36, "afasy", {1, 2})
    aud.resumed(audience, 36, "husary", {1, 2})  # the reciter changed while the bot was down
    assert (audience.surah, audience.members) == (None, [])
    aud.begin(audience, 36, "afasy", {1, 2})
    aud.resumed(audience, 40, "afasy", {1, 2})
    assert aud.finished(audience, 40, "afasy", {1, 2}) == []


# -- achievements -----------------------------------------------------------------------------------------


def test_achievements_are_earned_once_in_order() -> None:
    stats = ListeningStats(1, 7, seconds=3599.0)
    assert earn(stats, TODAY) == []
    stats.seconds, stats.surahs_completed = 3600.0, 1
    assert [a.id for a in earn(stats, TODAY)] == ["listened-1h", "first-surah"]
    assert earn(stats, TODAY) == [] and stats.achievements == ["listened-1h", "first-surah"]
    stats.seconds, stats.khatms = 100 * 3600.0, 1
    assert [a.id for a in earn(stats, TODAY)] == ["listened-10h", "listened-100h", "first-khatm"]
    assert stats.achievements == [
        "listened-1h",
        "first-surah",
        "listened-10h",
        "listened-100h",
        "first-khatm",
    ]
    assert (
        BY_ID["listened-1h"].name == "First hour"
        and str(BY_ID["first-surah"].description) == "heard a surah in full"
        and str(BY_ID["full-week"].description) == "listened on 7 days in a row"
    )


def days(*offsets: int, seconds: float = 60.0) -> dict[str, float]:
    """daily seconds on TODAY minus each offset."""
    return {(TODAY - datetime.timedelta(days=n)).isoformat(): seconds for n in offsets}


def test_a_full_week_needs_seven_days_in_a_row() -> None:
    stats = ListeningStats(1, 7, daily=days(0, 1, 2, 4, 5, 6, 7, 8))  # 8 days with a gap 3 days ago
    assert "full-week" not in [a.id for a in earn(stats, TODAY)]
    stats.daily.update(days(9))  # 4..9 and 10 would be 7: not yet
    assert earn(stats, TODAY) == []
    stats.daily.update(days(10))  # 4..10: seven in a row, ended four days ago
    assert [a.id for a in earn(stats, TODAY)] == ["full-week"]
    stats.daily = {**days(3, 4, 5), **days(6, seconds=0.0), **days(7, 8, 9)}  # a day with 0 s is a gap
    assert not BY_ID["full-week"].earned(stats, TODAY)


def test_the_day_streak_ends_today_or_yesterday() -> None:
    assert day_streak(days(0, 1, 2, 4), TODAY) == 3
    assert day_streak(days(1, 2, 4), TODAY) == 2  # nothing yet today: the streak still stands
    assert day_streak(days(2, 3), TODAY) == 0
    assert day_streak({**days(1), **days(0, seconds=0.0)}, TODAY) == 1
    assert day_streak({}, TODAY) == 0


# -- leaderboards -----------------------------------------------------------------------------------------


def test_listening_leaderboard_ties_share_a_rank_in_whole_seconds() -> None:
    stats = [
        ListeningStats(1, 5, seconds=50.2),
        ListeningStats(1, 3, seconds=70.4),
        ListeningStats(1, 9, seconds=49.6),
        ListeningStats(1, 4, seconds=20.0),
        ListeningStats(1, 8, seconds=0.3),  # rounds to nothing: not ranked
    ]
    ranked = rank(stats, "all", TODAY)
    assert [tuple(r) for r in ranked] == [(1, 3, 70), (2, 5, 50), (2, 9, 50), (4, 4, 20)]
    assert find(ranked, 8) is None and rank(list(reversed(stats)), "all", TODAY) == ranked


def test_rank_totals_leaves_out_nothing_and_orders_ties_by_id() -> None:
    assert rank_totals([(2, 5), (1, 5), (3, 0), (4, -1), (5, 9)]) == [(1, 5, 9), (2, 1, 5), (2, 2, 5)]
    assert rank_totals([]) == []


def test_week_from_monday_and_month_from_the_first() -> None:
    stats = ListeningStats(1, 7, seconds=1000.0)
    stats.daily = {"2026-11-29": 100.0, "2026-11-30": 5.0, "2026-12-02": 3.4, "2026-11-01": 7.0}
    assert period_start("week", TODAY) == datetime.date(2026, 11, 30)
    assert period_seconds(stats, period_start("week", TODAY)) == 8
    assert period_seconds(stats, period_start("month", TODAY)) == 3
    assert period_seconds(stats, None) == 1000
    assert [r.points for r in (rank([stats], p, TODAY) for p in ("week", "month", "all")) for r in r] == [
        8,
        3,
        1000,
    ]


def test_the_week_starts_on_the_guilds_monday() -> None:
    # Sunday 29 November 23:30 UTC is already Monday 00:30 in Berlin: this week there, last week in UTC.
    start = at(2026, 11, 29, 23, 30)
    berlin, utc = ListeningStats(1, 1), ListeningStats(1, 2)
    accrue(berlin, start, start + 600, tz=ZoneInfo("Europe/Berlin"), reciter="afasy", surah=1)
    accrue(utc, start, start + 600, tz=UTC, reciter="afasy", surah=1)
    assert [tuple(r) for r in rank([berlin, utc], "week", TODAY)] == [(1, 1, 600)]
    assert [r.user_id for r in rank([berlin, utc], "all", TODAY)] == [1, 2]


# -- figures and the CSV export ---------------------------------------------------------------------------


def member() -> ListeningStats:
    """A member who listened 3 sessions this week (Monday, Tuesday, Wednesday 21:00–21:50 UTC)."""
    stats = ListeningStats(10, 10**18 + 7)
    for day, minutes, reciter, surah in ((30, 20, "husary", 18), (1, 10, "afasy", 36), (2, 20, "afasy", 1)):
        start = at(2026, 11 if day == 30 else 12, day, 21)
        open_session(stats, start)
        for n in range(minutes * 4):
            accrue(stats, start + 15 * n, start + 15 * (n + 1), tz=UTC, reciter=reciter, surah=surah)
        close_session(stats)
    stats.daily["2026-11-20"] = 600.0  # last month, in the total too
    stats.seconds += 600.0
    stats.reciters["minshawi"] = 600.0
    stats.surahs["2"] = 600.0
    credit_surah(stats, 36)
    credit_surah(stats, 1)
    earn(stats, TODAY)
    return stats


def test_member_figures() -> None:
    stats = member()
    open_session(stats, at(2026, 12, 2, 23))  # listening now: the open session counts for the longest
    listened(stats, at(2026, 12, 2, 23), 1500)
    figures = member_figures(stats, TODAY, {1: "Al-Fatihah", 36: "Ya-Sin"})
    json.dumps(figures)  # JSON-able as it is
    assert figures["user_id"] == str(10**18 + 7)
    assert figures["seconds"] == 1200 + 600 + 1200 + 600 + 1500 == 5100
    assert figures["hours"] == 1.4
    assert figures["sessions"] == 4 and figures["average_session_seconds"] == 1275
    assert figures["longest_session_seconds"] == 1500
    assert (figures["today_seconds"], figures["week_seconds"], figures["month_seconds"]) == (2700, 4500, 3300)
    assert figures["day_streak"] == 3
    assert figures["favourite_surahs"] == [
        {"surah": 1, "name": "Al-Fatihah", "seconds": 2700},
        {"surah": 18, "seconds": 1200},
        {"surah": 2, "seconds": 600},  # 2 and 36 tie at 600 s: the lower number first
    ]
    assert figures["favourite_reciters"] == [
        {"reciter": "afasy", "seconds": 3300},
        {"reciter": "husary", "seconds": 1200},
        {"reciter": "minshawi", "seconds": 600},
    ]
    assert figures["peak_hour"] == 21
    assert (figures["heard"], figures["heard_count"], figures["khatms"], figures["surahs_completed"]) == (
        [1, 36],
        2,
        0,
        2,
    )
    assert figures["achievements"] == ["listened-1h", "first-surah"]
    assert figures["first_seen"] == at(2026, 11, 30, 21) and figures["last_seen"] == at(2026, 12, 2, 23, 25)
    assert [s["seconds"] for s in figures["recent_sessions"]] == [1200.0, 600.0, 1200.0]


def test_a_new_member_has_no_peak_hour_and_no_times() -> None:
    figures = member_figures(ListeningStats(1, 2), TODAY)
    assert figures["peak_hour"] is None and figures["first_seen"] is None and figures["seconds"] == 0
    assert figures["average_session_seconds"] == 0 and figures["favourite_surahs"] == []


def test_the_peak_hour_is_the_earliest_of_equals() -> None:
    hours = [0.0] * 24
    hours[7] = hours[19] = 60.0
    assert member_figures(ListeningStats(1, 2, seconds=120.0, hours=hours), TODAY)["peak_hour"] == 7


def test_guild_figures() -> None:
    stats = [
        member(),
        ListeningStats(10, 3, seconds=7200.0, khatms=2, daily={"2026-12-02": 300.0}),
        ListeningStats(10, 4),
    ]
    figures = guild_figures(stats, TODAY, top=1)
    json.dumps(figures)
    assert figures["members"] == 2 and figures["listeners_today"] == 2 and figures["khatms"] == 2
    assert figures["hours_total"] == 3.0
    assert figures["hours_today"] == 0.4  # 1,500 s
    assert figures["leaderboard"] == {
        "week": [{"rank": 1, "user_id": str(10**18 + 7), "seconds": 3000}],
        "month": [{"rank": 1, "user_id": str(10**18 + 7), "seconds": 1800}],
        "all": [{"rank": 1, "user_id": "3", "seconds": 7200}],
    }


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0 min"),
        (-5, "0 min"),
        (59.9, "0 min"),
        (2700, "45 min"),
        (3599, "59 min"),
        (3600, "1 h 00 min"),
        (3 * 3600 + 5 * 60 + 30, "3 h 05 min"),
        (99 * 3600 + 59 * 60, "99 h 59 min"),
        (100 * 3600, "100 h"),
        (123 * 3600 + 59 * 60, "123 h"),
    ],
)
def test_format_duration(seconds: float, shown: str) -> None:
    assert format_duration(seconds) == shown


def test_the_csv_reads_back_with_the_figures() -> None:
    out = io.StringIO()
    write_csv([member(), ListeningStats(11, 4)], out, TODAY)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 2
    first, empty = rows
    assert (first["guild_id"], first["user_id"]) == ("10", str(10**18 + 7))
    assert (first["seconds"], first["sessions"], first["average_session_seconds"]) == ("3600", "3", "1200")
    assert (first["longest_session_seconds"], first["today_seconds"], first["week_seconds"]) == (
        "1200",
        "1200",
        "3000",
    )
    assert (first["month_seconds"], first["day_streak"], first["heard_count"]) == ("1800", "3", "2")
    assert (first["khatms"], first["surahs_completed"], first["peak_hour"]) == ("0", "2", "21")
    assert (
        first["first_seen"] == "2026-11-30T21:00:00+00:00"
        and first["last_seen"] == "2026-12-02T21:20:00+00:00"
    )
    assert first["achievements"] == "listened-1h first-surah"
    blank = ("guild_id", "seconds", "peak_hour", "first_seen", "achievements")
    assert [empty[c] for c in blank] == ["11", "0", "", "", ""]
