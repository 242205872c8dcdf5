"""Discord's per-route rate limits, as its response headers describe them, for the routes the sandbox
limits (a webhook's execute: 5 requests per 2 s, per webhook).

A bucket is a fixed window: the first request opens it, `limit` requests fit, and it refills `per`
seconds after it opened. Every answer carries `X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket`;
a request past the limit gets 429 with `retry_after` (seconds, as a float) in its JSON body, as Discord
sends them. A client that obeys the headers never sees the 429.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Discord's webhook execute limit, observed: 5 requests per 2 s per webhook.
WEBHOOK_LIMIT, WEBHOOK_PER = 5, 2.0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    headers: dict[str, str]
    #: Seconds until the bucket refills (what a 429's `retry_after` says).
    retry_after: float

    def too_many_body(self) -> dict[str, object]:
        return {"message": "You are being rate limited.", "retry_after": self.retry_after, "global": False}

    def too_many_headers(self) -> dict[str, str]:
        return {
            **self.headers,
            "Retry-After": str(math.ceil(self.retry_after)),
            "X-RateLimit-Scope": "user",
            "Via": "1.1 google",  # discord.py treats a 429 without it as Cloudflare's, not Discord's
        }


@dataclass
class Bucket:
    #: What the `X-RateLimit-Bucket` header says: an opaque name, the same for every request it limits.
    name: str
    limit: int = WEBHOOK_LIMIT
    per: float = WEBHOOK_PER
    clock: Callable[[], float] = time.monotonic
    #: Requests answered 429 (past the limit).
    refused: int = 0
    _opened: float = field(default=-math.inf, repr=False)
    _used: int = field(default=0, repr=False)

    @classmethod
    def for_key(cls, key: str, limit: int = WEBHOOK_LIMIT, per: float = WEBHOOK_PER) -> Bucket:
        return cls(name=hashlib.sha1(key.encode()).hexdigest()[:32], limit=limit, per=per)

    def hit(self) -> Verdict:
        """Count one request; whether it may go through, and the headers of its answer."""
        now = self.clock()
        if now - self._opened >= self.per:
            self._opened, self._used = now, 0
        reset_after = max(0.0, self._opened + self.per - now)
        allowed = self._used < self.limit
        if allowed:
            self._used += 1
        else:
            self.refused += 1
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.limit - self._used),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.name,
        }
        return Verdict(allowed, headers, round(reset_after, 3))
