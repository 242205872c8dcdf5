"""`quranbot alerts test`, and the alerts that happen in a `quranbot` command rather than in the bot (a
reciter imported, a backup restored).

With a saved webhook, a test is sent from here, so it works while the bot is stopped and reports exactly
what Discord answered; with an alert channel (config.toml's `alerts.channel`, or /setup log_channel) only
the bot can post, so the test goes through its control socket (`alerts.test`). A command's own event goes
to the running bot when there is one (`alerts.event`: it is then logged, batched and rate limited with the
bot's other alerts), else straight to the webhook, else nowhere (it is in the command's output anyway).
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import time
from pathlib import Path
from typing import Annotated, Any

import aiohttp
import typer
from rich.markup import escape

from quranbot.alerts.alert import Alert, Category, Level
from quranbot.alerts.destination import Answer
from quranbot.alerts.layout import Ping, layout
from quranbot.alerts.queue import AlertQueue
from quranbot.alerts.sender import AlertSender
from quranbot.alerts.webhook import WebhookDestination
from quranbot.alerts.webhook_url import WebhookUrlError, masked_webhook, read_webhook_url
from quranbot.bot.runner import StartupError
from quranbot.cli.bot_socket import ask_each, call_bot
from quranbot.cli.context import cli_context
from quranbot.cli.output import fail, out
from quranbot.cli.run import SandboxTarget, alert_settings, sandbox_target
from quranbot.cli.shard_choice import ShardOption, chosen_bots
from quranbot.config.load import load_config
from quranbot.config.schema import Config, ConfigError
from quranbot.control.client import BotNotRunning, ControlClient, ControlError
from quranbot.control.machine import BotSocket, machine_bots
from quranbot.paths import Paths
from quranbot.secret import Secret

alerts_app = typer.Typer(help="Alerts: check that they reach Discord.", no_args_is_help=True)

#: A command's own alert waits this long for Discord at most: the command has done its work already.
ANNOUNCE_SECONDS = 10.0


async def _send_test(webhook: Secret, ping: Ping, text: str, sandbox: SandboxTarget | None) -> Answer:
    """One test alert (a 429 is waited out, nothing else retried); the connector is made in this loop."""
    connector = None if sandbox is None else sandbox.connector()
    async with aiohttp.ClientSession(connector=connector) as session:
        sender = AlertSender(AlertQueue(), WebhookDestination(webhook, session), ping, max_attempts=1)
        return await sender.send_test(text)


def said(answer_status: int, delivered: bool, reason: str) -> str:
    """What Discord answered, as the admin reads it."""
    if delivered:
        return f"delivered: {reason}"
    if answer_status in (401, 403, 404):
        return f"disabled: {reason}"
    return f"failed: {reason}"


@alerts_app.command("test")
def test_command(
    ctx: typer.Context,
    sandbox: Annotated[
        str | None, typer.Option(help="Send to a local sandbox at this URL instead of Discord.")
    ] = None,
    sandbox_cert: Annotated[
        Path | None, typer.Option(help="The sandbox's certificate (default: the one it wrote under --home).")
    ] = None,
    shard: ShardOption = None,
) -> None:
    """Send a test alert and print what Discord answered (exit 1 unless it was delivered).

    A saved webhook is sent to from here, bot running or not; an alert channel through the running bot,
    sharded through every shard of the machine (each posts its own alerts), or --shard N alone.
    """
    paths = cli_context(ctx).paths
    try:
        config = load_config(paths.config_file)
        webhook = read_webhook_url(paths.alerts_webhook_file)
        text = f"Test alert, sent by {getpass.getuser()} with `quranbot alerts test`"
        if webhook is not None:
            target = None
            if sandbox is not None:
                target = sandbox_target(sandbox, sandbox_cert or paths.sandbox_dir / "sandbox-cert.pem")
            answer = asyncio.run(_send_test(webhook, _ping(config), text, target))
            where, status, delivered, reason = (
                f"webhook {masked_webhook(webhook)}", answer.status, answer.delivered, answer.reason,
            )  # fmt: skip
        else:
            bots = chosen_bots(paths, shard)
            if len(bots) > 1:  # each shard posts its own alerts to the channel: test every one
                _test_shards(bots)
                return
            result = call_bot(bots[0].path, "alerts.test")
            where, status, delivered, reason = (
                result["destination"], result["status"], result["delivered"], result["answer"],
            )  # fmt: skip
            if bots[0].shard is not None:
                where = f"{bots[0].label}: {where}"
    except (ConfigError, WebhookUrlError, StartupError) as exc:
        raise fail(str(exc)) from None
    out.print(f"{escape(where)}: {escape(said(status, delivered, reason))}", soft_wrap=True, highlight=False)
    if not delivered:
        raise typer.Exit(1)


def _test_shards(bots: list[BotSocket]) -> None:
    """`alerts.test` through each shard: one line each; exit 1 unless every shard delivered."""
    answers = ask_each(tuple(bots), _alerts_test)
    for answer in answers:
        if answer.result is None:
            line = f"{answer.bot.label}: {answer.error or 'down'}"
        else:
            result = answer.result
            line = f"{answer.bot.label}: {result['destination']}: "
            line += said(result["status"], result["delivered"], result["answer"])
        out.print(escape(line), soft_wrap=True, highlight=False)
    if not all(answer.result is not None and answer.result["delivered"] for answer in answers):
        raise typer.Exit(1)


async def _alerts_test(client: ControlClient) -> dict[str, Any]:
    result: dict[str, Any] = await client.call("alerts.test")
    return result


def announce(paths: Paths, text: str, level: Level = Level.INFO) -> None:
    """A command's own system event: to the running bot, else to the saved webhook; never fails the
    command (what went wrong is logged at debug level)."""
    try:
        asyncio.run(asyncio.wait_for(_announce(paths, text, level), ANNOUNCE_SECONDS))
    except (TimeoutError, OSError, ControlError, ConfigError, WebhookUrlError, aiohttp.ClientError) as exc:
        logging.getLogger(__name__).debug("The alert %r was not sent: %r", text, exc)


async def _announce(paths: Paths, text: str, level: Level) -> None:
    """Through the bot (sharded: the first shard of the machine that runs, unless `paths` is a
    shard's own), else the saved webhook."""
    sockets = [paths.control_socket]
    if paths.shard is None:
        sockets = [bot.path for bot in machine_bots(paths).sockets]
    client = None
    for socket in sockets:
        try:
            client = await ControlClient.connect(socket)
            break
        except (BotNotRunning, PermissionError):
            continue
    if client is not None:
        try:
            await client.call("alerts.event", text=text, level=level.label)
        finally:
            await client.close()
        return
    webhook = read_webhook_url(paths.alerts_webhook_file)
    if webhook is None:
        return
    config = load_config(paths.config_file)
    settings = alert_settings(config, webhook)
    if level < settings.min_level or Category.SYSTEM not in settings.categories:
        return
    alert = Alert(level, Category.SYSTEM, "quranbot (terminal)", text, time.time())
    async with aiohttp.ClientSession() as session:
        sender = AlertSender(AlertQueue(), WebhookDestination(webhook, session), settings.ping)
        await sender.deliver(layout([alert], 0, settings.ping))


def _ping(config: Config) -> Ping:
    return Ping(config.admin_user, config.admin_role)
