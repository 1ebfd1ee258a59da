"""The embedded broker: publisher and subscriber in one process, with bounded retention."""

import heapq
import re
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING
from uuid import UUID

import attrs

from domain.ports import DeliveryAttempt
from domain.sse import Group, SSECategory, SSEEvent
from infrastructure.brokers.memory_log import Entry, Log, Logs
from infrastructure.sse.framing import encode_id_line, encode_json_body
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.deliveries import FILTERED, EventDelivery
from infrastructure.streams.group_ids import from36, group_order, section, split_id, to36
from infrastructure.streams.hub import StreamHub
from infrastructure.streams.inbox import Inbox, InboxEventStream
from infrastructure.streams.signals import UNWATCHED_EVENT_TYPE, ResetReason, reset_frame

if TYPE_CHECKING:  # tracing is imported only when it is on
    from infrastructure.tracing.tracing import Tracing

_POSITION = re.compile(r"([0-9a-f]{8})-(\d{1,19})_(\d{1,19})")

#: Where a replayed entry comes from, when not from a group's log (a group's is its index in the stream's order).
_USER_LOG, _BROADCAST_LOG = -1, -2


class InMemoryBroker:
    """Publisher and subscriber for a single process: the embedded default.

    A position is ``<epoch>-<user>_<broadcast>``, followed for a stream in
    groups by each group's position (see :mod:`~infrastructure.streams.group_ids`):
    where the client is in its own user's log, the broadcast log and each
    group's log, as the Redis broker's cursor. Each log counts on its own, so
    a user's ids move with the events that user receives, never with other
    users' activity. The epoch changes on every start, so an id from a
    previous run is recognised as unknown instead of being misread. Each
    event is encoded once; only its ``id:`` line is per user (per stream, for
    a stream in groups).

    Args:
        retention: events kept per user, per group and for broadcasts, for resume; 0 turns resume off.
        max_retained_users: users (and, apart, groups) whose history is kept; the least recently
            addressed one's history is dropped first, so memory stays bounded.
    """

    def __init__(
        self,
        hub: StreamHub,
        wire_format: WireFormat,
        *,
        retention: int,
        max_retained_users: int,
        tracing: "Tracing | None" = None,
    ) -> None:
        self._hub = hub
        self._tracing = tracing
        self._wire_format = wire_format
        self._retention = retention
        self._epoch = secrets.token_hex(4)
        started_ns = time.monotonic_ns()
        self._order = 0  # across every log, never shown: how a replay interleaves the logs
        self._users: Logs[UUID] = Logs(retention, bound=max_retained_users, started_ns=started_ns)
        self._groups: Logs[Group] = Logs(retention, bound=max_retained_users, started_ns=started_ns)
        self._broadcast_log = Log(retention, start=0, floor=0)

    # -- publisher -------------------------------------------------------
    async def publish(self, event: SSEEvent) -> None:
        self._append(event)

    async def publish_to_users(self, event: SSEEvent, user_ids: Iterable[UUID]) -> None:
        for user_id in user_ids:
            self._append(attrs.evolve(event, user_id=user_id, group=None))

    async def broadcast(self, event: SSEEvent) -> None:
        self._append(attrs.evolve(event, user_id=None, group=None))

    async def publish_now(self, events: Sequence[SSEEvent], attempt: DeliveryAttempt) -> None:
        # A retry skips what its logs already hold (within retention: without it, nothing is kept to compare).
        retry = attempt.first_tried_at is not None
        for event in events:
            if retry and self._retention and all(log.holds(event) for log in self._logs_of(event)):
                continue
            self._append(event)

    # -- subscriber ------------------------------------------------------
    async def subscribe(
        self,
        user_id: UUID,
        *,
        categories: frozenset[SSECategory] | None = None,
        last_event_id: str | None = None,
        groups: frozenset[Group] = frozenset(),
    ) -> InboxEventStream:
        # Registering and computing the replay without an await in between
        # means no event can fall between them: nothing lost, nothing twice.
        inbox = self._hub.open(user_id, categories, groups)
        if last_event_id is not None:
            replay = self._replay(inbox, last_event_id)
            inbox.push_replay(replay)
            self._hub.stats.resumed(len(replay))
        return InboxEventStream(inbox)

    async def position(self, user_id: UUID, groups: frozenset[Group] = frozenset()) -> str | None:
        if not self._retention:
            return None
        return self._head_position(user_id, groups)

    async def is_ready(self) -> bool:
        return True

    def log_of(self, audience: UUID | Group | None) -> Log | None:
        """The log kept of a user, a group, or (None) the broadcasts; None when there is none (now)."""
        if audience is None:
            return self._broadcast_log
        return self._users.get(audience) if isinstance(audience, UUID) else self._groups.get(audience)

    # -- internals -------------------------------------------------------
    def _position(self, user_seq: int, broadcast_seq: int, groups: frozenset[Group], group_seqs: list[int]) -> str:
        base = f"{self._epoch}-{user_seq}_{broadcast_seq}"
        return base + section(group_order(groups), map(to36, group_seqs)) if groups else base

    def _head_position(self, user_id: UUID, groups: frozenset[Group]) -> str:
        """Where a stream of ``user_id`` in ``groups`` that has received everything up to now is."""
        heads = [self._groups.head(group) for group in group_order(groups).groups] if groups else []
        return self._position(self._users.head(user_id), self._broadcast_log.seq, groups, heads)

    def _stream_position(self, inbox: Inbox) -> str:
        return self._head_position(inbox.user_id, inbox.groups)

    def _logs_of(self, event: SSEEvent) -> list[Log]:
        """The logs an event is written to: its user's and its group's, or the broadcast log."""
        logs = []
        if event.user_id is not None:
            logs.append(self._users.log_for(event.user_id))
        if event.group is not None:
            logs.append(self._groups.log_for(event.group))
        return logs or [self._broadcast_log]

    def _append(self, event: SSEEvent) -> None:
        tracing = self._tracing
        started_ns = time.time_ns() if tracing is not None else 0
        body = encode_json_body(event=event.event_type, data_json=self._wire_format.data_json(event))
        left = UUID(event.data["user_id"]) if event.event_type == UNWATCHED_EVENT_TYPE else None
        for log in self._logs_of(event):  # every log first: a stream reached through one has its place in both
            log.seq += 1
            self._order += 1
            if self._retention:
                user = left or event.user_id
                log.keep(Entry(self._order, log.seq, event.category, body, event.event_id, event.event_type, user))
        committed = event.committed_at.timestamp() if event.committed_at is not None else None
        record = self._hub.deliveries.begin(str(event.event_id), event.event_type, event.category, committed)
        if event.is_broadcast:
            streams = self._fan_out(self._hub.all_streams(), event.category, body, record)
        else:
            user = event.user_id
            streams = self._fan_out(self._hub.streams_of(user), event.category, body, record) if user else 0
            if event.group is not None and left is not None:
                streams += self._unwatch(event.group, left, body)
            elif event.group is not None:
                # A stream of the event's user has it from the user's log already.
                streams += self._fan_out(self._hub.members(event.group), event.category, body, record, user)
        self._hub.stats.fanned_out(event.event_type, streams, event.occurred_at)
        if tracing is not None and (carrier := tracing.carrier_of(event.event_id)) is not None:
            tracing.delivered(carrier, event.event_type, streams, started_ns)

    def _fan_out(
        self,
        inboxes: Iterable[Inbox],
        category: SSECategory,
        body: bytes,
        record: EventDelivery,
        skip_user: UUID | None = None,
    ) -> int:
        plain_ids: dict[UUID, bytes] = {}  # a stream in no group has its user's id: made once per user
        pushed = 0
        for inbox in inboxes:
            if inbox.user_id == skip_user:
                continue
            if not inbox.wants(category):
                record.skip(FILTERED, inbox.user_id)
                continue
            if inbox.groups:
                id_line = encode_id_line(self._stream_position(inbox))
            else:
                id_line = plain_ids.get(inbox.user_id) or plain_ids.setdefault(
                    inbox.user_id, encode_id_line(self._stream_position(inbox))
                )
            inbox.push(id_line + body, record)
            pushed += 1
        return pushed

    def _unwatch(self, group: Group, user_id: UUID, body: bytes) -> int:
        """``user_id``'s streams leave ``group``, each told so with its id after the group is gone from it."""
        told = 0
        for inbox in self._hub.members(group):
            if inbox.user_id == user_id and self._hub.leave(inbox, group):
                inbox.push(encode_id_line(self._stream_position(inbox)) + body)
                told += 1
        return told

    def _replay(self, inbox: Inbox, last_event_id: str) -> list[bytes]:
        if not self._retention:
            return [reset_frame(ResetReason.RETENTION_DISABLED, self._stream_position(inbox))]
        user_id, groups = inbox.user_id, inbox.groups
        order = group_order(groups).groups if groups else ()
        user_floor, broadcast_floor = self._users.floor(user_id), self._broadcast_log.floor
        group_floors = [self._groups.floor(group) for group in order]
        base, fingerprint, parts = split_id(last_event_id)
        match = _POSITION.fullmatch(base)
        reason: ResetReason | None
        if match is None:
            user_after, broadcast_after, group_after, reason = (
                user_floor,
                broadcast_floor,
                group_floors,
                ResetReason.MALFORMED,
            )
        elif match[1] != self._epoch:
            user_after, broadcast_after, group_after = user_floor, broadcast_floor, group_floors
            reason = ResetReason.UNKNOWN_POSITION
        else:
            user_after, user_reason = _checked(int(match[2]), user_floor, self._users.head(user_id))
            broadcast_after, broadcast_reason = _checked(int(match[3]), broadcast_floor, self._broadcast_log.seq)
            group_after, group_reason = self._group_starts(order, group_floors, fingerprint, parts)
            reason = user_reason or broadcast_reason or group_reason or self._rejoined(user_id, order, group_after)
        frames = []
        if reason is not None:
            frames.append(reset_frame(reason, self._position(user_after, broadcast_after, groups, group_after)))
        for entry, source in self._merged(user_id, order, user_after, broadcast_after, group_after):
            if source >= 0:
                group_after[source] = entry.seq
                # Another user's leave is not this stream's, and an event also sent to this user is
                # replayed from the user's log (its own leaves were passed over: see _rejoined).
                if entry.event_type == UNWATCHED_EVENT_TYPE or entry.user == user_id:
                    continue
            if not inbox.wants(entry.category):
                continue
            if source == _USER_LOG:
                user_after = entry.seq
            elif source == _BROADCAST_LOG:
                broadcast_after = entry.seq
            id_line = encode_id_line(self._position(user_after, broadcast_after, groups, group_after))
            frames.append(id_line + entry.body)
        return frames

    def _rejoined(self, user_id: UUID, order: tuple[Group, ...], group_after: list[int]) -> ResetReason | None:
        """Start each group its user left after the id at its head: it was let in again, not in between."""
        reason = None
        for index, group in enumerate(order):
            log = self._groups.get(group)
            if log is not None and any(
                entry.event_type == UNWATCHED_EVENT_TYPE and entry.user == user_id
                for entry in log.after(group_after[index])
            ):
                group_after[index], reason = log.seq, ResetReason.GROUPS_CHANGED
        return reason

    def _group_starts(
        self, order: tuple[Group, ...], floors: list[int], fingerprint: str | None, parts: list[str]
    ) -> tuple[list[int], ResetReason | None]:
        """Where to replay each group's log from, and why that is not where the id says (None: it is)."""
        if not order:
            return [], None
        heads = [self._groups.head(group) for group in order]
        if fingerprint != group_order(frozenset(order)).fingerprint or len(parts) != len(order):
            return heads, ResetReason.GROUPS_CHANGED  # the id does not say where the client is in these groups
        starts, reason = [], None
        for part, floor, head in zip(parts, floors, heads, strict=True):
            after = from36(part)
            start, why = (floor, ResetReason.MALFORMED) if after is None else _checked(after, floor, head)
            starts.append(start)
            reason = reason or why
        return starts, reason

    def _merged(
        self, user_id: UUID, order: tuple[Group, ...], user_after: int, broadcast_after: int, group_after: list[int]
    ) -> Iterator[tuple[Entry, int]]:
        """Every retained entry after the positions, in publish order, with the log it comes from."""
        user_log = self._users.get(user_id)
        sources = [
            _tagged(user_log.after(user_after) if user_log is not None else iter(()), _USER_LOG),
            _tagged(self._broadcast_log.after(broadcast_after), _BROADCAST_LOG),
        ]
        for index, group in enumerate(order):
            log = self._groups.get(group)
            if log is not None:
                sources.append(_tagged(log.after(group_after[index]), index))
        return heapq.merge(*sources)


def _tagged(entries: Iterator[Entry], source: int) -> Iterator[tuple[Entry, int]]:
    """``entries`` with the log they come from (a function: a generator expression would bind ``source`` late)."""
    return ((entry, source) for entry in entries)


def _checked(after: int, floor: int, head: int) -> tuple[int, ResetReason | None]:
    """Where to replay one log from for a client at ``after``, and why that is not ``after`` (None: it is)."""
    if after > head:
        return floor, ResetReason.UNKNOWN_POSITION
    if after < floor:
        return floor, ResetReason.RETENTION_EXCEEDED
    return after, None
