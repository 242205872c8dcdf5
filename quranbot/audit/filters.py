"""Which audit records to show: by guild, user, time, source and result (`quranbot audit`, the socket).

`since` is a duration back from now (`90s`, `30m`, `2h`, `7d`, `2w`) or an ISO date or time
(`2026-12-01`, `2026-12-01T18:30`); a date or time without a zone is the machine's local time, as an
admin at the terminal reads it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass

from quranbot.audit.record import RESULTS, SOURCES, AuditRecord

DURATION = re.compile(r"(?P<count>\d+)\s*(?P<unit>[smhdw])")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: datetime.datetime | None = None) -> datetime.datetime:
    """The moment `text` names (a duration back from `now`, or an ISO date or time); ValueError if none."""
    now = now or datetime.datetime.now(datetime.UTC)
    value = text.strip()
    match = DURATION.fullmatch(value.lower())
    if match is not None:
        return now - datetime.timedelta(seconds=int(match["count"]) * UNITS[match["unit"]])
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (such as 30m, 2h, 7d) nor an ISO date or time "
            "(such as 2026-12-01 or 2026-12-01T18:30)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the machine's local time
    return moment


@dataclass(frozen=True)
class AuditFilter:
    """Every condition given must hold; None means any."""

    guild: str | None = None
    #: A Discord user id (or a Unix uid), or a name, any case.
    user: str | None = None
    since: datetime.datetime | None = None
    source: str | None = None
    result: str | None = None

    def __post_init__(self) -> None:
        if self.source is not None and self.source not in SOURCES:
            raise ValueError(f"source {self.source!r} is not one of {', '.join(SOURCES)}")
        if self.result is not None and self.result not in RESULTS:
            raise ValueError(f"result {self.result!r} is not one of {', '.join(RESULTS)}")

    def matches(self, record: AuditRecord) -> bool:
        if self.guild is not None and record.guild_id != self.guild:
            return False
        if self.user is not None and not _is_user(self.user, record):
            return False
        if self.source is not None and record.source != self.source:
            return False
        if self.result is not None and record.result != self.result:
            return False
        return self.since is None or record.moment >= self.since


def _is_user(wanted: str, record: AuditRecord) -> bool:
    """The actor's id, or their name in any case."""
    return wanted == record.actor_id or wanted.casefold() == record.actor.casefold()


def select(records: Iterable[AuditRecord], wanted: AuditFilter, limit: int = 0) -> list[AuditRecord]:
    """The records that match, oldest first; with `limit`, only the newest `limit` of them."""
    chosen = [record for record in records if wanted.matches(record)]
    return chosen[-limit:] if limit > 0 else chosen
