"""The embedded broker: publisher and subscriber in one process, with bounded retention."""

import heapq
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from uuid import UUID

import attrs

from domain.ports import DeliveryAttempt
from domain.sse import SSECategory, SSEEvent
from infrastructure.brokers.memory_log import Entry, Log
from infrastructure.sse.framing import encode_id_line, encode_json_body
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.hub import StreamHub
from infrastructure.streams.inbox import InboxEventStream
from infrastructure.streams.signals import ResetReason, reset_frame

_POSITION = re.compile(r"([0-9a-f]{8})-(\d{1,19})_(\d{1,19})")


class InMemoryBroker:
    """Publisher and subscriber for a single process: the embedded default.

    A position is ``<epoch>-<user>_<broadcast>``: where the client is in its
    own user's log and in the broadcast log, as the Redis broker's cursor. Each
    user's log counts on its own, so a user's ids move with that user's events
    and the broadcasts everyone sees, never with other users' activity. A
    user's log starts counting at the time it is made (nanoseconds since the
    start), so a log made again after its user was forgotten continues above
    every id the forgotten one gave. The epoch changes on every start, so an id
    from a previous run is recognised as unknown instead of being misread. Each
    event is encoded once; only its ``id:`` line is per user.

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
        self._started_ns = time.monotonic_ns()
        self._order = 0  # across every log, never shown: how a replay interleaves a user's log and the broadcasts
        self._user_logs: OrderedDict[UUID, Log] = OrderedDict()
        self._broadcast_log = Log(retention, start=0, floor=0)
        self._forgotten_up_to = 0  # the highest position a forgotten user's log had reached

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
        return self._cursor(*self._head(user_id)) if self._retention else None

    async def is_ready(self) -> bool:
        return True

    # -- internals -------------------------------------------------------
    def _cursor(self, user_seq: int, broadcast_seq: int) -> str:
        return f"{self._epoch}-{user_seq}_{broadcast_seq}"

    def _now(self) -> int:
        """A user position that follows every id given so far to a user without a log."""
        return max(time.monotonic_ns() - self._started_ns, self._forgotten_up_to)

    def _head(self, user_id: UUID) -> tuple[int, int]:
        """Where a client that has received everything up to now is, without making the user a log."""
        log = self._user_logs.get(user_id)
        return (log.seq if log is not None else self._now()), self._broadcast_log.seq

    def _append(self, user_id: UUID | None, event: SSEEvent) -> None:
        log = self._log_for(user_id)
        log.seq += 1
        self._order += 1
        body = encode_json_body(event=event.event_type, data_json=self._wire_format.data_json(event))
        if self._retention:
            log.keep(Entry(self._order, log.seq, event.category, body, event.event_id, event.event_type))
        recipients = self._hub.users() if user_id is None else (user_id,)
        streams = 0
        for recipient in recipients:
            id_line = encode_id_line(self._cursor(*self._head(recipient)))
            streams += self._hub.deliver(recipient, event.category, id_line + body)
        self._hub.stats.fanned_out(event.event_type, streams, event.occurred_at)

    def _log_for(self, user_id: UUID | None) -> Log:
        if user_id is None:
            return self._broadcast_log
        log = self._user_logs.get(user_id)
        if log is None:
            # Any id below the forgotten positions may have been followed by events that are gone now.
            log = Log(self._retention, start=self._now(), floor=self._forgotten_up_to)
            self._user_logs[user_id] = log
            if len(self._user_logs) > self._max_users:
                _, evicted = self._user_logs.popitem(last=False)
                self._forgotten_up_to = max(self._forgotten_up_to, evicted.seq)
        else:
            self._user_logs.move_to_end(user_id)
        return log

    def _replay(self, user_id: UUID, categories: frozenset[SSECategory] | None, last_event_id: str) -> list[bytes]:
        user_log = self._user_logs.get(user_id)
        user_head, broadcast_head = self._head(user_id)
        if not self._retention:
            return [reset_frame(ResetReason.RETENTION_DISABLED, self._cursor(user_head, broadcast_head))]
        user_floor = user_log.floor if user_log is not None else self._forgotten_up_to
        broadcast_floor = self._broadcast_log.floor
        match = _POSITION.fullmatch(last_event_id)
        reason: ResetReason | None
        if match is None:
            user_after, broadcast_after, reason = user_floor, broadcast_floor, ResetReason.MALFORMED
        elif match[1] != self._epoch:
            user_after, broadcast_after, reason = user_floor, broadcast_floor, ResetReason.UNKNOWN_POSITION
        else:
            user_after, user_reason = _checked(int(match[2]), user_floor, user_head)
            broadcast_after, broadcast_reason = _checked(int(match[3]), broadcast_floor, broadcast_head)
            reason = user_reason or broadcast_reason
        frames = [reset_frame(reason, self._cursor(user_after, broadcast_after))] if reason is not None else []
        merged = heapq.merge(
            ((entry, True) for entry in (user_log.after(user_after) if user_log is not None else ())),
            ((entry, False) for entry in self._broadcast_log.after(broadcast_after)),
        )
        for entry, from_user_log in merged:
            if categories is not None and entry.category not in categories:
                continue
            if from_user_log:
                user_after = entry.seq
            else:
                broadcast_after = entry.seq
            frames.append(encode_id_line(self._cursor(user_after, broadcast_after)) + entry.body)
        return frames


def _checked(after: int, floor: int, head: int) -> tuple[int, ResetReason | None]:
    """Where to replay one log from for a client at ``after``, and why that is not ``after`` (None: it is)."""
    if after > head:
        return floor, ResetReason.UNKNOWN_POSITION
    if after < floor:
        return floor, ResetReason.RETENTION_EXCEEDED
    return after, None
