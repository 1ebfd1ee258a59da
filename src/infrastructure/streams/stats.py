"""Counters of this process's streams: plain integers on the hot path, read when metrics are scraped."""

import bisect
import time
from collections import Counter
from datetime import datetime

import attrs

#: Upper bounds (seconds) of the fan-out latency buckets: from an event's
#: ``occurred_at`` to its frame being queued on every local recipient stream.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@attrs.define
class StreamStats:
    """What happened to streams and events here; counting costs an increment, exporting happens on scrape."""

    opened: int = 0
    ended: Counter[str] = attrs.field(factory=Counter)
    refused: Counter[str] = attrs.field(factory=Counter)
    """Streams that did not open, by reason: a limit reached, or the broker unavailable."""
    delivered: Counter[str] = attrs.field(factory=Counter)
    resumes: int = 0
    replayed: int = 0
    latency_buckets: list[int] = attrs.field(factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    latency_count: int = 0

    def fanned_out(self, event_type: str, streams: int, occurred_at: datetime) -> None:
        """One event was queued on ``streams`` local streams."""
        self.delivered[event_type] += streams
        latency = max(0.0, time.time() - occurred_at.timestamp())
        self.latency_buckets[bisect.bisect_left(LATENCY_BUCKETS, latency)] += 1
        self.latency_sum += latency
        self.latency_count += 1

    def resumed(self, replayed: int) -> None:
        """A stream resumed after a ``Last-Event-ID`` (or caught up after an outage)."""
        self.resumes += 1
        self.replayed += replayed
