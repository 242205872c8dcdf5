"""A stand-in for systemd running `quranbot.service`: restart on exit, and the watchdog.

systemd itself cannot run here as PID 1 (tests/system boots a real one in a container); this does the
two things of it that the soak needs, as the unit asks for them: the bot gets `NOTIFY_SOCKET` and
`WATCHDOG_USEC`, READY=1 and WATCHDOG=1 arrive on a datagram socket, and when the pings stop for
WatchdogSec the process gets SIGABRT and then SIGCONT (so a stopped one can die), as systemd does. Any
exit is followed by a start after `restart_delay` (Restart=always, RestartSec).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(
        self,
        command: Sequence[str],
        *,
        runtime_dir: Path,
        log_file: Path,
        watchdog_seconds: float = 5.0,
        restart_delay: float = 0.5,
        env: dict[str, str] | None = None,
    ) -> None:
        self.command = list(command)
        self.log_file = log_file
        self.watchdog_seconds = watchdog_seconds
        self.restart_delay = restart_delay
        self.env = {**os.environ, **(env or {})}
        self.notify_path = runtime_dir / "notify.sock"
        self.process: asyncio.subprocess.Process | None = None
        #: Starts after the first, and how many were for a watchdog timeout.
        self.restarts = 0
        self.watchdog_trips = 0
        #: Set when the running process has said READY=1.
        self.ready = asyncio.Event()
        self._last_ping = 0.0
        self._stopping = False
        self._socket: socket.socket | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def pid(self) -> int | None:
        process = self.process
        return process.pid if process is not None and process.returncode is None else None

    async def start(self) -> None:
        self.notify_path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.notify_path.unlink()
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
        self._socket.bind(str(self.notify_path))
        asyncio.get_running_loop().add_reader(self._socket.fileno(), self._on_datagram)
        await self._spawn()
        self._tasks.append(asyncio.create_task(self._supervise(), name="soak supervisor"))

    async def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait, as `systemctl stop`; SIGKILL after `timeout`. Returns the exit code."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        code = None
        process = self.process
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGCONT)
            process.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.kill()
                code = await process.wait()
        if self._socket is not None:
            asyncio.get_running_loop().remove_reader(self._socket.fileno())
            self._socket.close()
        return code

    async def exited(self, pid: int | None, timeout: float = 10.0) -> None:
        """Wait until the process `pid` (the one running when it was taken) has exited."""
        process = self.process
        if pid is None or process is None or process.pid != pid:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), timeout)

    def signal(self, sig: int) -> None:
        if self.pid is not None and self.process is not None:
            self.process.send_signal(sig)

    async def _spawn(self) -> None:
        self.ready.clear()
        self._last_ping = time.monotonic()
        env = {
            **self.env,
            "NOTIFY_SOCKET": str(self.notify_path),
            "WATCHDOG_USEC": str(int(self.watchdog_seconds * 1_000_000)),
        }
        with open(self.log_file, "ab") as output:
            self.process = await asyncio.create_subprocess_exec(
                *self.command, stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=output, env=env
            )

    def _on_datagram(self) -> None:
        assert self._socket is not None
        while True:
            try:
                data = self._socket.recv(4096)
            except BlockingIOError:
                return
            fields = dict(
                line.split("=", 1) for line in data.decode(errors="replace").splitlines() if "=" in line
            )
            if fields.get("READY") == "1":
                self.ready.set()
                self._last_ping = time.monotonic()
            if fields.get("WATCHDOG") == "1":
                self._last_ping = time.monotonic()

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            process = self.process
            assert process is not None
            if process.returncode is not None:
                log.info("The bot exited (%s); starting it again", process.returncode)
                await asyncio.sleep(self.restart_delay)
                self.restarts += 1
                await self._spawn()
            elif self.ready.is_set() and time.monotonic() - self._last_ping > self.watchdog_seconds:
                log.info("Watchdog: no ping for %.1f s; SIGABRT", time.monotonic() - self._last_ping)
                self.watchdog_trips += 1
                process.send_signal(signal.SIGABRT)
                process.send_signal(signal.SIGCONT)
                self.ready.clear()  # no second SIGABRT while it dies
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
