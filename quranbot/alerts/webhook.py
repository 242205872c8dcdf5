"""Alerts through a Discord webhook, posted with plain aiohttp (discord.py's dependency).

Why not discord.py's `Webhook.from_url`: in 2.7.1 it logs every request's URL at debug level, and that
URL carries the webhook's token; it also retries and sleeps by itself (429s, 5xx), which would hide the
answer `quranbot alerts test` reports and the rate-limit headers the sender paces by. One POST, one
`Answer`, and nothing here ever puts the URL into an exception or a log line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import aiohttp

from quranbot.alerts.destination import NO_ANSWER, Answer
from quranbot.alerts.layout import AlertMessage
from quranbot.alerts.webhook_url import masked_webhook
from quranbot.secret import Secret

#: One request may take this long; then it counts as no answer and is retried.
REQUEST_TIMEOUT = 15.0


class WebhookDestination:
    def __init__(self, url: Secret, session: aiohttp.ClientSession) -> None:
        self._url = url
        self._session = session

    def describe(self) -> str:
        return f"webhook {masked_webhook(self._url)}"

    def ready(self) -> bool:
        return True

    async def send(self, message: AlertMessage) -> Answer:
        try:
            async with self._session.post(
                self._url.reveal(),
                params={"wait": "true"},
                json=message.payload(),
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            ) as response:
                body = await response.read()
                return answer(response.status, response.reason or "", response.headers, body)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # The exception's text may hold the URL: only its kind is kept.
            return Answer(NO_ANSWER, f"no answer ({type(exc).__name__})")


def answer(status: int, phrase: str, headers: Mapping[str, str], body: bytes) -> Answer:
    """An `Answer` from a response's status, headers and body (Discord's JSON error, if any)."""
    get = headers.get
    data: object = None
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    message = data.get("message") if isinstance(data, dict) else None
    code = data.get("code") if isinstance(data, dict) else None
    reason = f"{status} {message or phrase}".strip() + (f" ({code})" if code else "")
    retry_after = data.get("retry_after") if isinstance(data, dict) else None
    if retry_after is None and status == 429:
        retry_after = _number(get("Retry-After"))
    remaining = _number(get("X-RateLimit-Remaining"))
    return Answer(
        status=status,
        reason=reason,
        retry_after=None if retry_after is None else float(retry_after),
        remaining=None if remaining is None else int(remaining),
        reset_after=_number(get("X-RateLimit-Reset-After")),
    )


def _number(value: object) -> float | None:
    try:
        return None if value is None else float(str(value))
    except ValueError:
        return None
