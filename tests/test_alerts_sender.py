"""The alert pipeline without the bot: the handler and its bounded queue, the message layout within
Discord's limits (checked by the sandbox, which refuses what Discord refuses), and the sender against a
real sandbox webhook over HTTPS: paced by the rate-limit headers, 5xx retried with backoff."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import aiohttp

from quranbot.alerts.alert import Alert, Category, Level
from quranbot.alerts.handler import AlertHandler
from quranbot.alerts.layout import EMBED_TOTAL_LIMIT, Ping, layout
from quranbot.alerts.queue import AlertQueue
from quranbot.alerts.sender import AlertSender
from quranbot.alerts.system_event import system_event
from quranbot.alerts.webhook import WebhookDestination
from quranbot.log_setup import RedactingFilter
from quranbot.sandbox.limits import check_message, embed_size
from quranbot.sandbox.server import Sandbox
from quranbot.secret import Secret

ROUTE = "/webhooks/{webhook_id}/{token}"


def alert(text: str, level: Level = Level.ERROR, detail: str = "") -> Alert:
    return Alert(level, Category.ERROR, "quranbot.test", text, time.time(), detail)


def test_a_full_queue_counts_what_it_turns_away_from_any_thread() -> None:
    queue = AlertQueue(capacity=50)
    wakes: list[int] = []
    queue.on_ready = lambda: wakes.append(threading.get_ident())
    handler = AlertHandler(queue, RedactingFilter([Secret("sekrit-token")]))
    logger = logging.getLogger("quranbot.test.queue")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        threads = [
            threading.Thread(target=lambda: [logger.error("error sekrit-token %d", n) for n in range(250)])
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        logger.warning("a warning is not an alert")
        system_event(logger, logging.INFO, "but a system event is")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    items, turned_away = queue.take()
    assert len(items) == 50 and turned_away == 951  # 1,000 errors and the system event: none lost
    assert len(wakes) == 1  # one wake-up for the whole burst
    assert all("sekrit-token" not in a.text and "error ********" in a.text for a in items)
    assert handler.errors_seen == 1000
    assert queue.take() == ([], 0)


def test_a_batch_is_laid_out_within_discords_limits_and_counts_the_rest() -> None:
    traceback = "Traceback (most recent call last):\n" + "  File x, line 1\n" * 400 + "ValueError: the end"
    batch = [alert(f"long error {n} " + "x" * 3000, detail=traceback) for n in range(30)]
    message = layout(batch, turned_away=7, ping=Ping(111111111111111111, 222222222222222222))
    check_message(message.payload())  # what the sandbox (and Discord) would refuse
    assert message.shown + message.more == 37 and message.more == 37 - message.shown
    assert 1 <= message.shown <= 10
    assert sum(embed_size(e) for e in message.embeds) <= EMBED_TOTAL_LIMIT
    assert message.content.startswith("<@111111111111111111> <@&222222222222222222>")
    assert f"and {message.more} more alerts (kept in the bot's log)" in message.content
    assert message.allowed_mentions == {
        "parse": [], "users": ["111111111111111111"], "roles": ["222222222222222222"]
    }  # fmt: skip
    first = message.embeds[0]["description"]
    assert first.startswith("long error 0 ") and first.rstrip("`\n").endswith("ValueError: the end")

    info = layout([alert("started", Level.INFO)], ping=Ping(111111111111111111))
    assert info.content == "" and info.allowed_mentions["users"] == []  # only errors ping


async def test_the_sender_is_paced_by_the_headers_and_never_meets_a_429(sandbox: Sandbox) -> None:
    hook = await sandbox.create_webhook(sandbox.default.general)
    async with aiohttp.ClientSession(connector=sandbox.connector()) as session:
        sender = AlertSender(AlertQueue(), WebhookDestination(Secret(hook.url), session), window=0)
        started = time.monotonic()
        answers = [await sender.post([alert(f"message {n}")]) for n in range(12)]
        elapsed = time.monotonic() - started
    assert all(a is not None and a.delivered for a in answers)
    assert len(sandbox.messages(sandbox.default.general)) == 12 and sender.delivered == 12
    assert sandbox.rest.webhook_buckets[hook.id].refused == 0
    assert elapsed >= 3.9  # 5 per 2 s: the third window opens 4 s after the first


async def test_5xx_and_no_answer_are_retried_with_backoff_then_given_up(sandbox: Sandbox) -> None:
    hook = await sandbox.create_webhook(sandbox.default.general)
    async with aiohttp.ClientSession(connector=sandbox.connector()) as session:
        sender = AlertSender(
            AlertQueue(),
            WebhookDestination(Secret(hook.url), session),
            window=0,
            backoff=0.05,
            max_attempts=4,
        )
        sandbox.faults.fail_rest("POST", ROUTE, 503, times=2)
        answer = await sender.post([alert("after two 503s")])
        assert answer is not None and answer.delivered
        sandbox.faults.fail_rest("POST", ROUTE, 502, times=10)
        answer = await sender.post([alert("never")])
        assert answer is not None and answer.status == 502 and answer.retryable
        assert sender.disabled is None and sender.dropped == 1
    statuses = [status for _, route, status in sandbox.rest.requests if route == ROUTE]
    assert statuses == [503, 503, 200, 502, 502, 502, 502]
    assert [m.embeds[0]["description"] for m in sandbox.messages(sandbox.default.general)] == [
        "after two 503s"
    ]

    # nothing listening at all: no answer, retried the same way, and the URL in no answer's text
    dead = WebhookDestination(Secret(hook.url.replace("discord.com", "127.0.0.1:9")), aiohttp.ClientSession())
    try:
        lost = await AlertSender(AlertQueue(), dead, window=0, backoff=0.01, max_attempts=2).post(
            [alert("x")]
        )
    finally:
        await dead._session.close()
    assert lost is not None and lost.status == 0 and hook.token not in lost.reason


async def test_the_running_sender_batches_a_burst_into_one_message(sandbox: Sandbox) -> None:
    hook = await sandbox.create_webhook(sandbox.default.general)
    queue = AlertQueue()
    async with aiohttp.ClientSession(connector=sandbox.connector()) as session:
        sender = AlertSender(queue, WebhookDestination(Secret(hook.url), session), window=0.3)
        task = asyncio.create_task(sender.run())
        await asyncio.sleep(0)
        for n in range(25):
            queue.put(alert(f"burst {n}"))
        await sender.flush(5)
        task.cancel()
    (message,) = sandbox.messages(sandbox.default.general)
    assert len(message.embeds) == 10 and "and 15 more alerts" in message.content
