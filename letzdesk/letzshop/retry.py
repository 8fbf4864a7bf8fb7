"""Backoff for calls that may be repeated safely: exponential, full jitter, Retry-After honoured.

The state lives in an instance with an injectable clock and sleep, so tests can drive it
without waiting and two vendors never share a backoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import LetzshopError, RateLimitedError

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class RetryPolicy:
    attempts: int = 4
    base: float = 1.0
    cap: float = 30.0
    #: The longest Retry-After we obey; a server asking for more gets this much.
    retry_after_cap: float = 60.0
    #: Seconds all attempts together may take; no retry starts that would end past it.
    budget: float = 120.0
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def delay(self, attempt: int, error: LetzshopError) -> float:
        """Seconds to wait before attempt number ``attempt + 1`` (attempt counts from 1)."""
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.retry_after_cap)
        return self.rng.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))

    async def run(self, call: Callable[[], Awaitable[T]], what: str = "request", attempt_time: float = 0.0) -> T:
        """Run ``call``, repeating it after retryable failures; the last failure propagates.

        ``attempt_time`` is how long one more attempt may take (its deadline): a retry is only
        started when the wait and that attempt both fit in the budget.
        """
        attempt = 1
        started = self.clock()
        while True:
            try:
                return await call()
            except LetzshopError as exc:
                if not exc.retryable or attempt >= self.attempts:
                    raise
                wait = self.delay(attempt, exc)
                if self.clock() - started + wait + attempt_time > self.budget:
                    logger.info(
                        "%s failed (%s); no time left to retry within %.0f s", what, type(exc).__name__, self.budget
                    )
                    raise
                logger.info(
                    "%s failed (%s), attempt %d of %d, retrying in %.1f s",
                    what,
                    type(exc).__name__,
                    attempt,
                    self.attempts,
                    wait,
                )
                await self.sleep(wait)
                attempt += 1
