"""`/metrics` over HTTP, on the bot's own event loop (aiohttp, with prometheus_client's handler).

On the loop rather than in prometheus_client's server thread: the collector reads the players and the
listening tracker, which the loop changes, and a scrape every 15 s costs it about a millisecond. An
address that cannot be bound (a port in use) is one clear error line; the bot recites on without it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.registry import CollectorRegistry

from quranbot.metrics.address import EXAMPLE, ListenAddress

log = logging.getLogger(__name__)


def exposure_warning(address: ListenAddress) -> str | None:
    """What to tell the admin about an address other machines can reach; None for loopback."""
    if address.loopback:
        return None
    return (
        f"/metrics is served on {address}, which other machines can reach: anyone who can connect to "
        f"port {address.port} reads them (no member ids, but server ids and activity). Firewall it, or "
        f"set metrics.listen = {EXAMPLE} to keep it on this machine"
    )


class MetricsServer:
    def __init__(
        self, registry: CollectorRegistry, address: ListenAddress, on_close: Callable[[], None] = lambda: None
    ) -> None:
        self.registry = registry
        self.address = address
        #: Called once the server has stopped (the bot's metrics stop following its events).
        self.on_close = on_close
        self._runner: web.AppRunner | None = None

    async def start(self) -> bool:
        """Listen; False (logged) when the address cannot be bound."""
        app = web.Application()
        app.router.add_get("/metrics", make_aiohttp_handler(self.registry))
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.address.host, self.address.port, reuse_address=True).start()
        except OSError as exc:
            await runner.cleanup()
            log.error(
                "No metrics: cannot listen on %s (%s); the bot recites on without /metrics. Free the port "
                "or choose another with metrics.listen (or --metrics)",
                self.address,
                os.strerror(exc.errno) if exc.errno else exc,  # asyncio's own text repeats the address
            )
            return False
        self._runner = runner
        warning = exposure_warning(self.address)
        if warning is not None:
            log.warning(warning)
        log.info("Metrics at %s", self.address.url)
        return True

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            self.on_close()
