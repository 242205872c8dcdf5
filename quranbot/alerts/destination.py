"""Where alerts go, and what came back: the sender needs only `send()` and the `Answer`, so a webhook
(webhook.py) and a channel the bot posts to itself (quranbot/bot/alert_channel.py) are paced, retried and
disabled by the same code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from quranbot.alerts.layout import AlertMessage

#: No HTTP answer at all: a network error or a time-out.
NO_ANSWER = 0
#: Answers that say the destination is gone or refuses us for good: retrying cannot help.
GONE = frozenset({401, 403, 404})


@dataclass(frozen=True)
class Answer:
    """Discord's answer to one post: the status and its reason as an admin reads them, and the pacing
    Discord asked for. `reason` never holds the webhook URL."""

    status: int
    reason: str
    #: Seconds to wait before trying again (a 429's `retry_after`).
    retry_after: float | None = None
    #: The rate-limit bucket after this request: requests left, and seconds until it refills.
    remaining: int | None = None
    reset_after: float | None = None

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        return self.status in GONE

    @property
    def rate_limited(self) -> bool:
        return self.status == 429

    @property
    def retryable(self) -> bool:
        """Worth another try after a pause: no answer, or Discord's own trouble (5xx)."""
        return self.status == NO_ANSWER or self.status >= 500

    def __str__(self) -> str:
        return self.reason


class Destination(Protocol):
    #: How the admin knows it: "webhook https://discord.com/api/webhooks/123…/AbCd…(68 chars)", "#alerts".
    def describe(self) -> str: ...

    def ready(self) -> bool:
        """Configured now (a channel set by /setup may come later); alerts taken while not are dropped."""
        ...

    async def send(self, message: AlertMessage) -> Answer: ...
