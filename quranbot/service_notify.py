"""Telling systemd how the bot is doing (sd_notify): READY, STATUS, WATCHDOG, STOPPING.

The unit is `Type=notify` with `WatchdogSec=`: systemd counts the bot as started only once it sends
READY=1 (logged in and reciting), and restarts it when WATCHDOG=1 stops arriving. The protocol is a
datagram of `KEY=VALUE` lines to the socket in $NOTIFY_SOCKET; without that variable (not under
systemd) every call does nothing. No libsystemd needed.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class ServiceNotifier:
    def __init__(self, address: str | None, watchdog_seconds: float | None) -> None:
        self._address = address
        #: systemd's WatchdogSec for this process, or None when no watchdog is set.
        self.watchdog_seconds = watchdog_seconds
        self._socket: socket.socket | None = None

    @classmethod
    def from_environment(cls) -> ServiceNotifier:
        address = os.environ.get("NOTIFY_SOCKET") or None
        watchdog = None
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            watchdog = int(usec) / 1_000_000
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, **fields: str) -> None:
        """One notification: `send(READY="1", STATUS="...")`. Failures are logged, never raised: the
        bot must not stop reciting because systemd's socket went away."""
        if self._address is None:
            return
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        address = "\0" + self._address[1:] if self._address.startswith("@") else self._address
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(message, address)
        except OSError as exc:
            log.warning("Could not notify systemd at %s: %s", self._address, exc)

    def ready(self, status: str) -> None:
        self.send(READY="1", STATUS=status)

    def status(self, status: str) -> None:
        self.send(STATUS=status)

    def watchdog(self) -> None:
        self.send(WATCHDOG="1")

    def stopping(self) -> None:
        self.send(STOPPING="1", STATUS="Stopping: saving the position and leaving voice")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
