"""The open streams of this process, indexed by user and by group, with heartbeats and shutdown."""

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Callable
from uuid import UUID

from domain.sse import Group, SSECategory
from infrastructure.sse.framing import HEARTBEAT
from infrastructure.streams.deliveries import RecentDeliveries
from infrastructure.streams.inbox import NO_GROUPS, EndReason, Inbox
from infrastructure.streams.stats import StreamStats

#: Heartbeat work is spread over this many ticks per half interval...
HEARTBEAT_SLICES = 32
#: ...but the heartbeat task never wakes more often than this (short test intervals).
MIN_HEARTBEAT_TICK = 0.01
#: Events whose delivery here is remembered for diagnostics (the ring's size: its memory bound)...
RECENT_EVENTS = 10_000
#: ...and for how long at most.
RECENT_SECONDS = 600.0


class StreamHub:
    """Local fan-out shared by every broker adapter.

    Delivering a frame costs one dict lookup plus one append per recipient
    stream, never work proportional to all open streams. Heartbeats come from
    one task per process instead of a timer per stream, and it visits the
    streams a slice at a time: heartbeating thousands of streams in one pass
    would hold every event behind thousands of writes (measured before and
    after: docs/performance.md's git history). A broker adapter that
    subscribes per user and per group (Redis) calls :meth:`watch` to hear when
    a user's (or a group's) first local stream opens and the last one closes.

    Args:
        inbox_capacity: frames a stream may have queued before it is ended.
        heartbeat_seconds: a stream idle this long gets a comment.
        recent_events: events whose delivery here :attr:`deliveries` remembers, for at most ``recent_seconds``.
    """

    def __init__(
        self,
        *,
        inbox_capacity: int,
        heartbeat_seconds: float,
        recent_events: int = RECENT_EVENTS,
        recent_seconds: float = RECENT_SECONDS,
    ) -> None:
        self.stats = StreamStats()
        self.deliveries = RecentDeliveries(capacity=recent_events, window_seconds=recent_seconds)
        self._capacity = inbox_capacity
        self._heartbeat_seconds = heartbeat_seconds
        self._by_user: dict[UUID, set[Inbox]] = {}
        self._by_group: dict[Group, set[Inbox]] = {}
        self._all: set[Inbox] = set()
        #: Heartbeat slices: a new stream joins the next one, and one slice is visited per tick.
        self._slices: list[set[Inbox]] = [set() for _ in range(HEARTBEAT_SLICES)]
        self._next_slice = 0
        self._slice_of: dict[Inbox, int] = {}
        self._watcher: Callable[[UUID, bool], None] | None = None
        self._group_watcher: Callable[[Group, bool], None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None

    @property
    def open_streams(self) -> int:
        """How many streams this process holds."""
        return len(self._all)

    def watch(
        self, watcher: Callable[[UUID, bool], None], group_watcher: Callable[[Group, bool], None] | None = None
    ) -> None:
        """Call ``watcher(user_id, True)`` on a user's first local stream, ``(user_id, False)`` after the last.

        ``group_watcher`` hears the same of each group's local members.
        """
        self._watcher = watcher
        self._group_watcher = group_watcher

    def streams_of(self, user_id: UUID) -> tuple[Inbox, ...]:
        """The user's open streams here."""
        return tuple(self._by_user.get(user_id, ()))

    def all_streams(self) -> tuple[Inbox, ...]:
        """Every open stream here."""
        return tuple(self._all)

    def members(self, group: Group) -> tuple[Inbox, ...]:
        """The open streams here that are in ``group``."""
        return tuple(self._by_group.get(group, ()))

    def users(self) -> frozenset[UUID]:
        """Users with at least one open stream here."""
        return frozenset(self._by_user)

    def open(
        self, user_id: UUID, categories: frozenset[SSECategory] | None, groups: frozenset[Group] = frozenset()
    ) -> Inbox:
        """Register a new stream (in ``groups``); it receives every frame delivered from now on."""
        self._ensure_heartbeats()
        inbox = Inbox(user_id, categories, self._capacity, self._forget, groups)
        for group in groups:
            self._join(inbox, group)
        inbox.active = True  # it is about to send its headers and ``retry:``: no heartbeat on the first visit
        self.stats.opened += 1
        streams = self._by_user.get(user_id)
        if streams is None:
            streams = self._by_user[user_id] = set()
            if self._watcher is not None:
                self._watcher(user_id, True)
        streams.add(inbox)
        self._all.add(inbox)
        self._slices[self._next_slice].add(inbox)
        self._slice_of[inbox] = self._next_slice
        self._next_slice = (self._next_slice + 1) % HEARTBEAT_SLICES
        return inbox

    def deliver(self, user_id: UUID | None, category: SSECategory | None, frame: bytes) -> int:
        """Push ``frame`` to the user's streams, or to every stream when ``user_id`` is None; return how many."""
        targets = self._all if user_id is None else self._by_user.get(user_id, ())
        pushed = 0
        for inbox in tuple(targets):
            if inbox.wants(category):
                inbox.push(frame)
                pushed += 1
        return pushed

    def leave(self, inbox: Inbox, group: Group) -> bool:
        """Take the stream out of ``group``; False when it was not in it."""
        if group not in inbox.groups:
            return False
        inbox.groups = inbox.groups - {group} or NO_GROUPS
        self._part(inbox, group)
        return True

    def end_all(self, reason: EndReason, farewell: bytes | None = None) -> None:
        """End every open stream (used on shutdown), after ``farewell`` if given."""
        for inbox in tuple(self._all):
            inbox.end(reason, farewell)

    async def aclose(self) -> None:
        """End every stream and stop the heartbeat task."""
        self.end_all(EndReason.SHUTDOWN)
        task, self._heartbeat_task = self._heartbeat_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _forget(self, inbox: Inbox) -> None:
        if inbox in self._all and inbox.end_reason is not None:
            self.stats.ended[inbox.end_reason.value] += 1
        self._all.discard(inbox)
        slice_index = self._slice_of.pop(inbox, None)
        if slice_index is not None:
            self._slices[slice_index].discard(inbox)
        for group in inbox.groups:
            self._part(inbox, group)
        streams = self._by_user.get(inbox.user_id)
        if streams is None:
            return
        streams.discard(inbox)
        if not streams:
            del self._by_user[inbox.user_id]
            if self._watcher is not None:
                self._watcher(inbox.user_id, False)

    def _join(self, inbox: Inbox, group: Group) -> None:
        members = self._by_group.get(group)
        if members is None:
            members = self._by_group[group] = set()
            if self._group_watcher is not None:
                self._group_watcher(group, True)
        members.add(inbox)

    def _part(self, inbox: Inbox, group: Group) -> None:
        members = self._by_group.get(group)
        if members is None or inbox not in members:
            return
        members.discard(inbox)
        if not members:
            del self._by_group[group]
            if self._group_watcher is not None:
                self._group_watcher(group, False)

    def _ensure_heartbeats(self) -> None:
        if self._heartbeat_task is None or self._heartbeat_task.done():
            # A fresh context: the task outlives the request that happened to start it (and its log context).
            self._heartbeat_task = asyncio.get_running_loop().create_task(
                self._beat(), name="herald-heartbeats", context=contextvars.Context()
            )

    async def _beat(self) -> None:
        # Every stream is visited once per half interval, which bounds its silence
        # by the interval; the visits are spread over that half interval in slices.
        # Deadlines are absolute, so a busy loop delays a visit but never shifts the rest.
        loop = asyncio.get_running_loop()
        half = self._heartbeat_seconds / 2
        tick = max(half / HEARTBEAT_SLICES, MIN_HEARTBEAT_TICK)
        per_tick = max(1, round(HEARTBEAT_SLICES * tick / half))
        visiting = 0
        due = loop.time()
        while True:
            due += tick
            await asyncio.sleep(max(0.0, due - loop.time()))
            for _ in range(per_tick):
                for inbox in tuple(self._slices[visiting]):
                    if inbox.active:
                        inbox.active = False
                    else:
                        inbox.push_heartbeat(HEARTBEAT)
                visiting = (visiting + 1) % HEARTBEAT_SLICES


async def run_stream_hub(hub: StreamHub) -> AsyncIterator[StreamHub]:
    """The hub for the application's lifetime; on shutdown every stream is ended and the heartbeat stops.

    Its own resource, so the hub closes the same way whichever broker feeds it.
    """
    yield hub
    await hub.aclose()
