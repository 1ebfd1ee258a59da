"""The embedded broker: publisher and subscriber in one process, with bounded retention."""

import heapq
import re
import secrets
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple
from uuid import UUID

import attrs

from domain.ports import DeliveryAttempt
from domain.sse import SSECategory, SSEEvent
from infrastructure.sse.framing import encode_json_message
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.hub import StreamHub
from infrastructure.streams.inbox import InboxEventStream
from infrastructure.streams.signals import ResetReason, reset_frame

_CURSOR = re.compile(r"([0-9a-f]{8})-(\d{1,18})")


class _Entry(NamedTuple):
    seq: int
    category: SSECategory
    frame: bytes
    event_id: UUID  # with the type, what a repeated delivery is recognised by
    event_type: str


class _Log:
    """The last events of one audience and the highest position it has dropped."""

    __slots__ = ("dropped_up_to", "entries")

    def __init__(self, capacity: int) -> None:
        self.entries: deque[_Entry] = deque(maxlen=capacity)
        self.dropped_up_to = 0

    def append(self, entry: _Entry) -> None:
        if len(self.entries) == self.entries.maxlen:
            self.dropped_up_to = self.entries[0].seq
        self.entries.append(entry)

    def after(self, seq: int) -> Iterator[_Entry]:
        return (entry for entry in self.entries if entry.seq > seq)

    def holds(self, event: SSEEvent) -> bool:
        return any(entry.event_id == event.event_id and entry.event_type == event.event_type for entry in self.entries)


class InMemoryBroker:
    """Publisher and subscriber for a single process: the embedded default.

    Positions are ``<epoch>-<sequence>``: one counter orders every user's
    events and the broadcasts, so one id resumes both; the epoch changes on
    every start, so an id from a previous run is recognised as unknown
    instead of being misread. Each event is encoded once, whatever the number
    of streams that receive it.

    Args:
        retention: events kept per user (and for broadcasts) for resume; 0 turns resume off.
        max_retained_users: users whose history is kept; the least recently
            addressed user's history is dropped first, so memory stays bounded.
    """

    def __init__(self, hub: StreamHub, wire_format: WireFormat, *, retention: int, max_retained_users: int) -> None:
        self._hub = hub
        self._wire_format = wire_format
        self._retention = retention
        self._max_users = max_retained_users
        self._epoch = secrets.token_hex(4)
        self._seq = 0
        self._user_logs: OrderedDict[UUID, _Log] = OrderedDict()
        self._broadcast_log = _Log(max(retention, 1))
        self._forgotten_up_to = 0

    # -- publisher -------------------------------------------------------
    async def publish(self, event: SSEEvent) -> None:
        self._append(event.user_id, event)

    async def publish_to_users(self, event: SSEEvent, user_ids: Iterable[UUID]) -> None:
        for user_id in user_ids:
            self._append(user_id, attrs.evolve(event, user_id=user_id))

    async def broadcast(self, event: SSEEvent) -> None:
        self._append(None, attrs.evolve(event, user_id=None))

    async def publish_now(self, events: Sequence[SSEEvent], attempt: DeliveryAttempt) -> None:
        # A retry skips what its log already holds (within retention: without it, nothing is kept to compare).
        retry = attempt.first_tried_at is not None
        for event in events:
            if retry and self._retention and self._log_for(event.user_id).holds(event):
                continue
            self._append(event.user_id, event)

    # -- subscriber ------------------------------------------------------
    async def subscribe(
        self,
        user_id: UUID,
        *,
        categories: frozenset[SSECategory] | None = None,
        last_event_id: str | None = None,
    ) -> InboxEventStream:
        # Registering and computing the replay without an await in between
        # means no event can fall between them: nothing lost, nothing twice.
        inbox = self._hub.open(user_id, categories)
        if last_event_id is not None:
            replay = self._replay(user_id, categories, last_event_id)
            inbox.push_replay(replay)
            self._hub.stats.resumed(len(replay))
        return InboxEventStream(inbox)

    async def position(self, user_id: UUID) -> str | None:
        return self._cursor(self._seq) if self._retention else None

    async def is_ready(self) -> bool:
        return True

    # -- internals -------------------------------------------------------
    def _cursor(self, seq: int) -> str:
        return f"{self._epoch}-{seq}"

    def _append(self, user_id: UUID | None, event: SSEEvent) -> None:
        self._seq += 1
        seq = self._seq
        frame = encode_json_message(
            event=event.event_type, data_json=self._wire_format.data_json(event), event_id=self._cursor(seq)
        )
        if self._retention:
            self._log_for(user_id).append(_Entry(seq, event.category, frame, event.event_id, event.event_type))
        streams = self._hub.deliver(user_id, event.category, frame)
        self._hub.stats.fanned_out(event.event_type, streams, event.occurred_at)

    def _log_for(self, user_id: UUID | None) -> _Log:
        if user_id is None:
            return self._broadcast_log
        log = self._user_logs.get(user_id)
        if log is None:
            log = self._user_logs[user_id] = _Log(self._retention)
            if len(self._user_logs) > self._max_users:
                _, evicted = self._user_logs.popitem(last=False)
                if evicted.entries:
                    self._forgotten_up_to = max(self._forgotten_up_to, evicted.entries[-1].seq)
        else:
            self._user_logs.move_to_end(user_id)
        return log

    def _replay(self, user_id: UUID, categories: frozenset[SSECategory] | None, last_event_id: str) -> list[bytes]:
        user_log = self._user_logs.get(user_id)
        match = _CURSOR.fullmatch(last_event_id)
        reason: ResetReason | None = None
        after = 0
        if not self._retention:
            reason = ResetReason.RETENTION_DISABLED
        elif match is None:
            reason = ResetReason.MALFORMED
        elif match[1] != self._epoch or int(match[2]) > self._seq:
            reason = ResetReason.UNKNOWN_POSITION
        else:
            after = int(match[2])
            user_floor = user_log.dropped_up_to if user_log is not None else self._forgotten_up_to
            if after < max(user_floor, self._broadcast_log.dropped_up_to):
                reason = ResetReason.RETENTION_EXCEEDED
                after = 0
        entries = [
            entry
            for entry in heapq.merge(
                user_log.after(after) if user_log is not None else (), self._broadcast_log.after(after)
            )
            if categories is None or entry.category in categories
        ]
        frames = [entry.frame for entry in entries]
        if reason is not None:
            signal_seq = entries[0].seq - 1 if entries else self._seq
            frames.insert(0, reset_frame(reason, self._cursor(signal_seq)))
        return frames
