"""Who may open one more stream: per-process and per-user caps, and a per-user open rate."""

from uuid import UUID

from application.ports import AdmissionRefusal
from infrastructure.streams.hub import StreamHub
from infrastructure.streams.rate import PerUserRate


class StreamLimits:
    """Checks limits before a stream is registered.

    Args:
        max_streams: open streams this process may hold.
        max_streams_per_user: open streams one user may hold on this process.
        opens_per_minute: sustained stream opens per user (bursts up to the same number).
    """

    def __init__(self, hub: StreamHub, *, max_streams: int, max_streams_per_user: int, opens_per_minute: int) -> None:
        self._hub = hub
        self._max_streams = max_streams
        self._max_per_user = max_streams_per_user
        self._opens = PerUserRate(opens_per_minute)

    def check(self, user_id: UUID) -> AdmissionRefusal | None:
        """None when the user may open a stream now (and count the open); otherwise why not (counted too)."""
        refusal = self._refusal(user_id)
        if refusal is not None:
            self._hub.stats.refused[refusal.name.lower()] += 1
        return refusal

    def _refusal(self, user_id: UUID) -> AdmissionRefusal | None:
        if self._hub.open_streams >= self._max_streams:
            return AdmissionRefusal.PROCESS_FULL
        if len(self._hub.streams_of(user_id)) >= self._max_per_user:
            return AdmissionRefusal.USER_FULL
        if not self._opens.take(user_id):
            return AdmissionRefusal.TOO_FAST
        return None

    def cancel(self, user_id: UUID) -> None:
        """Uncount an admitted open that did not happen; the caps count registered streams, so only the rate."""
        self._opens.give_back(user_id)

    def retry_after_seconds(self, user_id: UUID) -> int:
        """Seconds until the user's next open would be allowed by the rate."""
        return self._opens.retry_after_seconds(user_id)
