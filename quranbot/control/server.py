"""The control socket's server, on the bot's event loop: connections, limits and subscriptions.

What it promises the bot: nothing a client does can block or slow it. Requests from one connection are
answered in order; everything pushed to a subscriber goes through a bounded queue that drops the
oldest events (and then tells the client how many) when the client reads too slowly, so `publish` is
a few appends and never waits on a socket. A client that sends junk gets an error reply; one that
says nothing, sends a line over 1 MiB, or is one too many, gets an error and is closed.

The methods themselves are the `ControlHandler`'s (see `methods.py`); this file knows only the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from quranbot import __version__
from quranbot.control import protocol
from quranbot.control.address import unix_address
from quranbot.control.peer import Peer, may_control, peer_of
from quranbot.control.protocol import ProtocolError, Request

log = logging.getLogger(__name__)

MAX_CLIENTS = 256
#: A connection that has subscribed to nothing is closed after this long without a request.
IDLE_TIMEOUT = 30.0
#: Events waiting for one slow subscriber; past this the oldest are dropped.
QUEUE_LIMIT = 1000
#: Replies waiting to be written before the server stops reading that client's requests.
REPLY_BACKLOG = 64
SOCKET_MODE = 0o660


class ControlHandler(Protocol):
    async def handle(self, request: Request, connection: Connection) -> Any:
        """The result of one request (any method but subscribe/unsubscribe/hello); ProtocolError
        for a refusal."""
        ...

    def snapshot(self, topic: str) -> Iterable[tuple[str, Any]]:
        """The (event, data) pairs a new subscriber to `topic` gets before live events."""
        ...


class Connection:
    """One client: its subscriptions and its outgoing queue, written by `pump` in its own task."""

    def __init__(self, writer: asyncio.StreamWriter, peer: Peer, queue_limit: int) -> None:
        self.writer = writer
        self.peer = peer
        self.topics: set[str] = set()
        self._replies: deque[bytes] = deque()
        self._events: deque[bytes] = deque()
        self._queue_limit = queue_limit
        self._dropped = 0
        self._ready = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self.closing = False

    def send(self, line: bytes) -> None:
        """A reply (or the hello): never dropped."""
        self._replies.append(line)
        self._drained.clear()
        self._ready.set()

    def push(self, line: bytes) -> None:
        """An event for a subscriber: the oldest is dropped when the queue is full."""
        if len(self._events) >= self._queue_limit:
            self._events.popleft()
            self._dropped += 1
        self._events.append(line)
        self._ready.set()

    async def replies_below(self, count: int) -> None:
        while len(self._replies) >= count and not self.closing:
            self._drained.clear()
            await self._drained.wait()

    async def pump(self) -> None:
        """Write queued lines as fast as the client reads them; returns when the client is gone."""
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                while self._replies or self._events or self._dropped:
                    if self._replies:
                        line = self._replies.popleft()
                    elif self._dropped:
                        line = protocol.event("dropped", {"count": self._dropped})
                        self._dropped = 0
                    else:
                        line = self._events.popleft()
                    self.writer.write(line)
                    await self.writer.drain()
                    if not self._replies:
                        self._drained.set()
                self._drained.set()
                if self.closing:
                    return
        except (ConnectionError, RuntimeError):
            return  # the client went away; the reader side notices too
        finally:
            self.closing = True
            self._drained.set()

    def finish(self) -> None:
        """Close once everything queued so far is written."""
        self.closing = True
        self._ready.set()


class ControlServer:
    def __init__(
        self,
        path: Path,
        handler: ControlHandler,
        *,
        max_clients: int = MAX_CLIENTS,
        idle_timeout: float = IDLE_TIMEOUT,
        queue_limit: int = QUEUE_LIMIT,
        uid: int | None = None,
        gid: int | None = None,
        on_forbidden: Callable[[Peer], None] | None = None,
    ) -> None:
        self.path = path
        #: Told of each peer turned away (the audit trail records it as a refusal).
        self.on_forbidden = on_forbidden
        self.handler = handler
        self.max_clients = max_clients
        self.idle_timeout = idle_timeout
        self.queue_limit = queue_limit
        self._uid, self._gid = uid, gid
        self.connections: set[Connection] = set()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle --------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on `path` (mode 0660). Call with the state lock held: any socket file there is stale."""
        self._loop = asyncio.get_running_loop()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with unix_address(self.path) as address:
            old_umask = os.umask(0o117)  # born 0660: no moment where others could connect
            try:
                self._server = await asyncio.start_unix_server(
                    self._serve, path=address, limit=protocol.MAX_LINE_BYTES
                )
            finally:
                os.umask(old_umask)
        os.chmod(self.path, SOCKET_MODE)
        log.info("Control socket at %s", self.path)

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for connection in list(self.connections):
            connection.writer.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self._server.wait_closed()
        self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    # -- publishing (event loop only) -------------------------------------------------------------------
    def subscribers(self, topic: str) -> int:
        return sum(1 for c in self.connections if topic in c.topics)

    def publish(self, topic: str, data: Any) -> None:
        """Push `data` as event `topic` to every subscriber; encoded once, never waits."""
        targets = [c for c in self.connections if topic in c.topics and not c.closing]
        if not targets:
            return
        line = protocol.event(topic, data)
        for connection in targets:
            connection.push(line)

    def publish_threadsafe(self, topic: str, data: Any) -> None:
        """`publish` from any thread (log records come from the audio thread too)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(self.publish, topic, data)

    # -- one client -------------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._converse(reader, writer)
        except asyncio.CancelledError:
            # Only `close()` cancels these tasks; returning normally keeps asyncio's stream callback from
            # logging the cancellation as an error.
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = peer_of(writer.get_extra_info("socket"))
        if not may_control(peer, self._uid, self._gid):
            log.warning(
                "Control socket: refused %s (not root, the bot's user or in its group)", peer.describe()
            )
            if self.on_forbidden is not None:
                self.on_forbidden(peer)
            writer.write(
                protocol.error(
                    None,
                    protocol.FORBIDDEN,
                    f"uid {peer.uid} may not control QuranBot: use root, the bot's user, "
                    "or a member of its group",
                )
            )
            await writer.drain()
            return
        if len(self.connections) >= self.max_clients:
            writer.write(
                protocol.error(None, protocol.BUSY, f"too many clients ({self.max_clients}); try again later")
            )
            await writer.drain()
            return
        connection = Connection(writer, peer, self.queue_limit)
        self.connections.add(connection)
        pump = asyncio.create_task(connection.pump(), name="control socket writer")
        try:
            connection.send(protocol.event("hello", self.hello()))
            await self._read_requests(reader, connection)
            connection.finish()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(pump), 2.0)
        finally:
            self.connections.discard(connection)
            connection.closing = True
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    def hello(self) -> dict[str, Any]:
        return {
            "protocol": protocol.PROTOCOL_VERSION,
            "server": "quranbot",
            "version": __version__,
            "pid": os.getpid(),
            "methods": list(protocol.METHODS),
            "topics": list(protocol.TOPICS),
        }

    async def _read_requests(self, reader: asyncio.StreamReader, connection: Connection) -> None:
        while not connection.closing:
            timeout = None if connection.topics else self.idle_timeout
            try:
                line = await asyncio.wait_for(reader.readline(), timeout)
            except TimeoutError:
                connection.send(
                    protocol.error(
                        None,
                        protocol.IDLE,
                        f"no request for {self.idle_timeout:g} s and no subscription; closing",
                    )
                )
                return
            except ValueError:  # asyncio's "chunk exceeds the limit"
                connection.send(
                    protocol.error(
                        None,
                        protocol.LINE_TOO_LONG,
                        f"a line may be at most {protocol.MAX_LINE_BYTES} bytes; closing",
                    )
                )
                return
            except ConnectionError:
                return
            if not line:
                return  # the client closed its end
            if not line.strip():
                continue
            await self._answer(line, connection)
            await connection.replies_below(REPLY_BACKLOG)

    async def _answer(self, line: bytes, connection: Connection) -> None:
        request_id = None
        try:
            request = protocol.parse_request(line)
            request_id = request.id
            if request.method == "subscribe":
                self._subscribe(request, connection)  # replies itself, then sends the snapshot
                return
            if request.method == "hello":
                result: Any = self.hello()
            elif request.method == "unsubscribe":
                topics = self._topics(request)
                connection.topics.difference_update(topics)
                result = {"topics": sorted(connection.topics)}
            elif request.method not in protocol.METHODS:
                raise ProtocolError(
                    protocol.UNKNOWN_METHOD,
                    f"no method {request.method!r}; the methods are: {', '.join(protocol.METHODS)}",
                )
            else:
                result = await self.handler.handle(request, connection)
            connection.send(protocol.reply(request_id, result))
        except ProtocolError as exc:
            connection.send(protocol.error(request_id, exc.code, exc.message))
        except Exception as exc:
            log.exception("Control socket: a request failed")
            connection.send(protocol.error(request_id, protocol.INTERNAL, f"the bot failed to answer: {exc}"))

    def _topics(self, request: Request) -> list[str]:
        topics = protocol.Params(request.params).text_list("topics")
        if not topics:
            raise ProtocolError(
                protocol.BAD_PARAMS, f'"topics" is required: some of {", ".join(protocol.TOPICS)}'
            )
        unknown = [t for t in topics if t not in protocol.TOPICS]
        if unknown:
            raise ProtocolError(
                protocol.BAD_PARAMS, f"no topic {unknown[0]!r}; the topics are: {', '.join(protocol.TOPICS)}"
            )
        return topics

    def _subscribe(self, request: Request, connection: Connection) -> None:
        """Reply first, then the snapshot, then live events: queued in that order, so no event is lost
        or comes before the state it changes."""
        topics = self._topics(request)
        new = [t for t in topics if t not in connection.topics]
        connection.send(protocol.reply(request.id, {"topics": sorted(connection.topics | set(topics))}))
        for topic in new:
            for name, data in self.handler.snapshot(topic):
                connection.send(protocol.event(name, data))
        connection.topics.update(new)
