"""The daily verse's rules, free of Discord: which ayah comes next, and when a post is due."""

from __future__ import annotations

import datetime
import random
from zoneinfo import ZoneInfo

import pytest

from quranbot.config.keys import from_document
from quranbot.config.schema import ConfigError
from quranbot.daily_verse.pool import next_verse, parse_pool, parse_reference, whole_quran
from quranbot.daily_verse.timing import due_slot, latest_slot, parse_time_of_day
from quranbot.quran.metadata import AyahRef

UTC = ZoneInfo("UTC")
LONDON = ZoneInfo("Europe/London")
AT_7 = datetime.time(7, 0)


def at(text: str, tz: ZoneInfo = UTC) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=tz)


# -- the pool ---------------------------------------------------------------------------------------------
def test_every_ayah_once_before_any_repeats() -> None:
    pool = parse_pool(["1:1", "1:2", "1:3", "112:1"])
    rng, posted = random.Random(1), []
    for _ in range(4):
        index, new_round = next_verse(pool, posted, rng)
        assert not new_round
        posted.append(index)
    assert sorted(posted) == sorted(pool)
    index, new_round = next_verse(pool, posted, rng)
    assert new_round and index != posted[-1]  # a new round, never the last one twice in a row


def test_the_whole_quran_is_the_default_pool() -> None:
    assert len(whole_quran()) == 6236
    index, _ = next_verse(whole_quran(), range(6235), random.Random(0))
    assert index == 6235  # the only one left


def test_a_one_ayah_pool_repeats_it() -> None:
    pool = parse_pool(["2:255"])
    assert next_verse(pool, list(pool), random.Random(0)) == (pool[0], True)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2:287", "has 286 ayahs; 287 is out of range"),
        ("115:1", "115"),
        ("2 255", "is not an ayah reference"),
        ("", "is not an ayah reference"),
    ],
)
def test_a_bad_reference_says_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_reference(text)


def test_references_are_kept_in_order_without_repeats() -> None:
    assert parse_pool([" 36:58", "2:255", "36:58"]) == (parse_pool(["36:58"])[0], parse_pool(["2:255"])[0])
    assert parse_reference(" 2 : 255 ") == AyahRef(2, 255)


# -- when ---------------------------------------------------------------------------------------------------
def test_before_the_time_of_day_yesterdays_slot_is_the_latest() -> None:
    assert latest_slot(at("2026-12-04 06:59"), AT_7, UTC) == at("2026-12-03 07:00")
    assert latest_slot(at("2026-12-04 07:00"), AT_7, UTC) == at("2026-12-04 07:00")


def test_due_once_per_local_day() -> None:
    now = at("2026-12-04 07:00:01")
    assert due_slot(now, AT_7, UTC, "2026-12-03") == (at("2026-12-04 07:00"), True)
    assert due_slot(now, AT_7, UTC, "2026-12-04") is None  # done: a restart does not post again
    assert due_slot(at("2026-12-04 06:00"), AT_7, UTC, "2026-12-03") is None  # before today's time


def test_a_missed_post_is_made_within_the_grace_and_skipped_after_it() -> None:
    grace = datetime.timedelta(hours=2)
    assert due_slot(at("2026-12-04 08:59"), AT_7, UTC, "2026-12-01", grace) == (at("2026-12-04 07:00"), True)
    late = due_slot(at("2026-12-04 09:01"), AT_7, UTC, "2026-12-01", grace)
    assert late == (at("2026-12-04 07:00"), False)  # skipped, and only today's: never a backlog


def test_a_wall_clock_step_backwards_after_the_post_does_not_post_again() -> None:
    assert due_slot(at("2026-12-04 06:30"), AT_7, UTC, "2026-12-04") is None  # NTP stepped back 1 h


def test_a_wall_clock_step_forwards_past_the_time_makes_the_post() -> None:
    assert due_slot(at("2026-12-04 08:00"), AT_7, UTC, "2026-12-03") == (at("2026-12-04 07:00"), True)


def test_the_guilds_clock_decides_the_day() -> None:
    # 23:30 in London on 30 June is 22:30 UTC: the post of 23:00 local is due, dated the local day
    slot, _ = due_slot(at("2026-06-30 22:30"), datetime.time(23, 0), LONDON, "") or (None, None)
    assert (
        slot is not None
        and slot.date().isoformat() == "2026-06-30"
        and slot.utcoffset() == datetime.timedelta(hours=1)
    )


def test_a_time_the_spring_change_skips_is_still_posted_that_day() -> None:
    # 01:30 does not exist in London on 29 March 2026 (01:00 GMT becomes 02:00 BST)
    slot, in_time = due_slot(at("2026-03-29 03:00", LONDON), datetime.time(1, 30), LONDON, "2026-03-28") or (
        None,
        None,
    )
    assert slot is not None and slot.date().isoformat() == "2026-03-29" and in_time


@pytest.mark.parametrize(
    ("text", "parsed"), [("07:30", (7, 30, 0)), ("7:05", (7, 5, 0)), ("23:59:30", (23, 59, 30))]
)
def test_times_of_day(text: str, parsed: tuple[int, int, int]) -> None:
    assert parse_time_of_day(text) == datetime.time(*parsed)


@pytest.mark.parametrize("text", ["24:00", "7", "07:60", "noon", ""])
def test_a_bad_time_of_day_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_time_of_day(text)


# -- config.toml ------------------------------------------------------------------------------------------
def test_config_holds_the_pool_the_grace_and_each_guilds_channel_and_time() -> None:
    config = from_document(
        {
            "daily_verse": {"pool": ["2:255", "36:58"], "grace_minutes": 30},
            "guilds": [
                {"id": 111111111111111111, "voice_channel": 222222222222222222,
                 "daily_verse_channel": 333333333333333333, "daily_verse_time": "6:45"}
            ],
        }
    )  # fmt: skip
    assert config.daily_verse_pool == ("2:255", "36:58") and config.daily_verse_grace_minutes == 30
    assert (config.guilds[0].daily_verse_channel, config.guilds[0].daily_verse_time) == (
        333333333333333333,
        "06:45",
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"daily_verse": {"pool": ["2:255", "2:300"]}},
            "daily_verse.pool: Surah 2 (Al-Baqara) has 286 ayahs",
        ),
        ({"daily_verse": {"pool": "2:255"}}, None),
        ({"daily_verse": {"pool": []}}, "daily_verse.pool: the list of ayah references is empty"),
        ({"daily_verse": {"grace_minutes": 2000}}, "daily_verse.grace_minutes"),
        (
            {
                "guilds": [
                    {
                        "id": 111111111111111111,
                        "voice_channel": 222222222222222222,
                        "daily_verse_time": "25:00",
                    }
                ]
            },
            'guilds[0].daily_verse_time: "25:00" is not a time of day',
        ),
    ],
)
def test_config_refuses_bad_daily_verse_values(document: dict, message: str | None) -> None:  # type: ignore[type-arg]
    if message is None:
        assert from_document(document).daily_verse_pool == ("2:255",)  # a string is a list of one
        return
    with pytest.raises(ConfigError) as refused:
        from_document(document)
    assert message in str(refused.value)


def test_a_new_setting_starts_at_its_next_time_of_day() -> None:
    set_at = at("2026-12-04 09:00")  # /setup at 09:00 with a time of 07:00: not today, tomorrow
    assert due_slot(at("2026-12-04 09:00:01"), AT_7, UTC, "", not_before=set_at) is None
    assert due_slot(at("2026-12-05 07:00"), AT_7, UTC, "", not_before=set_at) == (
        at("2026-12-05 07:00"),
        True,
    )
    # set to 20:00 the same morning, nothing posted yet today: posted today at 20:00
    later = datetime.time(20, 0)
    assert due_slot(at("2026-12-04 20:00"), later, UTC, "2026-12-03", not_before=set_at) is not None
