"""Where `/metrics` listens: `HOST:PORT` as config.toml's `metrics.listen` or `--metrics` gives it.

Only an IP address (or `localhost`) is accepted, never a host name: a name that resolves to a public
address would expose the metrics without the admin having written that address. A bare port means
loopback. Any other address is allowed, but the caller says it is reachable from other machines.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

#: The port the docs and error messages suggest (nothing listens unless the admin sets an address).
DEFAULT_PORT = 9464
LOOPBACK = "127.0.0.1"
EXAMPLE = f"{LOOPBACK}:{DEFAULT_PORT}"


class BadAddress(ValueError):
    """Why a listen address is refused: `reason` follows the quoted address (`"x:1" is not ...`)."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"{json.dumps(text)} {reason}")
        self.reason = reason


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        """Reachable from this machine only."""
        return ipaddress.ip_address(self.host).is_loopback

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self}/metrics"


def parse_listen(text: str) -> ListenAddress:
    """`127.0.0.1:9464`, `[::1]:9464`, `0.0.0.0:9464`, `localhost:9464`, or `9464` (loopback)."""
    raw = text.strip()
    host, sep, port_text = raw.rpartition(":")
    if not sep:
        host, port_text = LOOPBACK, raw
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise BadAddress(raw, f"needs brackets around its IPv6 address, such as [::1]:{DEFAULT_PORT}")
    if not host:
        raise BadAddress(
            raw,
            f"gives no address: {EXAMPLE} serves this machine only, 0.0.0.0:{DEFAULT_PORT} every interface",
        )
    if host == "localhost":
        host = LOOPBACK
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        raise BadAddress(
            raw,
            f"is not an IP address and port (such as {EXAMPLE}; host names are not accepted, so what a "
            "name resolves to never decides who can read the metrics)",
        ) from None
    if not (port_text.isascii() and port_text.isdigit() and 1 <= int(port_text) <= 65535):
        raise BadAddress(raw, "has no port from 1 to 65535 (such as " + EXAMPLE + ")")
    return ListenAddress(host, int(port_text))
