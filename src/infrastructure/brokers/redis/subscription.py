"""A subscription: what the Redis subscriber keeps per stream.

That is what the client has seen (its cursor) and what waits while it catches up.
"""

import asyncio
from typing import NamedTuple
from uuid import UUID

from domain.sse import Group, SSECategory
from infrastructure.brokers.redis.keys import ORIGIN, Cursor, Position
from infrastructure.sse.wire_format import RelayedEvent
from infrastructure.streams.deliveries import FILTERED, SLOW_CLIENT, EventDelivery
from infrastructure.streams.group_ids import group_order
from infrastructure.streams.hub import StreamHub
from infrastructure.streams.inbox import EndReason, Inbox
from infrastructure.streams.signals import UNWATCHED_EVENT_TYPE

#: The logs a message comes from, besides a group's (a :class:`~domain.sse.Group`); compared by identity.
USER_LOG = "user"
BROADCAST_LOG = "broadcast"


class LiveMessage(NamedTuple):
    """One message, decoded and encoded once for the whole process (a tuple: one is made per message)."""

    log: str | Group
    position: Position | None
    category: SSECategory
    body: bytes
    also_user: UUID | None = None
    """Of a group's message: the user it also went to, whose streams have it from their own log."""
    left: UUID | None = None
    """Of a group's ``stream.unwatched``: the user who left the group."""
    delivery: EventDelivery | None = None
    """Of a live message: what this process did with its event (None: a replayed one)."""


def group_message(
    group: Group, position: Position | None, event: RelayedEvent, body: bytes, delivery: EventDelivery | None = None
) -> LiveMessage:
    """A message of ``group``'s log, with whom it concerns beside the group."""
    if event.event_type == UNWATCHED_EVENT_TYPE:
        return LiveMessage(group, position, event.category, body, left=UUID(event.data["user_id"]))
    also_user = UUID(event.user_id) if event.user_id is not None else None
    return LiveMessage(group, position, event.category, body, also_user, delivery=delivery)


class Subscription:
    """The cursor of one stream, and the live messages held while it catches up.

    ``lock`` serialises catch-ups: a reconnect may ask for one while the
    stream's first one still runs, and the second must start from where the
    first ended.

    Args:
        hub: where the stream leaves a group (the hub's index) when its
            user's ``stream.unwatched`` arrives.
    """

    __slots__ = ("cursor", "held", "hub", "inbox", "lock")

    def __init__(self, inbox: Inbox, hub: StreamHub) -> None:
        self.inbox = inbox
        self.hub = hub
        groups = inbox.groups
        if groups:
            order = group_order(groups)
            self.cursor = Cursor(ORIGIN, ORIGIN, (ORIGIN,) * len(order.groups), order)
        else:
            self.cursor = Cursor(ORIGIN, ORIGIN)
        self.held: list[LiveMessage] | None = []
        self.lock = asyncio.Lock()

    def hold(self) -> None:
        """From now on, keep live messages until :meth:`release`."""
        if self.held is None:
            self.held = []

    def release(self) -> None:
        """Deliver what was held (skipping what a replay already sent) and go live."""
        held, self.held = self.held or [], None
        for message in held:
            self.deliver(message)

    def offer(self, message: LiveMessage, hold_limit: int) -> None:
        if self.held is None:
            self.deliver(message)
        elif len(self.held) < hold_limit:
            self.held.append(message)
        else:
            self.inbox.end(EndReason.SLOW_CLIENT)
            if message.delivery is not None:
                message.delivery.skip(SLOW_CLIENT, self.inbox.user_id)

    def advance(self, position: Position, log: str | Group) -> bool:
        """Move the cursor past ``position`` in ``log``; False when the client has it already (or not that log)."""
        # Built directly, not with _replace: this runs for every message and every stream.
        user, broadcast, groups, order = self.cursor
        if log is USER_LOG:
            if position <= user:
                return False
            self.cursor = Cursor(position, broadcast, groups, order)
        elif log is BROADCAST_LOG:
            if position <= broadcast:
                return False
            self.cursor = Cursor(user, position, groups, order)
        elif isinstance(log, Group):
            index = order.index.get(log) if order is not None else None
            if index is None or position <= groups[index]:
                return False
            self.cursor = Cursor(user, broadcast, (*groups[:index], position, *groups[index + 1 :]), order)
        else:
            return False
        return True

    def deliver(self, message: LiveMessage) -> None:
        """Push unless filtered out or already sent (replay and live overlap during catch-up).

        The user's and the broadcasts' messages, what every stream gets, take
        the shortest way: this runs for every message and every stream.
        """
        log, position, category, body = message.log, message.position, message.category, message.body
        if log is not USER_LOG and log is not BROADCAST_LOG:
            frame = self.group_frame(message, message.log, leaves=True)  # type: ignore[arg-type]
            if frame is not None:
                self.inbox.push(frame, message.delivery)
            return
        inbox = self.inbox
        if inbox.categories is not None and category not in inbox.categories:
            if message.delivery is not None:
                message.delivery.skip(FILTERED, inbox.user_id)
            return
        if position is None:  # retention off: no positions, no ids
            inbox.push(body, message.delivery)
            return
        user, broadcast, groups, order = self.cursor
        if log is USER_LOG:
            if position <= user:
                return
            cursor = Cursor(position, broadcast, groups, order)
        else:
            if position <= broadcast:
                return
            cursor = Cursor(user, position, groups, order)
        self.cursor = cursor
        inbox.push(cursor.id_line() + body, message.delivery)

    def group_frame(self, message: LiveMessage, group: Group, *, leaves: bool) -> bytes | None:
        """The frame of a group's message for this stream, its cursor moved past it; None when it gets none.

        The group's copy of an event also sent to this stream's user is
        skipped: the user's log delivers it. A ``stream.unwatched`` is
        delivered to its own user's streams only, which leave the group with
        it when ``leaves`` (live, and catching up after a lost connection; a
        resume skips the leaves before the stream was let in).
        """
        if group not in self.inbox.groups:
            return None
        if message.position is not None and not self.advance(message.position, group):
            return None
        if message.left is not None:
            return self._left(group, message) if leaves and message.left == self.inbox.user_id else None
        if message.also_user == self.inbox.user_id:
            return None
        if not self.inbox.wants(message.category):
            if message.delivery is not None:
                message.delivery.skip(FILTERED, self.inbox.user_id)
            return None
        return message.body if message.position is None else self.cursor.id_line() + message.body

    def _left(self, group: Group, message: LiveMessage) -> bytes | None:
        """Leave ``group``; the ``stream.unwatched`` frame's ``id:`` is the cursor without it."""
        if not self.hub.leave(self.inbox, group):
            return None
        cursor = self.cursor
        groups = self.inbox.groups
        if not groups:
            self.cursor = Cursor(cursor.user, cursor.broadcast)
        else:
            old = cursor.order
            assert old is not None
            order = group_order(groups)
            self.cursor = Cursor(
                cursor.user, cursor.broadcast, tuple(cursor.groups[old.index[g]] for g in order.groups), order
            )
        return message.body if message.position is None else self.cursor.id_line() + message.body
