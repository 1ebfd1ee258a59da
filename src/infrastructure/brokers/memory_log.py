"""One audience's log in the embedded broker: its counter and its last events."""

from collections import deque
from collections.abc import Iterator
from typing import NamedTuple
from uuid import UUID

from domain.sse import SSECategory, SSEEvent


class Entry(NamedTuple):
    order: int  # first: entries of different logs merge by it
    seq: int
    category: SSECategory
    body: bytes  # ``event:`` and ``data:``; the ``id:`` line depends on who reads it
    event_id: UUID  # with the type, what a repeated delivery is recognised by
    event_type: str


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
