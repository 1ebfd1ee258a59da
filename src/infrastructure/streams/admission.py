"""Who may open one more stream: per-process and per-user caps, and a per-user open rate."""

import enum
import time
from collections import OrderedDict
from uuid import UUID

from infrastructure.streams.hub import StreamHub


class Refusal(enum.Enum):
    """Why a stream is not opened; the edge turns each into a status code."""

    PROCESS_FULL = "this instance holds as many streams as it may"
    USER_FULL = "too many open streams for this user"
    TOO_FAST = "too many stream opens for this user; slow down"


class StreamAdmission:
    """Checks limits before a stream is registered.

    The open rate is a token bucket per user. It is kept here rather than in
    Litestar's rate-limit middleware because it is keyed by the authenticated
    user, which is known only after authentication (a ticket is consumed by it).

    Args:
        max_streams: open streams this process may hold.
        max_streams_per_user: open streams one user may hold on this process.
        opens_per_minute: sustained stream opens per user (bursts up to the same number).
    """

    def __init__(
        self,
        hub: StreamHub,
        *,
        max_streams: int,
        max_streams_per_user: int,
        opens_per_minute: int,
        max_tracked_users: int = 100_000,
    ) -> None:
        self._hub = hub
        self._max_streams = max_streams
        self._max_per_user = max_streams_per_user
        self._capacity = float(opens_per_minute)
        self._refill_per_second = opens_per_minute / 60.0
        self._buckets: OrderedDict[UUID, tuple[float, float]] = OrderedDict()
        self._max_tracked = max_tracked_users

    def check(self, user_id: UUID) -> Refusal | None:
        """None when the user may open a stream now (and count the open); otherwise why not."""
        if self._hub.open_streams >= self._max_streams:
            return Refusal.PROCESS_FULL
        if len(self._hub.streams_of(user_id)) >= self._max_per_user:
            return Refusal.USER_FULL
        now = time.monotonic()
        tokens, last = self._buckets.pop(user_id, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - last) * self._refill_per_second)
        if tokens < 1.0:
            self._buckets[user_id] = (tokens, now)
            return Refusal.TOO_FAST
        self._buckets[user_id] = (tokens - 1.0, now)
        if len(self._buckets) > self._max_tracked:
            self._buckets.popitem(last=False)  # the longest-idle user, whose bucket is full again anyway
        return None

    def retry_after_seconds(self, user_id: UUID) -> int:
        """Seconds until the user's next open would be allowed by the rate."""
        tokens, _ = self._buckets.get(user_id, (self._capacity, 0.0))
        return max(1, int((1.0 - tokens) / self._refill_per_second) + 1)
