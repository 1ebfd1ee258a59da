"""A per-user rate: a token bucket for each user, kept in memory for the users seen lately."""

import time
from collections import OrderedDict
from uuid import UUID


class PerUserRate:
    """``per_minute`` actions per user, sustained, in bursts of up to the same number.

    Kept here rather than in Litestar's rate-limit middleware because it is
    keyed by the authenticated user, known only after authentication.
    """

    def __init__(self, per_minute: int, *, max_tracked_users: int = 100_000) -> None:
        self._capacity = float(per_minute)
        self._refill_per_second = per_minute / 60.0
        self._buckets: OrderedDict[UUID, tuple[float, float]] = OrderedDict()
        self._max_tracked = max_tracked_users

    def take(self, user_id: UUID) -> bool:
        """True (and one action counted) when the user may act now."""
        now = time.monotonic()
        tokens, last = self._buckets.pop(user_id, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - last) * self._refill_per_second)
        if tokens < 1.0:
            self._buckets[user_id] = (tokens, now)
            return False
        self._buckets[user_id] = (tokens - 1.0, now)
        if len(self._buckets) > self._max_tracked:
            self._buckets.popitem(last=False)  # the longest-idle user, whose bucket is full again anyway
        return True

    def give_back(self, user_id: UUID) -> None:
        """Undo a :meth:`take` whose action did not happen after all."""
        bucket = self._buckets.get(user_id)
        if bucket is not None:
            tokens, last = bucket
            self._buckets[user_id] = (min(self._capacity, tokens + 1.0), last)

    def retry_after_seconds(self, user_id: UUID) -> int:
        """Seconds until the user's next action would be allowed."""
        tokens, _ = self._buckets.get(user_id, (self._capacity, 0.0))
        return max(1, int((1.0 - tokens) / self._refill_per_second) + 1)
