"""The sender: one task on the event loop that turns queued alerts into messages and delivers them.

A burst is gathered for a moment (`window`) and posted as one message (layout.py says what fits and
counts the rest). Delivery obeys Discord: when a response says the bucket is empty
(`X-RateLimit-Remaining: 0`) the next request waits `X-RateLimit-Reset-After`; a 429 waits its
`retry_after` and sends the same message again. No answer or a 5xx is retried with exponential backoff
and jitter, a few times. A destination that answers 401, 403 or 404 is gone: the sender disables itself
with one local error line and sends nothing more (alerts stay in the local log).

While a message waits (rate limit, backoff) new alerts wait in the bounded queue, so a dead Discord
costs the bot a few hundred queued alerts at most, never memory or time on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time

from quranbot.alerts.alert import Alert, Category, Level
from quranbot.alerts.destination import Answer, Destination
from quranbot.alerts.layout import NOBODY, AlertMessage, Ping, layout
from quranbot.alerts.queue import AlertQueue

log = logging.getLogger(__name__)

#: After the first alert of a burst, wait this long for the rest, so they travel in one message.
BATCH_WINDOW = 0.5
#: Tries of one message when there is no answer or Discord errs (5xx), and the pauses between them.
MAX_ATTEMPTS = 5
BACKOFF_START, BACKOFF_MAX = 1.0, 30.0
#: A 429 without a `retry_after` (Discord always sends one) waits this long.
DEFAULT_RETRY_AFTER = 1.0


class AlertSender:
    def __init__(
        self,
        queue: AlertQueue,
        destination: Destination,
        ping: Ping = NOBODY,
        *,
        window: float = BATCH_WINDOW,
        max_attempts: int = MAX_ATTEMPTS,
        backoff: float = BACKOFF_START,
    ) -> None:
        self.queue = queue
        self.destination = destination
        self.ping = ping
        self.window = window
        self.max_attempts = max_attempts
        self.backoff = backoff
        #: The answer that disabled this destination (401/403/404); None while it works.
        self.disabled: Answer | None = None
        self.last_answer: Answer | None = None
        #: Messages delivered, and alerts that never reached Discord (disabled, not ready, given up).
        self.delivered = 0
        self.dropped = 0
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._hurry = False
        self._one_at_a_time = asyncio.Lock()
        #: time.monotonic() before which the rate-limit bucket is empty.
        self._not_before = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0

    # -- waking up ----------------------------------------------------------------------------------------
    def attach(self) -> None:
        """Be woken by the queue (call on the event loop that runs `run`)."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self.queue.on_ready = self._wake

    def _wake(self) -> None:
        """From any thread: the queue has something. Cheap on the loop's own thread (no self-pipe)."""
        if threading.get_ident() == self._thread:
            self._ready.set()
        elif self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: the bot has stopped
                self._loop.call_soon_threadsafe(self._ready.set)

    # -- the task -----------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Until cancelled: wait for alerts, gather the burst, post it."""
        self.attach()
        while True:
            self._ready.clear()
            if not self.queue.pending():
                self._idle.set()
                await self._ready.wait()
                self._idle.clear()
            if not self._hurry:
                await asyncio.sleep(self.window)
            alerts, turned_away = self.queue.take()
            try:
                await self.post(alerts, turned_away)
            except Exception:  # a bug here must not end alerting for the life of the bot
                log.exception("Could not post %d alert(s)", len(alerts) + turned_away)

    async def post(self, alerts: list[Alert], turned_away: int = 0) -> Answer | None:
        """One batch as one message; None when it was dropped unsent (disabled, or no destination)."""
        count = len(alerts) + turned_away
        if not count:
            return None
        if self.disabled is not None or not self.destination.ready():
            self.dropped += count
            return None
        answer = await self.deliver(layout(alerts, turned_away, self.ping))
        if answer.gone:
            log.error(
                "Alerts are disabled: %s answered %s. They stay in this log only; set a new destination "
                "(`quranbot setup`, or /setup log_channel) and restart the bot",
                self.destination.describe(),
                answer,
            )
        elif not answer.delivered:
            log.warning(
                "Could not deliver %d alert(s) to %s after %d tries (%s); they are in this log",
                count,
                self.destination.describe(),
                self.max_attempts,
                answer,
            )
        return answer

    async def flush(self, timeout: float) -> None:
        """Deliver what is queued now without the batching pause (at shutdown), for at most `timeout`."""
        self._hurry = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.queue.pending() or not self._idle.is_set():
                    await asyncio.sleep(0.02)

    # -- one message ----------------------------------------------------------------------------------
    async def deliver(self, message: AlertMessage) -> Answer:
        """Post `message`, obeying rate limits and retrying what may succeed later; the last answer."""
        async with self._one_at_a_time:
            attempt = 1
            while True:
                await asyncio.sleep(self._not_before - time.monotonic())
                answer = await self.destination.send(message)
                self.last_answer = answer
                self._pace(answer)
                if answer.delivered:
                    self.delivered += 1
                    return answer
                if answer.rate_limited:
                    continue  # `_pace` set the wait Discord asked for; the same message goes again
                if answer.gone:
                    self.disabled = answer
                    self.dropped += message.shown + message.more
                    return answer
                if not answer.retryable or attempt >= self.max_attempts:
                    self.dropped += message.shown + message.more
                    return answer
                pause = min(BACKOFF_MAX, self.backoff * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)
                log.debug("Alert delivery: %s; trying again in %.1f s", answer, pause)
                attempt += 1
                await asyncio.sleep(pause)

    def _pace(self, answer: Answer) -> None:
        """Remember when the next request may go, from what Discord said."""
        now = time.monotonic()
        if answer.rate_limited:
            wait = DEFAULT_RETRY_AFTER if answer.retry_after is None else answer.retry_after
            log.debug("Alert delivery rate limited: waiting %.2f s as Discord asked", wait)
            self._not_before = now + wait
        elif answer.remaining == 0 and answer.reset_after is not None:
            self._not_before = now + answer.reset_after

    async def send_test(self, text: str) -> Answer:
        """A test alert, pinging whoever errors ping, so the admin sees both arrive; the answer."""
        alert = Alert(Level.INFO, Category.SYSTEM, "quranbot alerts test", text, time.time())
        answer = await self.deliver(layout([alert], 0, self.ping, force_ping=True))
        if answer.delivered:
            self.disabled = None  # it works again (a channel fixed by /setup, say)
        return answer
