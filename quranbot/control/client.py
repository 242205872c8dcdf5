"""A client for the control socket, used by the CLI and the TUI.

One reader task routes replies to the call that is waiting for them (by id) and events to `events`,
so a TUI can subscribe and still call methods on the same connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import json
from pathlib import Path
from typing import Any

from quranbot.control import protocol
from quranbot.control.address import unix_address


class BotNotRunning(ConnectionError):
    """Nothing answers on the socket: the bot is stopped (or starting)."""


class ControlError(Exception):
    """The bot answered a request with an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ControlClient:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hello: dict[str, Any]
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.hello = hello
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        #: Events from subscriptions, as (name, data), in the order the bot sent them.
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.closed = asyncio.Event()
        self._reading = asyncio.create_task(self._read(), name="control client reader")

    @classmethod
    async def connect(cls, path: Path, timeout: float = 5.0) -> ControlClient:
        """Connect and read the hello; BotNotRunning when nobody listens, PermissionError when not allowed."""
        try:
            with unix_address(path) as address:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_unix_connection(address, limit=protocol.MAX_LINE_BYTES), timeout
                )
        except FileNotFoundError:
            raise BotNotRunning(f"QuranBot is not running (no control socket at {path})") from None
        except ConnectionRefusedError:
            raise BotNotRunning(f"QuranBot is not running (nothing listens on {path})") from None
        except PermissionError:
            raise PermissionError(
                f"not allowed to use {path}: run as root, the bot's user, or a member of its group"
            ) from None
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ECONNREFUSED):
                raise BotNotRunning(f"QuranBot is not running ({path}: {exc.strerror})") from None
            raise
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            writer.close()
            raise BotNotRunning(f"QuranBot closed the control socket at {path} without a greeting")
        message = json.loads(line)
        if "error" in message:
            writer.close()
            error = message["error"]
            if error.get("code") == protocol.FORBIDDEN:
                raise PermissionError(error.get("message", "forbidden"))
            raise ControlError(error.get("code", "?"), error.get("message", ""))
        hello = message.get("data", {})
        if message.get("event") != "hello" or hello.get("protocol") != protocol.PROTOCOL_VERSION:
            writer.close()
            raise ControlError(
                "protocol",
                f"the bot speaks control protocol {hello.get('protocol')!r}, "
                f"this client {protocol.PROTOCOL_VERSION}: update both to the same version",
            )
        return cls(reader, writer, hello)

    async def call(self, method: str, timeout: float | None = 30.0, **params: Any) -> Any:
        """Send a request and wait for its result; ControlError for an error reply."""
        if self.closed.is_set():
            raise BotNotRunning("the connection to QuranBot is closed")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            self._writer.write(protocol.encode({"id": request_id, "method": method, "params": params}))
            await self._writer.drain()
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(request_id, None)

    async def subscribe(self, *topics: str) -> list[str]:
        result = await self.call("subscribe", topics=list(topics))
        return list(result["topics"])

    async def close(self) -> None:
        self._reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reading
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        self.closed.set()

    async def __aenter__(self) -> ControlClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _read(self) -> None:
        try:
            while line := await self._reader.readline():
                message = json.loads(line)
                if "event" in message:
                    self.events.put_nowait((message["event"], message.get("data")))
                    continue
                future = self._waiting.get(message.get("id"))
                if "error" in message:
                    error = ControlError(
                        message["error"].get("code", "?"), message["error"].get("message", "")
                    )
                    if future is not None and not future.done():
                        future.set_exception(error)
                    else:  # an error about the connection itself (idle, line too long)
                        self.events.put_nowait(("error", message["error"]))
                elif future is not None and not future.done():
                    future.set_result(message.get("result"))
        except (ConnectionError, ValueError):
            pass
        finally:
            self.closed.set()
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(BotNotRunning("QuranBot closed the control socket"))
