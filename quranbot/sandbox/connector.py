"""Point an unmodified discord.py at a sandbox: a connector whose resolver sends every host to it.

`discord.Client(connector=sandbox_connector(address, cert_file))` is the only change the bot makes; REST,
the gateway and the voice gateway all go through this connector. Voice UDP goes to the address the
(sandbox's) voice gateway hands out, which is loopback.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult


class LoopbackResolver(AbstractResolver):
    """Resolves every host name to the sandbox's address and port."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=self._host,
                port=self._port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None


def sandbox_connector(host: str, port: int, cert_file: Path, **kwargs: Any) -> aiohttp.TCPConnector:
    """A connector for `discord.Client(connector=...)` that reaches the sandbox at `host:port`."""
    context = ssl.create_default_context(cafile=str(cert_file))
    # No connection cap, as discord.py's own connector: each voice websocket holds one connection, and
    # aiohttp's default limit of 100 would stop the 100th guild from joining voice.
    kwargs.setdefault("limit", 0)
    return aiohttp.TCPConnector(resolver=LoopbackResolver(host, port), ssl=context, **kwargs)
