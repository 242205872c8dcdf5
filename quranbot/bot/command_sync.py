"""The slash commands registered with Discord in the background, so recitation never waits on them.

The bulk overwrite (`CommandTree.sync()`) used to run in `setup_hook`, before the gateway connection:
one refused or failing request ended the process with nothing recited, and under systemd restarted it
into the same failure for as long as that one endpoint was down. Now the bot connects and recites
first, and this task registers the commands:
- an answer Discord may give differently later (5xx, 429, no answer) is tried again with a growing
  pause (RETRY_START doubling to RETRY_MAX, with jitter), each failure one log line;
- a refusal (400 and the other 4xx) will not change by itself: one error line naming the command Discord
  objected to (its form errors are keyed by the command's index in the request), and no more tries.
Until it succeeds the commands Discord already has stay as they were; the panel works regardless.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re

import aiohttp
import discord
from discord import app_commands

log = logging.getLogger(__name__)

RETRY_START = 5.0
RETRY_MAX = 300.0
#: discord.py flattens Discord's form errors into lines "In 3.options.0.name: <message>".
FORM_ERROR = re.compile(r"^In (\d+)\.?(\S*): (.*)$", re.MULTILINE)


class CommandSync:
    def __init__(self, tree: app_commands.CommandTree[discord.Client]) -> None:
        self.tree = tree
        #: True once Discord has the commands; the refusal's text if it refused them.
        self.synced = False
        self.refused: str | None = None
        self.attempts = 0

    async def run(self) -> None:
        """Until Discord has the commands, or has refused them (started as the bot connects)."""
        delay = RETRY_START
        while True:
            self.attempts += 1
            try:
                synced = await self.tree.sync()
            except discord.HTTPException as exc:
                if 400 <= exc.status < 500 and exc.status != 429:
                    self.refused = describe_refusal(exc, self.tree)
                    log.error(
                        "Discord refused the slash commands (%s): %s. The bot recites and its panel works; "
                        "the commands stay as Discord had them until this is fixed and the bot restarted",
                        exc.status,
                        self.refused,
                    )
                    return
                reason = f"{exc.status} {exc.text[:200]}".strip()
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                reason = f"no answer: {exc!r}"
            else:
                self.synced = True
                log.info(
                    "Synced %d slash command(s): %s", len(synced), ", ".join(f"/{c.name}" for c in synced)
                )
                return
            log.warning(
                "Could not register the slash commands (%s); reciting meanwhile, trying again in %.1f s",
                reason,
                delay,
            )
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(RETRY_MAX, delay * 2)


def describe_refusal(exc: discord.HTTPException, tree: app_commands.CommandTree[discord.Client]) -> str:
    """Discord's reasons, each with the command it is about (by its index in the request, which
    `get_commands()` lists in the order `sync()` sends them)."""
    commands = tree.get_commands()
    found = []
    for index, where, message in FORM_ERROR.findall(exc.text):
        position = int(index)
        name = f"/{commands[position].name}" if position < len(commands) else f"command #{position}"
        found.append(f"{name}" + (f" ({where})" if where else "") + f": {message}")
    return "; ".join(found) or exc.text or f"error {exc.code}"
