"""The inbox of one open stream: replay first, then live frames, bounded."""

import asyncio
import enum
import time
from collections.abc import AsyncIterator, Callable, Iterable
from uuid import UUID

from domain.sse import Group, SSECategory
from infrastructure.streams.deliveries import SLOW_CLIENT, EventDelivery, wrote_all

#: The groups of a stream in none: one object shared by all of them, not one each.
NO_GROUPS: frozenset[Group] = frozenset()

#: Queued frames are joined into writes of about this size at most.
MAX_CHUNK_BYTES = 64 * 1024


class EndReason(enum.Enum):
    """Why the server ended a stream; the client reconnects with its last id."""

    CLIENT_GONE = "client_gone"
    SLOW_CLIENT = "slow_client"
    SHUTDOWN = "shutdown"
    CREDENTIAL = "credential"
    """The credential expired or its session was revoked."""


class Inbox:
    """Frames waiting to be written to one client.

    The fan-out pushes pre-encoded frames without awaiting, so one slow client
    never slows the publisher or other streams. When the backlog passes
    ``capacity`` the stream is ended instead of growing: with retention on,
    the client's reconnect resumes exactly where it stopped reading.
    """

    __slots__ = (
        "_capacity",
        "_frames",
        "_on_close",
        "_replay_left",
        "_stamps",
        "_waiter",
        "active",
        "adapter_state",
        "categories",
        "end_reason",
        "groups",
        "user_id",
    )

    def __init__(
        self,
        user_id: UUID,
        categories: frozenset[SSECategory] | None,
        capacity: int,
        on_close: Callable[["Inbox"], None],
        groups: frozenset[Group] = NO_GROUPS,
    ) -> None:
        self.user_id = user_id
        self.categories = categories
        #: The groups whose events reach this stream; one leaves when its membership ends.
        self.groups = groups or NO_GROUPS
        self.end_reason: EndReason | None = None
        self.active = False
        #: Whatever the broker adapter keeps per stream (the Redis adapter: its resume cursor).
        self.adapter_state: object = None
        self._capacity = capacity
        self._replay_left = 0
        # A list, not a deque: the writer always takes everything queued at once,
        # and an empty list is a tenth of an empty deque's size (per open stream).
        self._frames: list[bytes] = []
        #: Beside ``_frames`` while any queued frame is an event's: whose frame each is (None: no event's).
        self._stamps: list[EventDelivery | None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._on_close = on_close

    def wants(self, category: SSECategory | None) -> bool:
        """True when the stream's category filter lets ``category`` through (signals always pass)."""
        return category is None or self.categories is None or category in self.categories

    def push(self, frame: bytes, delivery: EventDelivery | None = None) -> None:
        """Queue a frame (of ``delivery``'s event); end the stream when its client has fallen too far behind."""
        if self.end_reason is not None:
            if delivery is not None:
                delivery.skip(self.end_reason.value, self.user_id)
            return
        frames = self._frames
        if len(frames) >= self._capacity + self._replay_left:
            self.end(EndReason.SLOW_CLIENT)
            if delivery is not None:
                delivery.skip(SLOW_CLIENT, self.user_id)
            return
        frames.append(frame)
        stamps = self._stamps
        if delivery is not None:
            if stamps is None:  # the stream's first event: from now on, its queue keeps whose each frame is
                stamps = self._stamps = [None] * (len(frames) - 1)
            stamps.append(delivery)
            delivery.queued += 1
        elif stamps is not None:
            stamps.append(None)
        self.active = True
        self._wake()

    def push_heartbeat(self, comment: bytes) -> None:
        """Queue a keep-alive comment, only when nothing else is waiting to be written."""
        if self.end_reason is None and not self._frames:
            self._frames.append(comment)
            if self._stamps is not None:
                self._stamps.append(None)
            self._wake()

    def push_replay(self, frames: Iterable[bytes]) -> None:
        """Queue replayed frames; retention bounds them, so they do not count against ``capacity``."""
        if self.end_reason is None:
            before = len(self._frames)
            self._frames.extend(frames)
            self._replay_left += len(self._frames) - before
            if self._stamps is not None:  # replayed frames are not timed: they waited for the client
                self._stamps.extend([None] * (len(self._frames) - before))
            self.active = True
            self._wake()

    def end(self, reason: EndReason, farewell: bytes | None = None) -> None:
        """Stop the stream after the frame being written (and ``farewell``, if given); idempotent.

        Queued frames are dropped: with retention on, the client's reconnect
        replays them from its last id.
        """
        if self.end_reason is None:
            self.end_reason = reason
            self._frames.clear()
            stamps, self._stamps = self._stamps, None
            for delivery in stamps or ():
                if delivery is not None:
                    delivery.skip(reason.value, self.user_id)
            if farewell is not None:
                self._frames.append(farewell)
            self._on_close(self)
        self._wake()

    async def frames(self) -> AsyncIterator[bytes]:
        """Yield what is queued until the stream is ended.

        Frames queued while the client was being written to go out together,
        as one chunk of up to about ``MAX_CHUNK_BYTES``: under a burst, a stream
        costs one write per wake-up instead of one per event, while a slow but
        reading client still drains each write well within the send timeout.
        Once a chunk is written (the writer asks for the next), its events' frames are reported written.
        """
        frames = self._frames
        while True:
            if frames:
                taken, size = 0, 0
                for frame in frames:
                    taken += 1
                    size += len(frame)
                    if size >= MAX_CHUNK_BYTES:
                        break
                chunk = frames[0] if taken == 1 else b"".join(frames[:taken])
                del frames[:taken]
                self._replay_left = max(0, self._replay_left - taken)
                stamps = self._stamps
                if stamps is None:
                    yield chunk
                    continue
                if taken == 1:
                    stamp = stamps.pop(0)
                    yield chunk
                    if stamp is not None:
                        stamp.wrote(time.time())
                    continue
                written = stamps[:taken]
                del stamps[:taken]
                yield chunk
                wrote_all(written)
                continue
            if self.end_reason is not None:
                return
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class InboxEventStream:
    """An open stream backed by a local inbox: the subscriber port's ``EventStream``."""

    __slots__ = ("_inbox",)

    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._inbox.frames()

    @property
    def end_reason(self) -> EndReason | None:
        """Why the server ended the stream, once it has."""
        return self._inbox.end_reason

    def end(self, farewell: bytes | None = None) -> None:
        self._inbox.end(EndReason.CREDENTIAL, farewell)

    async def aclose(self) -> None:
        self._inbox.end(EndReason.CLIENT_GONE)
