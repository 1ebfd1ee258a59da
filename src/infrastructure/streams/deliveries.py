"""What this process did with each recent event: the streams it reached, those it skipped and why, and when
its frames reached the sockets.

One :class:`EventDelivery` per event per process, made at fan-out and shared by every stream the event is
queued on: a stream's queue holds a reference to it beside the frame, and the writer reports the frame
written through it. So a frame written costs one histogram observation and two increments, and a stream
skipped one increment, never a list per stream. The records live in a ring of a fixed size
(:class:`RecentDeliveries`), so the memory they take is bounded whatever the traffic.
"""

import bisect
import time
from collections import Counter, deque
from collections.abc import Iterable

import attrs

from domain.sse import SSECategory

#: Upper bounds (seconds) of the commit-to-socket buckets: from the commit of the change that raised an event
#: to its frame written to a stream's socket (the outbox relay's pass and the broker included).
COMMIT_TO_SOCKET_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Users named of the streams skipped, per event and process: enough to recognise the one asked about.
MAX_EXAMPLES = 8

#: Why an open stream of the audience did not get an event.
FILTERED = "filtered_by_category"
SLOW_CLIENT = "slow_client"


@attrs.define
class LatencyHistogram:
    """One category's commit-to-socket histogram: plain counts, exported at scrape time."""

    buckets: list[int] = attrs.field(factory=lambda: [0] * (len(COMMIT_TO_SOCKET_BUCKETS) + 1))
    """Observations per bucket (not cumulative); a negative latency (clocks apart) counts in the first."""
    total: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.buckets)


class CommitToSocket:
    """The histograms by category; the labels are the registry's categories, so the series are bounded."""

    def __init__(self) -> None:
        self.by_category: dict[SSECategory, LatencyHistogram] = {
            category: LatencyHistogram() for category in SSECategory
        }


class EventDelivery:
    """One event on this process: streams it was queued on, written to, skipped (and why)."""

    __slots__ = (
        "_changes",
        "_histogram",
        "category",
        "changed",
        "committed_at",
        "event_id",
        "event_type",
        "examples",
        "first_at",
        "last_at",
        "queued",
        "skipped",
        "written",
    )

    def __init__(
        self,
        event_id: str,
        event_type: str,
        category: SSECategory,
        committed_at: float | None,
        histogram: LatencyHistogram | None,
        changes: list["EventDelivery"] | None,
    ) -> None:
        self.event_id = event_id
        self.event_type = event_type
        self.category = category
        self.committed_at = committed_at
        self.first_at = self.last_at = time.time()
        #: Streams its frame was queued on (counted by the queue itself, the cheapest place).
        self.queued = 0
        self.written = 0
        self.skipped: Counter[str] = Counter()
        #: (reason, user id) of a few skipped streams: which ones, without a list per stream.
        self.examples: list[tuple[str, str]] = []
        self._histogram = histogram if committed_at is not None else None
        self._changes = changes
        #: Reported as changed already (or never: nothing shares this process's records).
        self.changed = changes is None
        if not self.changed:
            self._touch()

    def wrote(self, now: float) -> None:
        """Its frame was written to one more stream's socket at ``now`` (its latency observed, as cheaply as can be:
        this runs for every event and every stream)."""
        self.written += 1
        self.last_at = now
        histogram = self._histogram
        if histogram is not None:
            seconds = now - self.committed_at  # type: ignore[operator]  # set whenever the histogram is
            histogram.buckets[bisect.bisect_left(COMMIT_TO_SOCKET_BUCKETS, seconds)] += 1
            histogram.total += seconds
        if not self.changed:
            self._touch()

    def skip(self, reason: str, user_id: object) -> None:
        """An open stream of its audience did not get it, for ``reason``."""
        self.skipped[reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append((reason, str(user_id)))
        if not self.changed:
            self._touch()

    def _touch(self) -> None:
        self.changed = True
        if self._changes is not None:
            self._changes.append(self)


def wrote_all(deliveries: Iterable["EventDelivery | None"]) -> None:
    """The frames of ``deliveries`` (None: a frame that is no event's, such as a heartbeat) were just written."""
    now = time.time()
    for delivery in deliveries:
        if delivery is not None:
            delivery.wrote(now)


class RecentDeliveries:
    """The records of the last ``capacity`` events this process fanned out, found by event id.

    The ring is the memory bound: the oldest record is forgotten when a new one comes, and records older
    than ``window_seconds`` are not answered for. Events that reach the process as several messages (one
    per user of a set, or one per log) share one record.
    """

    def __init__(self, *, capacity: int, window_seconds: float) -> None:
        self.capacity = capacity
        self.window_seconds = window_seconds
        self.latency = CommitToSocket()
        self._ring: deque[EventDelivery] = deque()
        self._by_id: dict[str, EventDelivery] = {}
        #: Records changed since :meth:`take_changes` (each once), while something shares them (:meth:`share`).
        self._changes: list[EventDelivery] | None = None

    def share(self) -> None:
        """From now on, remember which records change, for :meth:`take_changes` (a store shared by processes)."""
        if self._changes is None:
            self._changes = []

    def begin(self, event_id: str, event_type: str, category: SSECategory, committed_at: float | None) -> EventDelivery:
        """The record of ``event_id`` (made if this process has none yet)."""
        record = self._by_id.get(event_id)
        if record is not None:
            return record
        record = EventDelivery(
            event_id, event_type, category, committed_at, self.latency.by_category.get(category), self._changes
        )
        if len(self._ring) >= self.capacity:
            oldest = self._ring.popleft()
            if self._by_id.get(oldest.event_id) is oldest:
                del self._by_id[oldest.event_id]
        self._ring.append(record)
        self._by_id[event_id] = record
        return record

    def find(self, event_id: str) -> EventDelivery | None:
        """This process's record of ``event_id`` within the window, or None."""
        record = self._by_id.get(event_id)
        if record is None or time.time() - record.first_at > self.window_seconds:
            return None
        return record

    def take_changes(self) -> list[EventDelivery]:
        """The records changed since the last call; each is reported again when it changes again."""
        if self._changes is None:
            return []
        changes = list(self._changes)
        self._changes.clear()  # the same list: the records append to it
        for record in changes:
            record.changed = False
        return changes
