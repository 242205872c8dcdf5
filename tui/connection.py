"""The TUI's one connection to the bot: connect, subscribe, hand on every event; when the bot goes, retry.

The TUI may start before the bot and outlives its restarts, so this loop never gives up: while nothing
answers on the socket it says so and tries again every `retry_interval` seconds. It knows nothing of
Textual (it reports through two callbacks, called on the event loop in order), so the app, a test or
a benchmark can drive it alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from quranbot.control.client import BotNotRunning, ControlClient, ControlError

TOPICS = ("player", "listeners", "logs", "stats", "audit")
#: Log lines (and audit records) fetched on connecting (the subscriptions' snapshots hold only 100).
LOG_HISTORY = 1000
CONNECT_TIMEOUT = 5.0


class LinkStatus(Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # nothing answers: the bot is stopped or starting
    FORBIDDEN = "forbidden"  # this user may not use the socket
    FAILED = "failed"  # the bot answered but cannot be used (another protocol version, ...)


@dataclass(frozen=True)
class LinkState:
    status: LinkStatus
    detail: str = ""
    hello: dict[str, Any] = field(default_factory=dict)
    #: The guild ids the bot reported on connecting (its status), so stale ones can be dropped.
    guild_ids: tuple[str, ...] = ()
    #: Sharded: each shard's state in a few words ("shard 0 connected, shard 1 disconnected").
    shards: str = ""


class Link(Protocol):
    """What the screen needs of its connection: one bot (`BotLink`) or every shard (`ShardLinks`)."""

    retry_interval: float

    @property
    def socket(self) -> Path: ...

    async def call(self, method: str, **params: Any) -> Any: ...

    async def run(self) -> None: ...


class BotLink:
    def __init__(
        self,
        socket: Path,
        on_state: Callable[[LinkState], None],
        on_event: Callable[[str, Any], None],
        retry_interval: float = 1.0,
    ) -> None:
        self.socket = socket
        self.retry_interval = retry_interval
        self._on_state = on_state
        self._on_event = on_event
        self._client: ControlClient | None = None
        self._last: LinkState | None = None

    async def call(self, method: str, **params: Any) -> Any:
        """One request on the live connection; BotNotRunning while there is none."""
        client = self._client
        if client is None or client.closed.is_set():
            raise BotNotRunning("not connected to QuranBot (retrying)")
        return await client.call(method, **params)

    async def run(self) -> None:
        """Connect, serve, and reconnect, until cancelled."""
        self._report(LinkState(LinkStatus.CONNECTING, f"connecting to {self.socket}"))
        while True:
            started = time.monotonic()
            self._report(await self._attempt())
            # After a session that lasted, at once: a restarting bot is usually back within the first
            # tries. After a refusal or no answer, wait: never spin against a bot that says no.
            if time.monotonic() - started < self.retry_interval:
                await asyncio.sleep(self.retry_interval)

    async def _attempt(self) -> LinkState:
        """One connection, served until it ends; what to report afterwards."""
        try:
            client = await ControlClient.connect(self.socket, timeout=CONNECT_TIMEOUT)
        except BotNotRunning as exc:
            return LinkState(LinkStatus.DISCONNECTED, str(exc))
        except PermissionError as exc:
            return LinkState(LinkStatus.FORBIDDEN, str(exc))
        except ControlError as exc:
            return LinkState(LinkStatus.FAILED, exc.message)
        except (OSError, TimeoutError, ValueError) as exc:
            return LinkState(LinkStatus.DISCONNECTED, f"cannot reach QuranBot at {self.socket}: {exc}")
        try:
            await self._serve(client)
            detail = "QuranBot closed the control socket (stopped or restarting)"
        except (BotNotRunning, ConnectionError, TimeoutError) as exc:
            detail = f"lost the connection to QuranBot: {exc}"
        except ControlError as exc:
            detail = f"QuranBot refused the TUI: {exc.message}"
        finally:
            self._client = None
            await client.close()
        return LinkState(LinkStatus.DISCONNECTED, detail)

    def _report(self, state: LinkState) -> None:
        if state != self._last:
            self._last = state
            self._on_state(state)

    async def _serve(self, client: ControlClient) -> None:
        status = await client.call("status")
        history = await client.call("logs", limit=LOG_HISTORY)
        offered = client.hello.get("methods", ())
        trail = await client.call("audit", limit=LOG_HISTORY) if "audit" in offered else {}
        self._client = client
        guild_ids = tuple(str(guild["guild_id"]) for guild in status.get("guilds", ()))
        self._report(LinkState(LinkStatus.CONNECTED, str(self.socket), dict(client.hello), guild_ids))
        for line in history.get("lines", ()):
            self._on_event("logs", line)
        for record in trail.get("entries", ()):
            self._on_event("audit", record)
        # A bot of an older version may not offer every topic: subscribe to those it has.
        await client.subscribe(*(t for t in TOPICS if t in client.hello.get("topics", TOPICS)))
        await self._pump(client)

    async def _pump(self, client: ControlClient) -> None:
        """Hand on events in order until the connection closes, then the ones still queued."""
        closed = asyncio.create_task(client.closed.wait())
        getter: asyncio.Task[tuple[str, Any]] | None = None
        try:
            while not closed.done():
                getter = asyncio.create_task(client.events.get())
                await asyncio.wait((getter, closed), return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    break
                self._on_event(*getter.result())
                while not client.events.empty():  # a burst (a snapshot) without a task per event
                    self._on_event(*client.events.get_nowait())
            while not client.events.empty():
                self._on_event(*client.events.get_nowait())
        finally:
            for task in (closed, getter):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
