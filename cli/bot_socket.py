"""Talking to the running bot from a `quranbot` command: connect, call, and turn failures into exit codes.

Exit codes a script can rely on: 3 when the bot is not running, 4 when this user may not use its
socket, 1 when the bot refused the request (the message says why).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from quranbot.cli.output import fail
from quranbot.control.client import BotNotRunning, ControlClient, ControlError
from quranbot.control.machine import BotSocket, machine_bots
from quranbot.paths import Paths

NOT_RUNNING = 3
NOT_ALLOWED = 4

T = TypeVar("T")


def with_bot(
    socket: Path, work: Callable[[ControlClient], Awaitable[T]], stopped: Callable[[], T] | None = None
) -> T:
    """Run `work` with a connected client; exits with the codes above on failure. With `stopped`, a
    bot that is not running is no failure: `stopped()` answers instead (from the files, say)."""

    async def session() -> T:
        client = await ControlClient.connect(socket)
        try:
            return await work(client)
        finally:
            await client.close()

    try:
        return asyncio.run(session())
    except BotNotRunning as exc:
        if stopped is None:
            raise fail(
                f"{exc}. Start it with `quranbot service start` or `quranbot run`.", NOT_RUNNING
            ) from None
    except PermissionError as exc:
        raise fail(str(exc), NOT_ALLOWED) from None
    except ControlError as exc:
        raise fail(exc.message) from None
    except TimeoutError:
        raise fail(f"QuranBot did not answer on {socket} in time (is it stuck?)") from None
    assert stopped is not None
    return stopped()


def call_bot(socket: Path, method: str, **params: Any) -> Any:
    """One request; its result."""

    async def one(client: ControlClient) -> Any:
        return await client.call(method, **params)

    return with_bot(socket, one)


@dataclass(frozen=True)
class Answer(Generic[T]):
    """What one bot of the machine answered, or why it could not (`error`: down, not allowed, ...)."""

    bot: BotSocket
    result: T | None = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.error is None


def ask_each(bots: tuple[BotSocket, ...], work: Callable[[ControlClient], Awaitable[T]]) -> list[Answer[T]]:
    """`work` on every bot of the machine at once (its shards); one that is down is an answer too."""

    async def one(bot: BotSocket) -> Answer[T]:
        try:
            client = await ControlClient.connect(bot.path, timeout=5.0)
        except BotNotRunning:
            return Answer(bot, error=f"down (no control socket at {bot.path})")
        except (PermissionError, ControlError, TimeoutError, OSError) as exc:
            return Answer(bot, error=str(getattr(exc, "message", None) or exc))
        try:
            return Answer(bot, result=await work(client))
        except (ControlError, TimeoutError, ConnectionError) as exc:
            return Answer(bot, error=str(getattr(exc, "message", None) or exc))
        finally:
            await client.close()

    async def every() -> list[Answer[T]]:
        return list(await asyncio.gather(*(one(bot) for bot in bots)))

    return asyncio.run(every())


def socket_for_guild(paths: Paths, guild: str | None) -> Path:
    """Where to steer `guild`: the bot's socket, or, sharded, the socket of the shard that owns it (each
    shard steers only its own servers, so the server must be named by its id)."""
    bots = machine_bots(paths)
    if not bots.sharded:
        return bots.sockets[0].path
    if guild is None or not guild.strip().isdigit():
        raise fail("QuranBot runs as shards here: name the server by its id (--guild ID)", code=2)
    owner = bots.owner(int(guild))
    if owner is None:
        raise fail(f"Server {guild} belongs to a shard that does not run on this machine")
    return owner.path
