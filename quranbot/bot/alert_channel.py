"""Alerts posted by the bot itself in a text channel (config.toml's `alerts.channel`, or the channel a
server chose with `/setup log_channel`), through discord.py: its own rate limiting and 5xx retries apply,
and its refusals become the same `Answer`s a webhook gives, so the sender treats both alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import discord

from quranbot.alerts.destination import NO_ANSWER, Answer
from quranbot.alerts.layout import AlertMessage

#: How long a post waits for the bot to log in (alerts from the start, a repaired state file, wait).
READY_TIMEOUT = 60.0


class ChannelDestination:
    def __init__(self, client: discord.Client, channel_ids: Callable[[], list[int]]) -> None:
        self.client = client
        self.channel_ids = channel_ids

    def describe(self) -> str:
        ids = self.channel_ids()
        return ", ".join(f"channel {cid}" for cid in ids) if ids else "no channel"

    def ready(self) -> bool:
        return bool(self.channel_ids())

    async def send(self, message: AlertMessage) -> Answer:
        """Post in each alert channel; the first refusal, else the last success."""
        answer = Answer(NO_ANSWER, "no alert channel")
        for channel_id in self.channel_ids():
            answer = await self._send_to(channel_id, message)
            if not answer.delivered:
                return answer
        return answer

    async def _send_to(self, channel_id: int, message: AlertMessage) -> Answer:
        try:
            await asyncio.wait_for(self.client.wait_until_ready(), READY_TIMEOUT)
        except TimeoutError:
            return Answer(NO_ANSWER, "no answer (the bot has not logged in)")
        channel = self.client.get_channel(channel_id)
        if not isinstance(channel, discord.TextChannel):
            return Answer(404, f"404 Unknown Channel: the bot cannot see channel {channel_id}")
        mentions = message.allowed_mentions
        try:
            await channel.send(
                content=message.content or None,
                embeds=[discord.Embed.from_dict(item) for item in message.embeds],
                allowed_mentions=discord.AllowedMentions(
                    everyone=False,
                    users=[discord.Object(int(u)) for u in mentions["users"]],
                    roles=[discord.Object(int(r)) for r in mentions["roles"]],
                ),
            )
        except discord.HTTPException as exc:
            code = f" ({exc.code})" if exc.code else ""
            return Answer(exc.status, f"{exc.status} {exc.text or exc.response.reason}{code}")
        except (aiohttp.ClientError, OSError) as exc:
            return Answer(NO_ANSWER, f"no answer ({type(exc).__name__})")
        return Answer(200, f"200 OK (#{channel.name})")
