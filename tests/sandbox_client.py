"""Helpers for tests that drive the real discord.py client against a running sandbox.

`running_client` logs a real `discord.Client` in through the sandbox's connector, waits for `on_ready` and
always closes it again (gateway, voice and HTTP session), so a test only says what it checks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import discord

from quranbot.sandbox.server import Sandbox
from quranbot.sandbox.voice_udp import XCHACHA

#: How long a client may take to log in and see READY plus every GUILD_CREATE.
READY_TIMEOUT = 10.0
#: discord.py waits this long after the last GUILD_CREATE before `on_ready` (its default is 2 s).
GUILD_READY_TIMEOUT = 0.2


def make_client(
    sandbox: Sandbox,
    intents: discord.Intents | None = None,
    cls: type[discord.Client] = discord.Client,
    **options: Any,
) -> discord.Client:
    """A real client whose every connection (REST, gateway, voice gateway) goes to the sandbox."""
    options.setdefault("guild_ready_timeout", GUILD_READY_TIMEOUT)
    return cls(intents=intents or discord.Intents.default(), connector=sandbox.connector(), **options)


@contextlib.asynccontextmanager
async def running_client(
    sandbox: Sandbox,
    client: discord.Client | None = None,
    *,
    intents: discord.Intents | None = None,
    token: str | None = None,
) -> AsyncIterator[discord.Client]:
    """Log `client` (or a fresh one) in, yield it once `on_ready` fired, then close it."""
    client = client or make_client(sandbox, intents)
    task: asyncio.Task[None] | None = None
    try:
        await client.login(token or sandbox.token)
        task = asyncio.create_task(client.connect(), name="discord client")
        await wait_ready(client, task)
        yield client
    finally:
        await stop_client(client, task)


async def wait_ready(
    client: discord.Client, task: asyncio.Task[None], timeout: float = READY_TIMEOUT
) -> None:
    """Wait for `on_ready`; if the client's task ends first, raise what it raised."""
    ready = asyncio.ensure_future(client.wait_until_ready())
    done, _ = await asyncio.wait({ready, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if ready in done:
        return
    ready.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ready
    if task in done:
        task.result()
    raise TimeoutError(f"the client was not ready within {timeout} s")


async def stop_client(client: discord.Client, task: asyncio.Task[None] | None) -> None:
    """Close the client (voice, gateway, HTTP session) and wait for its connect loop to end."""
    await client.close()
    if task is None:
        return
    # The loop may end with the error a test provoked on purpose; that test has checked it already.
    with contextlib.suppress(discord.ConnectionClosed, discord.HTTPException, OSError):
        await asyncio.wait_for(task, timeout=5.0)


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01) -> None:
    """Poll a condition that no event announces (e.g. the sandbox's counters)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(interval)


async def within(awaitable: Awaitable[Any], timeout: float = 5.0) -> Any:
    return await asyncio.wait_for(awaitable, timeout)


def play(voice: discord.VoiceClient, path: Path) -> asyncio.Event:
    """Start playing an Ogg Opus file as-is; the returned event is set when the player finished."""
    finished = asyncio.Event()
    loop = asyncio.get_running_loop()

    def after(error: Exception | None) -> None:
        loop.call_soon_threadsafe(finished.set)

    voice.play(discord.FFmpegOpusAudio(str(path), codec="copy"), after=after)
    return finished


class DiscordPySender:
    """The smallest object discord.py's own packet builder runs on (`VoiceClient._get_voice_packet`)."""

    checked_add = discord.VoiceClient.checked_add
    _get_voice_packet = discord.VoiceClient._get_voice_packet
    _encrypt_aead_xchacha20_poly1305_rtpsize = discord.VoiceClient._encrypt_aead_xchacha20_poly1305_rtpsize

    def __init__(self, key: bytes, ssrc: int = 1234) -> None:
        self.secret_key = list(key)
        self.mode = XCHACHA
        self.sequence = 65534
        self.timestamp = 4294967295 - 960
        self.ssrc = ssrc
        self._incr_nonce = 0
        self._connection = type("State", (), {"dave_session": None, "can_encrypt": False})()

    def packet(self, opus: bytes) -> bytes:
        packet = self._get_voice_packet(opus)
        self.checked_add("sequence", 1, 65535)
        self.checked_add("timestamp", 960, 4294967295)
        return bytes(packet)  # discord.py builds a bytearray; the socket delivers bytes
