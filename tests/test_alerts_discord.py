"""Alerts with the real bot on the sandbox: what the admin sees arrive in Discord, and what never does.

The bot runs in this test's event loop with its alert handler on the root logger, so an error logged here
is an error logged in the bot. Webhook messages are read back from the sandbox's channel (they carry the
webhook's id); the sandbox counts every request a webhook received and every 429 it answered.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import re
import time
from pathlib import Path

import pytest
from processes import finish, start_quranbot
from running_bot import RunningBot
from test_panel import until

from quranbot.alerts.alert import Level
from quranbot.alerts.layout import DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT, EMBEDS_PER_MESSAGE
from quranbot.alerts.settings import AlertSettings
from quranbot.alerts.webhook_url import write_webhook_url
from quranbot.control.client import ControlClient
from quranbot.paths import Paths
from quranbot.sandbox.limits import embed_size
from quranbot.sandbox.model import Message, Webhook
from quranbot.sandbox.server import Sandbox
from quranbot.secret import Secret

MORE = re.compile(r"and (\d+) more alerts?")
WEBHOOK_ROUTE = "/webhooks/{webhook_id}/{token}"
test_log = logging.getLogger("quranbot.test.trouble")


def from_hook(sandbox: Sandbox, hook: Webhook) -> list[Message]:
    channel = sandbox.world.channel(hook.channel_id)[1]
    return [m for m in sandbox.messages(channel) if m.payload.get("webhook_id") == str(hook.id)]


def posted_text(messages: list[Message]) -> str:
    return "\n".join(json.dumps(m.payload) for m in messages)


def described(messages: list[Message], text: str) -> list[Message]:
    return [m for m in messages if any(text in e.get("description", "") for e in m.embeds)]


def more(message: Message) -> int:
    found = MORE.search(message.content)
    return int(found.group(1)) if found else 0


def alerts_to(hook: Webhook, **settings: object) -> AlertSettings:
    return AlertSettings(webhook=Secret(hook.url), **settings)  # type: ignore[arg-type]


def alert_log_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name.startswith("quranbot.alerts") and r.levelno >= level
    ]


async def test_an_error_arrives_with_a_ping_between_started_and_stopping(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    d = sandbox.default
    admin = d.admin.user.id
    hook = await sandbox.create_webhook(d.general)
    bot = RunningBot(
        sandbox,
        home,
        voice_channels=(d.voice.id,),
        alerts=alerts_to(hook, ping_user=admin),
    )
    async with bot:
        await until(
            lambda: described(from_hook(sandbox, hook), "QuranBot started: logged in as"), 10, "started"
        )
        (started,) = from_hook(sandbox, hook)
        assert started.payload["mentions"] == [] and f"<@{admin}>" not in started.content  # info: no ping
        assert (
            started.embeds[0]["color"] == Level.INFO.colour
            and started.embeds[0]["footer"]["text"] == "system"
        )
        test_log.error("The disk is on fire: %s", "sda1")
        await until(lambda: described(from_hook(sandbox, hook), "The disk is on fire: sda1"), 5, "the error")
    (error,) = described(from_hook(sandbox, hook), "The disk is on fire: sda1")
    assert f"<@{admin}>" in error.content
    assert [user["id"] for user in error.payload["mentions"]] == [str(admin)]  # pinged: admin only
    (embed,) = error.embeds
    assert embed["title"] == "ERROR · quranbot.test.trouble" and embed["color"] == Level.ERROR.colour
    assert embed["footer"]["text"] == "error"
    # the stop waited for its own alert to go out before closing
    assert described(from_hook(sandbox, hook), "Stopping: leaving voice")
    assert from_hook(sandbox, hook)[-1] is described(from_hook(sandbox, hook), "Stopping: leaving voice")[0]
    assert alert_log_lines(caplog, logging.WARNING) == []


async def test_a_burst_of_500_errors_arrives_as_a_few_messages_that_count_the_rest(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    d = sandbox.default
    hook = await sandbox.create_webhook(d.general)
    async with RunningBot(sandbox, home, alerts=alerts_to(hook, ping_user=d.admin.user.id)):
        await until(lambda: described(from_hook(sandbox, hook), "QuranBot started"), 10, "started")
        before = len(from_hook(sandbox, hook))
        burst_started = time.monotonic()
        for n in range(500):
            test_log.error("Burst error number %d", n)
            if n % 25 == 24:
                await asyncio.sleep(0.1)  # 500 in about 2 s, the loop free in between
        burst_seconds = time.monotonic() - burst_started

        def accounted() -> int:
            burst = from_hook(sandbox, hook)[before:]
            return sum(len(m.embeds) + more(m) for m in burst)

        await until(lambda: accounted() >= 500, 10, "every error shown or counted")
        await asyncio.sleep(1.0)  # nothing more comes
    burst = from_hook(sandbox, hook)[before:]
    burst = [m for m in burst if not described([m], "Stopping")]
    assert burst_seconds < 3.0
    assert sum(len(m.embeds) + more(m) for m in burst) == 500  # each error exactly once
    assert 2 <= len(burst) <= 8, [len(m.embeds) for m in burst]
    shown = [e["description"] for m in burst for e in m.embeds]
    numbers = [int(re.search(r"number (\d+)", text).group(1)) for text in shown]  # type: ignore[union-attr]
    assert numbers == sorted(numbers) and numbers[0] == 0  # the first of each batch, in order
    for message in burst:
        assert len(message.embeds) <= EMBEDS_PER_MESSAGE
        assert sum(embed_size(e) for e in message.embeds) <= EMBED_TOTAL_LIMIT
        assert all(len(e["description"]) <= DESCRIPTION_LIMIT for e in message.embeds)
        if more(message):
            assert f"and {more(message)} more alerts (kept in the bot's log)" in message.content
    assert sandbox.rest.webhook_buckets[hook.id].refused == 0  # paced by the headers: never a 429
    assert alert_log_lines(caplog, logging.WARNING) == []  # nothing failed in the bot
    # every error is still in the local log
    assert sum("Burst error number" in r.getMessage() for r in caplog.records) == 500


async def test_a_429_is_waited_out_and_the_alert_arrives_after_it(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    d = sandbox.default
    hook = await sandbox.create_webhook(d.general)
    async with RunningBot(sandbox, home, alerts=alerts_to(hook)):
        await until(lambda: described(from_hook(sandbox, hook), "QuranBot started"), 10, "started")
        sandbox.faults.fail_rest("POST", WEBHOOK_ROUTE, 429, retry_after=1.5)
        logged = time.monotonic()
        test_log.error("After the rate limit")
        await until(lambda: described(from_hook(sandbox, hook), "After the rate limit"), 8, "the alert")
        waited = time.monotonic() - logged
    assert waited >= 1.5  # Discord's retry_after, obeyed
    webhook_answers = [status for method, route, status in sandbox.rest.requests if route == WEBHOOK_ROUTE]
    assert 429 in webhook_answers and webhook_answers[webhook_answers.index(429) + 1] == 200
    assert alert_log_lines(caplog, logging.WARNING) == []


async def test_a_deleted_webhook_is_disabled_once_and_never_called_again(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    d = sandbox.default
    hook = await sandbox.create_webhook(d.general)
    await sandbox.delete_webhook(hook)
    async with RunningBot(sandbox, home, voice_channels=(d.voice.id,), alerts=alerts_to(hook)):
        await until(lambda: hook.requests == 1, 10, "the first alert (started) tried")
        await until(lambda: alert_log_lines(caplog, logging.ERROR), 5, "the local error")
        for n in range(3):
            test_log.error("Nobody will read this %d", n)
            await asyncio.sleep(0.7)  # separate batches: each would be a request
    assert hook.requests == 1
    (line,) = alert_log_lines(caplog, logging.ERROR)
    assert "Alerts are disabled: webhook https://discord.com/api/webhooks/" in line
    assert "answered 404 Unknown Webhook (10015)" in line
    assert hook.token not in caplog.text and hook.token[:10] not in line
    assert from_hook(sandbox, hook) == []


async def test_the_token_and_the_webhook_url_never_appear_in_a_message_or_a_log_line(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    d = sandbox.default
    hook = await sandbox.create_webhook(d.general)
    secrets = (sandbox.token, hook.url, hook.token)
    async with RunningBot(sandbox, home, voice_channels=(d.voice.id,), alerts=alerts_to(hook)):
        await until(lambda: described(from_hook(sandbox, hook), "QuranBot started"), 10, "started")
        # the worst case: code that logs the secrets themselves, in the text and in a traceback
        test_log.error("Leaked: token %s, url %s, token part %s", *secrets)
        try:
            raise ConnectionError(f"POST {hook.url} failed (token part {hook.token}; bot {sandbox.token})")
        except ConnectionError:
            test_log.exception("Could not reach Discord")
        await until(
            lambda: described(from_hook(sandbox, hook), "Could not reach Discord"), 5, "the traceback"
        )
        code, logs, _ = await finish(await start_quranbot("--home", str(home), "logs", "-n", "500"))
        assert code == 0 and "Leaked: token ********, url ********, token part ********" in logs
    everything = posted_text(list(sandbox.world.messages.values()))
    descriptions = [e["description"] for m in from_hook(sandbox, hook) for e in m.embeds]
    assert "Leaked: token ********, url ********, token part ********" in descriptions
    (traceback,) = [text for text in descriptions if text.startswith("Could not reach Discord")]
    assert "ConnectionError: POST ******** failed (token part ********; bot ********)" in traceback
    for secret in secrets:
        assert secret not in everything  # every message in every channel
        assert secret not in logs  # the bot's own log lines (`quranbot logs`: the ring the TUI shows)


async def test_system_events_reach_the_log_channel_set_by_setup_with_the_outage_duration(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    d = sandbox.default
    bot_log = d.general
    listener = sandbox.listener(d.voice)

    def bot_posts(text: str) -> list[Message]:
        return [
            m for m in described(sandbox.messages(bot_log, include_ephemeral=False), text)
            if m.payload["author"]["id"] == str(d.bot.user.id)
        ]  # fmt: skip

    async with RunningBot(sandbox, home, voice_channels=(d.voice.id,)):
        await listener.wait_for_packets(10, timeout=20)
        done = await sandbox.run_command(d.admin, d.general, "setup", log_channel=bot_log.id)
        await done.wait()
        assert done.original is not None and f"alerts in <#{bot_log.id}>" in done.original.content
        await sandbox.faults.kick_from_voice(d.guild)
        await until(lambda: bot_posts("Recovered in guild"), 20, "voice recovered")
        code, out, err = await finish(await start_quranbot("--home", str(home), "alerts", "test"))
        assert code == 0, err
        assert f"channel {bot_log.id}: delivered: 200 OK (#{bot_log.name})" in " ".join(out.split())
        # what `quranbot reciter import` sends the running bot when it is done
        client = await ControlClient.connect(Paths.under(home).control_socket)
        try:
            assert await client.call("alerts.event", text="Reciter imported: Someone") == {"logged": True}
        finally:
            await client.close()
        await until(lambda: bot_posts("Reciter imported: Someone ("), 5, "the command's event")
    embeds = [e for m in bot_posts("") for e in m.embeds]
    (lost,) = [e for e in embeds if e["description"].startswith("Recovering voice in guild")]
    assert "not in voice (kicked, or the connection ended)" in lost["description"]
    assert lost["color"] == Level.WARNING.colour and lost["title"] == "WARNING · quranbot.bot.guild_player"
    (recovered,) = [e for e in embeds if e["description"].startswith("Recovered in guild")]
    duration = re.search(r"after (\d+\.\d) s", recovered["description"])
    assert duration is not None and 0.0 < float(duration.group(1)) < 15.0, recovered["description"]
    assert bot_posts("Test alert, sent by") and bot_posts("Stopping: leaving voice")


async def test_alerts_test_from_the_terminal_against_the_sandbox(sandbox: Sandbox, tmp_path: Path) -> None:
    d = sandbox.default
    hook = await sandbox.create_webhook(d.general)
    paths = Paths.under(tmp_path / "home")
    write_webhook_url(paths.alerts_webhook_file, Secret(hook.url))
    command = ("--home", str(tmp_path / "home"), "alerts", "test", "--sandbox", sandbox.url,
               "--sandbox-cert", str(sandbox.cert_file))  # fmt: skip
    code, out, err = await finish(await start_quranbot(*command))
    assert code == 0, err
    masked = f"https://discord.com/api/webhooks/{hook.id}/{hook.token[:4]}…(68 chars)"
    assert " ".join(out.split()) == f"webhook {masked}: delivered: 200 OK"
    (message,) = from_hook(sandbox, hook)
    assert "Test alert, sent by" in message.embeds[0]["description"]

    await sandbox.delete_webhook(hook)
    code, out, err = await finish(await start_quranbot(*command))
    assert code == 1
    assert " ".join(out.split()).endswith(": disabled: 404 Unknown Webhook (10015)")
    for text in (out, err):
        assert hook.token not in text and hook.url not in text
    assert hook.requests == 2


async def test_the_daily_heartbeat_arrives_at_its_time_with_the_days_figures(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    d = sandbox.default
    hook = await sandbox.create_webhook(d.general)
    at = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=4)).strftime("%H:%M:%S")
    await sandbox.join_voice(d.listener, d.voice)
    alerts = alerts_to(hook, heartbeat=at, ping_user=d.admin.user.id)
    async with RunningBot(sandbox, home, voice_channels=(d.voice.id,), timezone="UTC", alerts=alerts):
        await sandbox.listener(d.voice).wait_for_packets(10, timeout=20)
        test_log.error("One error before the heartbeat")
        await until(lambda: described(from_hook(sandbox, hook), "Heartbeat: Up "), 10, "the heartbeat")
    (beat,) = described(from_hook(sandbox, hook), "Heartbeat: Up ")
    (embed,) = [e for e in beat.embeds if e["description"].startswith("Heartbeat")]
    assert embed["footer"]["text"] == "heartbeat" and embed["color"] == Level.INFO.colour
    assert re.fullmatch(
        r"Heartbeat: Up 0 min; recited 0\.0 h since the start; 1 listening now; 0 quiz answers today; "
        r"1 error since the last heartbeat",
        embed["description"],
    ), embed["description"]
