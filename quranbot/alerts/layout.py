"""A batch of alerts as one Discord message, within Discord's limits: at most 10 embeds, 4,096 characters
of description each and 6,000 characters in all; what does not fit is counted in "and N more".

The ping (the admin user or role) is in the content and in an explicit `allowed_mentions` naming only
them, so no text inside an alert (a log line saying "@everyone") can ever mention anyone.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from quranbot.alerts.alert import Alert

#: Discord's limits on one message (https://discord.com/developers/docs/resources/message#embed-limits).
EMBEDS_PER_MESSAGE = 10
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
CONTENT_LIMIT = 2000
#: An alert is shown only if at least this much of its text fits; otherwise it is counted instead.
MIN_DESCRIPTION = 200
ELLIPSIS = "…"
FENCE_OPEN, FENCE_CLOSE = "\n```\n", "\n```"
#: A traceback is added only if at least this much of it fits.
MIN_DETAIL = 40


@dataclass(frozen=True)
class Ping:
    """Who error and critical alerts mention: a user, a role, both or neither."""

    user_id: int | None = None
    role_id: int | None = None

    def mentions(self) -> str:
        parts = []
        if self.user_id is not None:
            parts.append(f"<@{self.user_id}>")
        if self.role_id is not None:
            parts.append(f"<@&{self.role_id}>")
        return " ".join(parts)

    def allowed_mentions(self) -> dict[str, Any]:
        return {
            "parse": [],
            "users": [] if self.user_id is None else [str(self.user_id)],
            "roles": [] if self.role_id is None else [str(self.role_id)],
        }


NOBODY = Ping()


@dataclass(frozen=True)
class AlertMessage:
    """One message to post; `shown + more` is the number of alerts it accounts for."""

    content: str
    embeds: list[dict[str, Any]] = field(default_factory=list)
    allowed_mentions: dict[str, Any] = field(default_factory=lambda: NOBODY.allowed_mentions())
    shown: int = 0
    more: int = 0

    def payload(self) -> dict[str, Any]:
        return {"content": self.content, "embeds": self.embeds, "allowed_mentions": self.allowed_mentions}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - len(ELLIPSIS))] + ELLIPSIS


def embed(alert: Alert, room: int) -> dict[str, Any]:
    """The alert as an embed whose title, description and footer together take at most `room`."""
    title = clip(f"{alert.level.label.upper()} · {alert.source}", TITLE_LIMIT)
    footer = alert.category.value
    space = min(DESCRIPTION_LIMIT, room - len(title) - len(footer))
    text = clip(alert.text, space)
    room_for_detail = space - len(text) - len(FENCE_OPEN) - len(FENCE_CLOSE)
    if alert.detail and room_for_detail > MIN_DETAIL:
        detail = alert.detail.replace("```", "ˋˋˋ")  # a fence inside would end the code block
        if len(detail) > room_for_detail:  # the end of a traceback says what failed: keep the end
            detail = ELLIPSIS + detail[len(detail) - room_for_detail + len(ELLIPSIS) :]
        text = f"{text}{FENCE_OPEN}{detail}{FENCE_CLOSE}"
    return {
        "title": title,
        "description": text,
        "color": alert.level.colour,
        "footer": {"text": footer},
        "timestamp": datetime.datetime.fromtimestamp(alert.created, datetime.UTC).isoformat(),
    }


def embed_size(item: dict[str, Any]) -> int:
    return len(item["title"]) + len(item["description"]) + len(item["footer"]["text"])


def layout(
    alerts: Sequence[Alert], turned_away: int = 0, ping: Ping = NOBODY, *, force_ping: bool = False
) -> AlertMessage:
    """The message for a batch: the first alerts that fit as embeds, the rest (and `turned_away`, the
    ones a full queue counted) as "and N more"; the ping when an alert is an error (or `force_ping`)."""
    embeds: list[dict[str, Any]] = []
    used = 0
    for alert in alerts:
        room = EMBED_TOTAL_LIMIT - used
        if len(embeds) == EMBEDS_PER_MESSAGE or room < MIN_DESCRIPTION + TITLE_LIMIT:
            break
        item = embed(alert, room)
        embeds.append(item)
        used += embed_size(item)
    shown = len(embeds)
    more = len(alerts) - shown + turned_away
    pinging = force_ping or any(a.level.pings for a in alerts)
    mentions = ping.mentions() if pinging else ""
    lines = [mentions] if mentions else []
    if more:
        lines.append(f"… and {more} more alert{'s' if more != 1 else ''} (kept in the bot's log)")
    return AlertMessage(
        content=clip("\n".join(lines), CONTENT_LIMIT),
        embeds=embeds,
        allowed_mentions=ping.allowed_mentions() if mentions else NOBODY.allowed_mentions(),
        shown=shown,
        more=more,
    )
