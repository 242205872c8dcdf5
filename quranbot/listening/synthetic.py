"""Realistic listening records at any scale, made by the real code, for benchmarks and soak tests.

A store with 10,000 members behaves (file size, flush time, start-up time) like a month of real use
only if each record holds what a month of listening leaves: 35 days of daily seconds, hours, sessions,
surahs, khatm progress and achievements. Building that through `open_session`/`accrue`/`close_session`,
`credit_surah` and `earn` (what the bot itself calls) keeps the records true to the code; building
every member that way would take minutes, so a few templates are built and the rest are copies with
their own id and scaled figures. Used by bench/listening.py and tests/soak/test_crash_safety.py.
"""

from __future__ import annotations

import datetime
import json
import random
from typing import Any
from zoneinfo import ZoneInfo

from quranbot.listening.accrual import accrue, close_session, open_session
from quranbot.listening.achievements import earn
from quranbot.listening.khatm import credit_surah
from quranbot.store.records import ListeningStats

GUILD = 1
FIRST_USER = 10**17  # Discord ids are 18 digits, as the JSON keys are
TZ = ZoneInfo("Europe/London")
RECITERS = ("alafasy", "sudais", "husary", "minshawi", "shuraim", "ghamdi")


def template(
    rng: random.Random,
    user_id: int,
    last_day: datetime.date,
    *,
    guild_id: int = GUILD,
    tz: ZoneInfo = TZ,
) -> ListeningStats:
    """One member's record, by the real code: a session a day for 35 days, then 30 surahs in full."""
    stats = ListeningStats(guild_id, user_id)
    reciters = rng.sample(RECITERS, rng.randint(1, 3))
    surahs = rng.sample(range(1, 115), 10)
    for back in range(34, -1, -1):
        day = last_day - datetime.timedelta(days=back)
        at = datetime.time(rng.randint(0, 21), rng.randint(0, 59))
        start = datetime.datetime.combine(day, at, tz).timestamp()
        open_session(stats, start)
        moment, end, reciter = start, start + rng.uniform(600, 3600), rng.choice(reciters)
        while moment < end:
            step = rng.uniform(15, 300)
            accrue(stats, moment, moment + step, tz=tz, reciter=reciter, surah=rng.choice(surahs))
            moment += step
        close_session(stats)
    for surah in rng.sample(range(1, 115), 30):
        credit_surah(stats, surah)
    earn(stats, last_day)
    return stats


def member_documents(
    templates: list[dict[str, Any]],
    members: int,
    own: set[int],
    rng: random.Random,
    *,
    first_user: int = FIRST_USER,
) -> dict[int, dict[str, Any]]:
    """`members` documents by user id; those in `own` are deep copies (they will change in place).

    The others share their template's lists and dicts (JSON encodes them the same), which keeps
    100,000 members within memory."""
    documents: dict[int, dict[str, Any]] = {}
    for index in range(members):
        user_id = first_user + index
        base = templates[index % len(templates)]
        document = json.loads(json.dumps(base)) if user_id in own else dict(base)
        factor = rng.uniform(0.5, 1.5)
        document["user_id"] = user_id
        document["seconds"] = base["seconds"] * factor
        document["daily"] = {day: seconds * factor for day, seconds in base["daily"].items()}
        documents[user_id] = document
    return documents
