"""The embedded broker's logs: one per audience (a user, a group, the broadcasts), a counter and last events."""

import time
from collections import OrderedDict, deque
from collections.abc import Hashable, Iterator
from typing import Generic, NamedTuple, TypeVar
from uuid import UUID

from domain.sse import SSECategory, SSEEvent

K = TypeVar("K", bound=Hashable)


class Entry(NamedTuple):
    order: int  # first: entries of different logs merge by it
    seq: int
    category: SSECategory
    body: bytes  # ``event:`` and ``data:``; the ``id:`` line depends on who reads it
    event_id: UUID  # with the type, what a repeated delivery is recognised by
    event_type: str
    user: UUID | None = None
    """In a group's log: the user the event also went to (whose streams have it from their own log),
    or the user who left (``stream.unwatched``)."""


class Log:
    """The positions given in one audience's log, the last events, and below which resume is not exact.

    Args:
        capacity: events kept (0: none, the log only counts).
        start: the position before its first event.
        floor: a client further back than this may have missed events that are gone.
    """

    __slots__ = ("entries", "floor", "seq")

    def __init__(self, capacity: int, *, start: int, floor: int) -> None:
        self.entries: deque[Entry] = deque(maxlen=capacity)
        self.seq = start
        self.floor = floor

    def keep(self, entry: Entry) -> None:
        if len(self.entries) == self.entries.maxlen:
            self.floor = self.entries[0].seq
        self.entries.append(entry)

    def after(self, seq: int) -> Iterator[Entry]:
        return (entry for entry in self.entries if entry.seq > seq)

    def holds(self, event: SSEEvent) -> bool:
        return any(entry.event_id == event.event_id and entry.event_type == event.event_type for entry in self.entries)


class Logs(Generic[K]):
    """The logs of one kind of audience (users, or groups), at most ``bound`` of them.

    The least recently written log is forgotten first, so memory stays
    bounded. A log starts counting at the time it is made (nanoseconds since
    the broker started), so a log made again after it was forgotten continues
    above every position the forgotten one gave.
    """

    def __init__(self, capacity: int, *, bound: int, started_ns: int) -> None:
        self._capacity = capacity
        self._bound = bound
        self._started_ns = started_ns
        self._logs: OrderedDict[K, Log] = OrderedDict()
        self._forgotten_up_to = 0  # the highest position a forgotten log had reached

    def get(self, key: K) -> Log | None:
        return self._logs.get(key)

    def now(self) -> int:
        """A position that follows every one given so far to an audience without a log."""
        return max(time.monotonic_ns() - self._started_ns, self._forgotten_up_to)

    def head(self, key: K) -> int:
        """Where a client that has everything of ``key`` so far is, without making it a log."""
        log = self._logs.get(key)
        return log.seq if log is not None else self.now()

    def floor(self, key: K) -> int:
        """Below this, what followed a position in ``key``'s log may be gone."""
        log = self._logs.get(key)
        return log.floor if log is not None else self._forgotten_up_to

    def log_for(self, key: K) -> Log:
        """``key``'s log, made if missing, and marked as the most recently written."""
        log = self._logs.get(key)
        if log is None:
            # Any position below the forgotten ones may have been followed by events that are gone now.
            log = Log(self._capacity, start=self.now(), floor=self._forgotten_up_to)
            self._logs[key] = log
            if len(self._logs) > self._bound:
                _, evicted = self._logs.popitem(last=False)
                self._forgotten_up_to = max(self._forgotten_up_to, evicted.seq)
        else:
            self._logs.move_to_end(key)
        return log
