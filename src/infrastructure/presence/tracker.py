"""The process's side of presence: its streams per group and user, synced to the store by one worker.

Opening and closing a stream only changes counts in memory (no I/O on the
stream's path); the worker sends what changed, in batches, and announces the
joins and leaves the store reports, one after another, so this process never
tells a group of a leave before the join it follows.

A user whose last stream in a group closes stays present for the grace: a
reconnect within it (to this process or another) changes nothing anyone
sees. A process that stops says so (:meth:`PresenceTracker.aclose`), and its
users leave one grace later unless they came back elsewhere; one that dies
says nothing, and its leases run out instead. Leases are judged only by a
process that has itself reached the store for a whole lease, so when the
store comes back from an outage no live process is taken for dead.
"""

import asyncio
import contextlib
import heapq
import itertools
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Hashable, Iterable
from uuid import UUID

import attrs

from application.ports import PresencePage
from domain.events import PresenceEvent, PresenceJoined, PresenceLeft
from domain.ports import EventBusProtocol
from domain.sse import Group, GroupKind
from infrastructure.presence.store import GONE, Change, Changes, PresenceStore

logger = logging.getLogger(__name__)

#: After a failed call to the store, the worker waits this long first, doubling up to a renewal's interval
#: (so every live process renews within one interval of the store's return, before anyone may judge leases).
_FIRST_BACKOFF = 0.1


@attrs.define
class _Held:
    """One user's streams in one group on this process."""

    streams: int = 0
    lingers_until: float | None = None
    """While the user has no stream left here: when the grace ends."""


class PresenceTracker:
    """``Presence``: tracks this process's streams, and answers for every process from the store.

    Args:
        store: where every process's contributions meet.
        bus: where ``presence.joined`` and ``presence.left`` go, as any domain event.
        announced: the kinds of group whose members are told of joins and leaves.
        grace_seconds: how long a user stays after their last stream in a group closed.
        timeout_seconds: the bound within which a dead process's users leave.
        clock: monotonic seconds (a test passes its own, and calls :meth:`sync` instead of starting the worker).
    """

    def __init__(
        self,
        store: PresenceStore,
        bus: EventBusProtocol,
        *,
        announced: Iterable[GroupKind],
        grace_seconds: float,
        timeout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self._upkeep_at = clock()
        self._bus = bus
        self._announced = frozenset(announced)
        self._grace = grace_seconds
        # A lease lasts half the timeout and is renewed every sixth of it: a process dead since its last
        # renewal is found out by the next sweep after its lease ran out, within two thirds of the timeout.
        self._lease_ms = max(1, int(timeout_seconds * 500))
        self._every = timeout_seconds / 6
        self.process = secrets.token_hex(8)
        self._held: dict[Group, dict[UUID, _Held]] = {}
        self._dirty: set[tuple[Group, UUID]] = set()
        self._graces: list[tuple[float, int, Group, UUID]] = []  # the int orders equal times (groups do not)
        self._closes = itertools.count()
        self._partitions: set[Hashable] = set()
        self._wake = asyncio.Event()
        self._reachable_since: float | None = None
        self._task: asyncio.Task[None] | None = None

    # --- the stream's side: memory only ---

    def track(self, user_id: UUID, groups: Iterable[Group]) -> Callable[[], None]:
        """Count one stream of ``user_id`` in each group; the returned function (idempotent) uncounts it."""
        held_groups = tuple(groups)
        for group in held_groups:
            held = self._held.setdefault(group, {}).setdefault(user_id, _Held())
            held.streams += 1
            held.lingers_until = None
            self._dirty.add((group, user_id))
        if held_groups:
            self._wake.set()
        left = False

        def leave() -> None:
            nonlocal left
            if not left:
                left = True
                for group in held_groups:
                    self._close(group, user_id)

        return leave

    def _close(self, group: Group, user_id: UUID) -> None:
        held = self._held[group][user_id]
        held.streams -= 1
        if held.streams == 0:  # present for the grace: a reconnect within it changes nothing
            held.lingers_until = until = self._clock() + self._grace
            heapq.heappush(self._graces, (until, next(self._closes), group, user_id))
        else:
            self._dirty.add((group, user_id))
        self._wake.set()

    # --- queries ---

    async def count(self, group: Group) -> int:
        return await self._store.count(group)

    async def members(self, group: Group, *, after: UUID | None, limit: int) -> PresencePage:
        return await self._store.members(group, after=after, limit=limit)

    # --- the worker ---

    def start(self) -> None:
        """Start the worker (once the event loop runs)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="presence")

    async def aclose(self, *, within_seconds: float = 1.0) -> None:
        """Stop the worker; the users held here leave one grace from now unless they are back elsewhere."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if not self._partitions:
            return
        try:
            async with asyncio.timeout(within_seconds):
                await self._store.depart(self.process, self._partitions, int(self._grace * 1000))
        except Exception:  # the leases then run out by themselves, within the timeout
            logger.warning("presence: could not hand this process's users over; they leave within the timeout")

    async def _run(self) -> None:
        backoff = _FIRST_BACKOFF
        while True:
            await self._until_work()
            reachable = self._reachable_since is not None
            try:
                await self.sync()
            except Exception as error:  # the store is away: what changed is kept for the next round
                if reachable:
                    logger.warning("presence: the store is unreachable (%s); retrying", type(error).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._every)
            else:
                backoff = _FIRST_BACKOFF

    async def _until_work(self) -> None:
        """Wait until a stream opened or closed, a grace ends, or the upkeep is due."""
        if self._dirty:
            return
        wake_at = min(self._upkeep_at, self._graces[0][0]) if self._graces else self._upkeep_at
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, wake_at - self._clock())):
                await self._wake.wait()
        self._wake.clear()

    async def sync(self) -> None:
        """One round of the worker: end the graces that are over, send what changed, renew and sweep when due.

        Raises what the store raised; what changed is sent again by the next round.
        """
        now = self._clock()
        try:
            self._end_graces(now)
            if self._dirty:
                await self._flush()
            if now >= self._upkeep_at:
                await self._upkeep(now)
                self._upkeep_at = now + self._every
        except Exception:
            self._reachable_since = None
            raise
        if self._reachable_since is None:
            self._reachable_since = now

    def _end_graces(self, now: float) -> None:
        while self._graces and self._graces[0][0] <= now:
            until, _, group, user_id = heapq.heappop(self._graces)
            users = self._held.get(group, {})
            held = users.get(user_id)
            if held is None or held.lingers_until != until:
                continue  # back within the grace (or already gone)
            del users[user_id]
            if not users:
                del self._held[group]
            self._dirty.add((group, user_id))

    async def _flush(self) -> None:
        dirty, self._dirty = self._dirty, set()
        changes: dict[Group, dict[UUID, int]] = {}
        for group, user_id in dirty:
            held = self._held.get(group, {}).get(user_id)
            if held is not None and held.streams == 0:
                continue  # in its grace: the store keeps what it had
            changes.setdefault(group, {})[user_id] = GONE if held is None else held.streams
        if not changes:
            return
        try:
            outcome = await self._store.apply(self.process, changes, self._lease_ms)
        except BaseException:
            self._dirty |= dirty
            raise
        # A first contribution in a partition finds no lease there: only a lease held before can be lost.
        self._restore(outcome.lost & self._partitions)
        self._partitions.update(self._store.partition(group) for group in changes)
        await self._announce(outcome)

    async def _upkeep(self, now: float) -> None:
        """Renew this process's leases, and end those of processes that died (when this one may judge)."""
        if self._partitions:
            renewed = await self._store.renew(self.process, self._partitions, self._lease_ms)
            self._restore(renewed.lost)
        if self._reachable_since is not None and now - self._reachable_since >= self._lease_ms / 1000:
            await self._announce(await self._store.reap())

    def _restore(self, partitions: Iterable[Hashable]) -> None:
        """The store lost what this process held in ``partitions`` (a lease ran out, a restart): send it all again."""
        lost = set(partitions)
        if not lost:
            return
        for group, users in self._held.items():
            if self._store.partition(group) in lost:
                self._dirty.update((group, user_id) for user_id, held in users.items() if held.streams)
        if self._dirty:
            self._wake.set()

    async def _announce(self, changes: Changes) -> None:
        announced = self._announced
        happened: list[tuple[Change, type[PresenceEvent]]] = [(change, PresenceJoined) for change in changes.joined]
        happened += [(change, PresenceLeft) for change in changes.left]
        for (group, user_id, version), kind in sorted(happened, key=lambda item: item[0].version):  # as decided
            if group.kind in announced:
                await self._bus.publish(
                    kind(group_kind=group.kind, group_id=group.id, user_id=user_id, version=version)
                )


async def run_presence(tracker: PresenceTracker) -> AsyncIterator[PresenceTracker]:
    """Presence at work for the application's lifetime; on shutdown this process's users are handed over."""
    tracker.start()
    yield tracker
    await tracker.aclose()
