"""A subscription: what the Redis subscriber keeps per stream.

That is what the client has seen (its cursor) and what waits while it catches up.
"""

import asyncio
from typing import NamedTuple

from domain.sse import SSECategory
from infrastructure.brokers.redis.keys import ORIGIN, Cursor, Position
from infrastructure.streams.inbox import EndReason, Inbox


class LiveMessage(NamedTuple):
    """One live message, decoded and encoded once for the whole process (a tuple: one is made per message)."""

    from_user_log: bool
    position: Position | None
    category: SSECategory
    body: bytes


class Subscription:
    """The cursor of one stream, and the live messages held while it catches up.

    ``lock`` serialises catch-ups: a reconnect may ask for one while the
    stream's first one still runs, and the second must start from where the
    first ended.
    """

    __slots__ = ("cursor", "held", "inbox", "lock")

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
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

    def advance(self, position: Position, *, from_user_log: bool) -> bool:
        """Move the cursor past ``position``; False when the client has it already."""
        cursor = self.cursor
        if from_user_log:
            if position <= cursor.user:
                return False
            self.cursor = Cursor(position, cursor.broadcast)
        else:
            if position <= cursor.broadcast:
                return False
            self.cursor = Cursor(cursor.user, position)
        return True

    def deliver(self, message: LiveMessage) -> None:
        """Push unless filtered out or already sent (replay and live overlap during catch-up)."""
        if not self.inbox.wants(message.category):
            return
        if message.position is None:  # retention off: no positions, no ids
            self.inbox.push(message.body)
        elif self.advance(message.position, from_user_log=message.from_user_log):
            self.inbox.push(self.cursor.id_line() + message.body)
