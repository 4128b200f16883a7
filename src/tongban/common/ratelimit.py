"""A small sliding-window rate limiter, per process (behind a load balancer each process
limits on its own, so the effective limit is the setting times the processes)."""

from __future__ import annotations

import threading
import time
from collections import deque

from tongban.errors import DomainError


class RateLimiter:
    def __init__(self, per_minute: int, *, clock: object = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> float | None:
        """None when allowed; else the seconds to wait before the next attempt is allowed."""
        now = float(self._clock())  # type: ignore[operator]
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - 60.0:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(0.0, hits[0] + 60.0 - now)
            hits.append(now)
            if len(self._hits) > 100_000:  # forget idle clients rather than grow without bound
                self._hits = {k: v for k, v in self._hits.items() if v}
            return None


def rate_limited(wait: float) -> DomainError:
    """The 429 a limiter's refusal becomes, with the seconds to wait."""
    return DomainError(
        code="rate_limited",
        title="请求过于频繁，请稍后再试",
        title_en="Too many requests; try again shortly",
        status=429,
        extra={"retry_after": round(wait, 1)},
    )
