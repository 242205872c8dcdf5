"""What a value must look like, one rule per kind, each accepting the TOML type or the text typed on a
command line, so config.toml, `config set`, `setup` flags and the wizard refuse the same values with the
same reason.

A rule returns the clean value or raises `BadValue` with a reason that quotes the value (never a token:
tokens have their own rules in `token.py`).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from quranbot.audio.library import Library, LibraryError

T = TypeVar("T")

DISCORD_ID = re.compile(r"[0-9]{17,20}")
RECITER_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
#: A week: backing up less often would leave the retention's weekly backups (and every finer one) empty.
MAX_BACKUP_MINUTES = 7 * 24 * 60
NONE_WORDS = {"", "none"}
TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}


class BadValue(ValueError):
    """The reason a value is refused, e.g. `"abc" is not a Discord id (a number of 17–20 digits)`."""


def shown(value: object) -> str:
    """A value as the admin would write it in TOML: strings quoted, numbers and booleans bare."""
    if isinstance(value, str | bool) or value is None:
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return json.dumps(list(value), ensure_ascii=False)
    return str(value)


def _whole_number(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def discord_id(value: object) -> int:
    number = _whole_number(value)
    if number is None or not DISCORD_ID.fullmatch(str(number)):
        raise BadValue(f"{shown(value)} is not a Discord id (a number of 17–20 digits)")
    return number


def backup_minutes(value: object) -> int:
    number = _whole_number(value)
    if number is None or not 1 <= number <= MAX_BACKUP_MINUTES:
        raise BadValue(
            f"{shown(value)} is not a whole number of minutes from 1 to {MAX_BACKUP_MINUTES} (a week)"
        )
    return number


def bounded_int(low: int, high: int, unit: str) -> Callable[[object], int]:
    """A whole number from `low` to `high` (e.g. a quiz deadline in seconds)."""

    def check(value: object) -> int:
        number = _whole_number(value)
        if number is None or not low <= number <= high:
            raise BadValue(f"{shown(value)} is not a whole number of {unit} from {low} to {high}")
        return number

    return check


#: A quiz question stays open this long at least and at most (seconds).
QUIZ_DEADLINE_RANGE = (10, 300)
#: Scheduled quizzes: every 5 minutes at most often, once a day at least.
QUIZ_INTERVAL_RANGE = (5, 1440)
quiz_deadline = bounded_int(*QUIZ_DEADLINE_RANGE, "seconds")
quiz_interval = bounded_int(*QUIZ_INTERVAL_RANGE, "minutes")
#: The listener role: given at once (0) or after this many minutes of listening, up to a day.
ROLE_AFTER_RANGE = (0, 1440)
role_after_minutes = bounded_int(*ROLE_AFTER_RANGE, "minutes")


#: A daily verse missed while the bot was down is still posted this many minutes late at most.
DAILY_VERSE_GRACE_RANGE = (0, 1440)
daily_verse_grace = bounded_int(*DAILY_VERSE_GRACE_RANGE, "minutes")

#: The audit file rotates at this many KiB (64 KiB to 100 MiB); this many rotated files are kept.
AUDIT_KIB_RANGE = (64, 102400)
AUDIT_KEEP_RANGE = (1, 99)
audit_max_kib = bounded_int(*AUDIT_KIB_RANGE, "KiB")
audit_keep = bounded_int(*AUDIT_KEEP_RANGE, "files")


#: Gateway shards: 1 is the same as no sharding (leave the keys out); Discord's own ceiling is far above.
SHARD_COUNT_RANGE = (2, 4096)


def shard_count(value: object) -> int:
    """How many gateway shards the bot runs as, over every machine; shard `(guild_id >> 22) % count`
    owns a guild."""
    number = _whole_number(value)
    low, high = SHARD_COUNT_RANGE
    if number == 1:
        raise BadValue("1 is no sharding: leave shard_count out (the state stays where it is)")
    if number is None or not low <= number <= high:
        raise BadValue(f"{shown(value)} is not a whole number of shards from {low} to {high}")
    return number


def shard_ids(value: object) -> tuple[int, ...]:
    """The shards this machine runs (`[0, 1]`, or `"0,1"` typed on a command line), each once; whether
    each is below shard_count is checked with both keys (`keys.check_shards`)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise BadValue(f"{shown(value)} is not a list of shard ids (such as [0, 1])")
    ids: list[int] = []
    for item in items:
        number = _whole_number(item)
        if number is None or number < 0:
            raise BadValue(f"{shown(item)} is not a shard id (a whole number from 0)")
        if number in ids:
            raise BadValue(f"shard {number} is listed twice")
        ids.append(number)
    return tuple(ids)


def time_of_day(value: object) -> str:
    """A time of day as `HH:MM` (24-hour), e.g. when the daily verse is posted."""
    from quranbot.daily_verse.timing import format_time_of_day, parse_time_of_day

    try:
        return format_time_of_day(parse_time_of_day(value if isinstance(value, str) else ""))
    except ValueError:
        raise BadValue(f'{shown(value)} is not a time of day (HH:MM, 24-hour, such as "07:30")') from None


def ayah_references(value: object) -> tuple[str, ...]:
    """A list of ayah references (`["2:255", "36:58"]`, or `"2:255, 36:58"` typed on a command line),
    each checked against the Tanzil data."""
    from quranbot.daily_verse.pool import parse_reference

    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise BadValue(f'{shown(value)} is not a list of ayah references (such as ["2:255", "36:58"])')
    refs: list[str] = []
    for item in items:
        try:
            refs.append(str(parse_reference(item)))
        except ValueError as exc:
            raise BadValue(str(exc)) from None
    if not refs:
        raise BadValue("the list of ayah references is empty (leave the key out for every ayah)")
    return tuple(dict.fromkeys(refs))


def language(value: object) -> str:
    """A language members are answered in: `en` or `ar` (quranbot/i18n/)."""
    from quranbot.i18n.catalog import Language, language_named

    chosen = language_named(value) if isinstance(value, str) else None
    if chosen is None:
        raise BadValue(
            f"{shown(value)} is not a language (one of {', '.join(lang.value for lang in Language)})"
        )
    return chosen.value


def listen_address(value: object) -> str:
    """Where `/metrics` listens: `HOST:PORT` with an IP address (a bare port: loopback), normalised."""
    from quranbot.metrics.address import BadAddress, parse_listen

    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str):
        raise BadValue(f'{shown(value)} is not an address and port (such as "127.0.0.1:9464")')
    try:
        return str(parse_listen(text))
    except BadAddress as exc:
        raise BadValue(f"{shown(value)} {exc.reason}") from None


def alert_level(value: object) -> str:
    """An alert level's name: the least serious alerts sent."""
    from quranbot.alerts.alert import Level

    names = [level.label for level in Level]
    if isinstance(value, str) and value.strip().lower() in names:
        return value.strip().lower()
    raise BadValue(f"{shown(value)} is not an alert level (one of {', '.join(names)})")


def alert_categories(value: object) -> tuple[str, ...]:
    """Kinds of alert (`["error", "system"]`, or `"error, system"` typed on a command line)."""
    from quranbot.alerts.alert import Category

    names = [category.value for category in Category]
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise BadValue(f'{shown(value)} is not a list of alert categories (such as ["error", "system"])')
    chosen = [item.strip().lower() for item in items if item.strip()]
    wrong = [item for item in chosen if item not in names]
    if wrong or not chosen:
        said = f"{shown(wrong[0])} is not" if wrong else "the list is empty: give at least one of"
        raise BadValue(f"{said} an alert category ({', '.join(names)}; leave the key out for all)")
    return tuple(name for name in names if name in chosen)


def boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise BadValue(f"{shown(value)} is not true or false")


def timezone_name(value: object) -> str:
    if isinstance(value, str) and value.strip():
        try:
            ZoneInfo(value.strip())
            return value.strip()
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory such as "Europe"
            pass
    raise BadValue(
        f'{shown(value)} is not a time zone (an IANA name such as "Europe/London" or "UTC"; '
        "`timedatectl list-timezones` lists them)"
    )


def reciter_slug(value: object) -> str:
    if isinstance(value, str) and len(value) <= 60 and RECITER_SLUG.fullmatch(value.strip()):
        return value.strip()
    raise BadValue(
        f"{shown(value)} is not a reciter folder name (lowercase letters, digits and dashes, "
        "as in the Folder column of `quranbot reciter list`)"
    )


def imported_reciter(value: object, library: Library) -> str:
    """The folder name of an imported reciter, given its folder or display name (as the admin types it)."""
    text = value.strip() if isinstance(value, str) else ""
    if text:
        with contextlib.suppress(LibraryError):
            return library.get(text).slug
    imported = ", ".join(r.slug for r in library.reciters())
    known = f"imported: {imported}" if imported else "none is imported yet: `quranbot reciter import SOURCE`"
    raise BadValue(f"{shown(value)} is not an imported reciter ({known})")


def optional(rule: Callable[[object], T]) -> Callable[[object], T | None]:
    """`rule`, except that nothing, an empty string or `none` clears the setting."""

    def check(value: object) -> T | None:
        if value is None or (isinstance(value, str) and value.strip().lower() in NONE_WORDS):
            return None
        return rule(value)

    return check
