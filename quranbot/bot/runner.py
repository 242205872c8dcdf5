"""Run the bot until it is stopped, turning Discord's refusals into messages an admin can act on."""

from __future__ import annotations

import asyncio
import logging
import signal

import aiohttp
import discord

from quranbot.bot.client import QuranBot
from quranbot.bot.settings import BotSettings

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The bot cannot run as configured; the message says why and what to do."""


async def run_bot(
    settings: BotSettings,
    connector: aiohttp.BaseConnector | None = None,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
) -> None:
    """Log in and run until `stop` is set (SIGINT/SIGTERM set it) or the connection ends for good."""
    if not settings.token:
        raise StartupError("No bot token given: pass --token-file, or set QURANBOT_TOKEN")
    bot = QuranBot(settings, connector=connector)
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM) if handle_signals else ()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        async with bot:
            runner = asyncio.create_task(bot.start(settings.token.reveal()))
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if runner in done:
                runner.result()
            else:
                # Close while the gateway still runs, so leaving voice is acknowledged promptly.
                log.info("Stopping: leaving voice and closing the connection")
                await bot.close()
                await runner
    except discord.LoginFailure:
        raise StartupError(
            "Discord rejected the bot token (401 Unauthorized): check the token and try again"
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise StartupError("Discord refused a privileged intent: enable it in the developer portal") from None
    except discord.ConnectionClosed as exc:
        if exc.code == 4004:
            raise StartupError(
                "Discord closed the gateway: authentication failed (4004); check the token"
            ) from None
        raise StartupError(
            f"Discord closed the gateway with code {exc.code}: {exc.reason or 'no reason given'}"
        ) from None
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
