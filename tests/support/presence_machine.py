"""A hypothesis state machine that drives presence trackers ("processes") on one store, against a model.

Each process is a :class:`~infrastructure.presence.PresenceTracker` on the
machine's clock, synced by hand (``sync()``, never ``start()``), publishing
to a bus that records every ``presence.joined`` and ``presence.left``.
Rules open and close streams (a user's, in some groups, on some process),
reconnect them (at once: within the grace, on the same process or another),
move the clock by less or more than the grace or a lease, sync one process
or all, and — where the store outlives a process (Redis) — start, kill,
stop and stall processes. A subclass supplies the store.

The model keeps, per process, its open streams per (group, user), when each
one's grace ends, and what its syncs sent the store (``sent``). From that it
knows the *anchors*: the (group, user) pairs some process surely holds in
the store right now (a live process that sent them, with a stream open or
the grace not over; a dead one whose lease has not run out). Checked:

- as each event is published: joins and leaves of a (group, user) alternate,
  starting with a join; a join comes from a process with a stream of the
  user open in the group; a leave never takes an anchored user away (so a
  reconnect within the grace is neither a leave nor a join), and one of a
  user the process did not hold (a reap) comes from a process that has
  reached the store for a whole lease; no event for a kind that is not
  announced;
- after every step: every anchor is present, everyone present was sent by
  some process, the last announced event of each (group, user) says whether
  it is present, a member keeps its ``since`` until it leaves, and its
  streams are what the processes that hold it sent;
- after settling (:meth:`PresenceMachine.settle_and_check`: dead processes'
  leases run out, the clock past every grace and lease, every live process
  synced until quiet): the members, counted and page by page, are exactly
  the users with streams open, each with the right number of streams.

Time: the trackers' graces and rounds go by the machine's clock. A lease
runs on the store's clock (Redis ``TIME``), and is long (``LEASE``): no
live process's lease runs out by itself during a schedule. A lease that
must run out (a dead process's, a stalled one's) is made to by the subclass
(:meth:`PresenceMachine.run_out`) when the schedule says so: no schedule
waits, and every replay behaves the same.
"""

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from application.ports import PresentMember
from domain.events import DomainEvent, PresenceJoined, PresenceLeft
from domain.sse import ANNOUNCED_PRESENCE, Group, GroupKind
from infrastructure.presence import PresenceStore, PresenceTracker
from tests.support.group_machine import Counts

#: The grace, on the machine's clock. Binary fractions throughout: the model's sums are the tracker's, exactly.
GRACE = 16.0
#: ``timeout_seconds``: a lease lasts half of it (on the store's clock, and on the machine's clock for the
#: "reached the store for a whole lease" rule), and a process renews its leases every sixth of it.
TIMEOUT = 60.0
LEASE = TIMEOUT / 2
#: How far the clock moves in one step: within the grace, to its very end, past it, past a lease.
ADVANCES = (0.5, 4.0, GRACE - 0.25, GRACE, GRACE + 4.0, LEASE + 2.0)
#: Two report groups share a Redis partition (so a lease), a third and the tenant are in others.
GROUPS = (
    Group(GroupKind.REPORT, "g0"),
    Group(GroupKind.REPORT, "r9"),
    Group(GroupKind.REPORT, "r0"),
    Group(GroupKind.TENANT, "acme"),
)
USERS = tuple(uuid.UUID(f"00000000-0000-4000-8000-{i:012d}") for i in range(1, 4))
MAX_OPEN = 6
#: Steps between two settles the schedule asks for: settling ends whatever was going on.
SETTLE_EVERY = 8
#: How long a step may take before the machine fails (a call that never returned).
STEP_SECONDS = 20.0
#: Which of the processes or streams there are at the time: the draw has the same shape however many there are.
PICK = st.integers(0, 63)
USER = st.integers(0, len(USERS) - 1)
#: Which groups a stream is in (indexes of ``GROUPS``: a failing schedule prints as it replays).
SOME_GROUPS = st.frozensets(st.integers(0, len(GROUPS) - 1), min_size=1)

Key = tuple[Group, uuid.UUID]
T = TypeVar("T")


@attrs.define
class Tally(Counts):
    """What the machine ran, over every schedule (example) hypothesis tried."""

    schedules: int = 0
    steps: int = 0
    opened: int = 0
    reconnects: int = 0
    syncs: int = 0
    joined: int = 0
    left: int = 0
    kills: int = 0
    stops: int = 0
    stalls: int = 0
    restored: int = 0
    """Joins announced by a stalled process: it was reaped, and sent what it holds again."""
    settles: int = 0


@attrs.define(eq=False)
class Process:
    """One tracker, and the model of it: what it holds, and what its syncs sent the store."""

    index: int
    tracker: PresenceTracker
    streams: Counter[Key] = attrs.field(factory=Counter)
    lingering: dict[Key, float] = attrs.field(factory=dict)
    """Per (group, user) with no stream left here: when the grace ends."""
    sent: dict[Key, int] = attrs.field(factory=dict)
    """What this process holds in the store, as its syncs left it (lingering ones keep their last count)."""
    alive: bool = True
    stalled: bool = False
    """Its leases were made to run out while it lived: the store may have lost what it sent, until it restores it."""
    expired: bool = False
    """Dead, and its leases ran out: any process may reap it at any sync."""
    reachable_since: float | None = None
    """When its first sync was: it may judge others' leases a lease after that."""

    @property
    def sure(self) -> bool:
        """Whether what it sent surely stands in the store (nothing of it can have been reaped)."""
        return not self.stalled and not self.expired


@attrs.define(eq=False)
class Stream:
    process: Process
    user: uuid.UUID
    groups: frozenset[Group]
    leave: Callable[[], None]


class RecordingBus:
    """The event bus of one process: hands each presence event to the machine, which checks and records it."""

    def __init__(self, machine: "PresenceMachine", process: Callable[[], Process]) -> None:
        self._machine = machine
        self._process = process

    def subscribe(self, event_class: type[Any], handler: Any) -> None:
        raise AssertionError("the tracker only publishes")

    async def publish(self, event: DomainEvent) -> None:
        self._machine.heard(self._process(), event)


class PresenceMachine(RuleBasedStateMachine):
    """Processes' streams against the model; each example runs on an event loop of its own."""

    tally: ClassVar[Tally]
    #: How many processes may live at once.
    max_processes: ClassVar[int] = 1
    #: Whether a process may die, stop or stall while others go on (the store outlives it).
    mortal: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.now = 0.0
        self.processes: list[Process] = []
        self.streams: list[Stream] = []
        #: Per announced (group, user): whether its last event was a join.
        self.announced: dict[Key, bool] = {}
        self.versions: dict[Group, int] = {}  # the last presence version announced of each group
        #: Per (group, user) seen present: its ``since``, until a leave is announced.
        self.since: dict[Key, datetime] = {}
        self.steps = 0
        self.settled_at = 0
        self.failed = False  # a step or a check failed: teardown only cleans up
        self.store = self.loop.run_until_complete(self.open_store())
        self.tally.schedules += 1

    # -- what a subclass supplies ------------------------------------------------
    async def open_store(self) -> PresenceStore:
        """The store the machine reads, for a new schedule."""
        raise NotImplementedError

    async def store_of_process(self) -> PresenceStore:
        """The store a new process works with (its own client of the same place, or the same object)."""
        raise NotImplementedError

    async def run_out(self, process: Process) -> None:
        """Make the leases of ``process`` run out now, as time would."""
        raise NotImplementedError

    async def stopped(self, process: Process) -> None:
        """``process`` has just stopped (``aclose``): a subclass may check what that told the store."""

    async def close_store(self) -> None:
        raise NotImplementedError

    # -- rules ----------------------------------------------------------------------
    @initialize(processes=st.integers(1, 3), streams=st.lists(st.tuples(PICK, USER, SOME_GROUPS), max_size=3))
    def begin(self, processes: int, streams: list[tuple[int, int, frozenset[int]]]) -> None:
        """Some processes (as many as may live), and some streams open on them: none synced yet."""
        for _ in range(min(processes, self.max_processes)):
            self.step(self._start())
        for on, user, groups in streams:
            self.open_stream(on, user, groups)

    @precondition(lambda self: len(self.live()) < self.max_processes)
    @rule()
    def start_process(self) -> None:
        self.step(self._start())

    @precondition(lambda self: len(self.streams) < MAX_OPEN and bool(self.live()))
    @rule(on=PICK, user=USER, groups=SOME_GROUPS)
    def open_stream(self, on: int, user: int, groups: frozenset[int]) -> None:
        self.step(self._open(self.pick(self.live(), on), USERS[user], frozenset(GROUPS[i] for i in groups)))

    @precondition(lambda self: bool(self.streams))
    @rule(pick=PICK)
    def close_stream(self, pick: int) -> None:
        self.step(self._close(self.pick(self.streams, pick)))

    @precondition(lambda self: bool(self.streams))
    @rule(pick=PICK, to=PICK)
    def reconnect(self, pick: int, to: int) -> None:
        """A stream closes and its client opens another at once (within the grace), here or on another process."""
        stream = self.pick(self.streams, pick)

        async def reconnect() -> None:
            await self._close(stream)
            await self._open(self.pick(self.live(), to), stream.user, stream.groups)
            self.tally.reconnects += 1

        self.step(reconnect())

    @rule(seconds=st.sampled_from(ADVANCES))
    def advance(self, seconds: float) -> None:
        """The clock moves: within the grace, to its very end, past it, or past a lease."""
        self.now += seconds

    @precondition(lambda self: bool(self.live()))
    @rule(pick=st.none() | PICK)
    def sync(self, pick: int | None) -> None:
        """A round of one process's worker (None: of each live process in turn)."""
        processes = self.live() if pick is None else [self.pick(self.live(), pick)]

        async def sync() -> None:
            for process in processes:
                await self._sync(process)

        self.step(sync())

    @precondition(lambda self: self.mortal and bool(self.live()))
    @rule(pick=PICK, how=st.sampled_from(["kill", "stop", "stall"]))
    def end_process(self, pick: int, how: str) -> None:
        """A process goes: killed, stopped, or stalled (away from the store for longer than a lease).

        Killed (SIGKILL, a lost host): its streams are gone, its leases stay until they run out.
        Stopped: its streams end, then the tracker stops; its leases now run out one grace later.
        Stalled: it lives on, but its leases ran out, so any process may reap what it held.
        """
        process = self.pick(self.live(), pick)
        if how == "kill":
            process.alive = False
            self.streams = [stream for stream in self.streams if stream.process is not process]
            self.tally.kills += 1
        elif how == "stop":
            self.step(self._stop(process))
        else:
            process.stalled = True
            self.tally.stalls += 1
            self.step(self.run_out(process))

    @precondition(lambda self: any(not p.alive and not p.expired for p in self.processes))
    @rule()
    def leases_run_out(self) -> None:
        """Time enough passes for the dead processes' leases to run out (a stopped one's: its grace)."""
        self.step(self._expire_the_dead())

    @precondition(lambda self: self.steps >= self.settled_at + SETTLE_EVERY)
    @rule()
    def settle_and_check(self) -> None:
        self.step(self._settle_and_check())

    @invariant()
    def the_store_agrees_with_the_model(self) -> None:
        self.failed = True  # until it holds
        self.loop.run_until_complete(_within(self._check_store(), STEP_SECONDS))
        self.failed = False

    # -- steps --------------------------------------------------------------------------
    def step(self, work: Coroutine[Any, Any, object]) -> None:
        self.failed = True  # until it returns
        self.loop.run_until_complete(_within(work, STEP_SECONDS))
        self.failed = False
        self.steps += 1

    @staticmethod
    def pick(items: list[T], pick: int) -> T:
        return items[pick % len(items)]

    def live(self) -> list[Process]:
        return [process for process in self.processes if process.alive]

    async def _start(self) -> None:
        store = await self.store_of_process()
        process: Process | None = None

        def me() -> Process:
            assert process is not None
            return process

        tracker = PresenceTracker(
            store,
            RecordingBus(self, me),
            announced=ANNOUNCED_PRESENCE,
            grace_seconds=GRACE,
            timeout_seconds=TIMEOUT,
            clock=lambda: self.now,
        )
        process = Process(len(self.processes), tracker)
        self.processes.append(process)

    async def _open(self, process: Process, user: uuid.UUID, groups: frozenset[Group]) -> None:
        # Sorted: the tracker's calls, so what it does, are the same in every replay.
        leave = process.tracker.track(user, sorted(groups, key=str))
        for group in groups:
            process.streams[group, user] += 1
            process.lingering.pop((group, user), None)
        self.streams.append(Stream(process, user, groups, leave))
        self.tally.opened += 1

    async def _close(self, stream: Stream) -> None:
        self.streams.remove(stream)
        stream.leave()
        stream.leave()  # idempotent
        process = stream.process
        for group in stream.groups:
            process.streams[group, stream.user] -= 1
            if not process.streams[group, stream.user]:
                del process.streams[group, stream.user]
                process.lingering[group, stream.user] = self.now + GRACE

    async def _sync(self, process: Process) -> None:
        await process.tracker.sync()
        self.tally.syncs += 1
        if process.reachable_since is None:
            process.reachable_since = self.now
        # What the round sent: the graces that are over end; whoever has a stream open here is sent.
        for key, until in list(process.lingering.items()):
            if until <= self.now:
                del process.lingering[key]
                process.sent.pop(key, None)
        for key, streams in process.streams.items():
            process.sent[key] = streams

    async def _stop(self, process: Process) -> None:
        for stream in [stream for stream in self.streams if stream.process is process]:
            await self._close(stream)
        process.alive = False
        await process.tracker.aclose()
        await self.stopped(process)
        self.tally.stops += 1

    async def _expire_the_dead(self) -> None:
        for process in self.processes:
            if not process.alive and not process.expired:
                await self.run_out(process)
                process.expired = True

    def anchors(self) -> set[Key]:
        """The (group, user) pairs some process surely holds in the store now: none of them may leave."""
        held: set[Key] = set()
        for process in self.processes:
            if not process.sure:
                continue
            for key in process.sent:
                if not process.alive or key in process.streams or self.now < process.lingering.get(key, self.now):
                    held.add(key)
        return held

    def heard(self, process: Process, event: DomainEvent) -> None:
        """One event published by ``process``'s tracker, during its sync (the model is as it was before)."""
        assert isinstance(event, PresenceJoined | PresenceLeft), event
        group = Group(event.group_kind, event.group_id)
        key = (group, event.user_id)
        assert group.kind in ANNOUNCED_PRESENCE, f"{event} of a kind that is not announced"
        # Announced one after another here (the machine syncs one process at a time): each change is newer.
        assert event.version > self.versions.get(group, 0), f"{event} after version {self.versions.get(group)}"
        self.versions[group] = event.version
        assert process.alive, f"{event} from a dead process"
        if isinstance(event, PresenceJoined):
            assert not self.announced.get(key, False), f"{event}: a second join without a leave between"
            assert process.streams[key] > 0, f"{event} from process {process.index}, where it has no stream open"
            self.tally.joined += 1
            self.tally.restored += process.stalled
        else:
            assert self.announced.get(key, False), f"{event} without a join before it"
            assert key not in self.anchors(), f"{event} while a process surely holds it"
            if key not in process.sent:  # not its own: it reaped a process whose lease ran out
                since = process.reachable_since
                assert since is not None, f"{event}: process {process.index} reaped at its first sync"
                assert self.now - since >= LEASE, f"{event}: process {process.index} reaped {self.now - since}s in"
            self.since.pop(key, None)
            self.tally.left += 1
        self.announced[key] = isinstance(event, PresenceJoined)

    async def _check_store(self) -> None:
        anchors = self.anchors()
        for group in GROUPS:
            page = await self.store.members(group, after=None, limit=len(USERS) + 1)
            assert page.next is None
            assert page.version >= self.versions.get(group, 0), f"{group}: read version {page.version}"
            present = {member.user_id: member for member in page.members}
            assert page.count == len(present), f"{group}: count {page.count}, members {sorted(present)}"
            for user in USERS:
                self._check_member((group, user), present.get(user), anchors)

    def _check_member(self, key: Key, member: PresentMember | None, anchors: set[Key]) -> None:
        """What the store says of one (group, user) (``member``: None if absent), against the model."""
        group, user = key
        if key in anchors:
            assert member is not None, f"{user} left {group} while a process surely holds it"
        if group.kind in ANNOUNCED_PRESENCE:
            told = self.announced.get(key, False)
            assert told == (member is not None), f"{user} in {group}: present {member is not None}, told {told}"
        else:
            assert key not in self.announced
        if member is None:
            self.since.pop(key, None)
            return
        holders = [process for process in self.processes if key in process.sent]
        assert holders, f"{user} is present in {group}, but no process ever sent it"
        if all(process.sure for process in holders):
            expected = sum(process.sent[key] for process in holders)
            assert member.streams == expected, f"{user} in {group}: {member.streams} streams, not {expected}"
        if group.kind in ANNOUNCED_PRESENCE:  # (elsewhere it may have left and come back unannounced)
            assert self.since.setdefault(key, member.since) == member.since, f"{user} in {group}: since changed"

    async def _settle_and_check(self) -> None:
        """Let everything that is due happen, then the members are exactly the open streams' users."""
        await self._expire_the_dead()
        if not self.live():
            await self._start()  # someone must reap the dead
        # Each round: every grace over, a renewal due and (from the second) every process able to reap.
        # Three: a stalled process learns in one round that it was reaped, and sends itself again in the next.
        # The stalled go last: the others reap them first, and they must find out and send themselves again.
        for _ in range(3):
            self.now += LEASE + GRACE
            for process in sorted(self.live(), key=lambda process: process.stalled):
                await self._sync(process)
        await self._check_store()
        for group in GROUPS:
            expected: Counter[uuid.UUID] = Counter()
            for stream in self.streams:
                if group in stream.groups:
                    expected[stream.user] += 1
            await self._check_pages(group, dict(expected))
        # The dead are reaped; what each live process sent is all there is.
        self.processes = self.live()
        for process in self.processes:
            process.stalled = False
            assert process.sent == dict(process.streams), f"process {process.index}: {process.sent}"
        self.settled_at = self.steps
        self.tally.settles += 1

    async def _check_pages(self, group: Group, expected: dict[uuid.UUID, int]) -> None:
        """The members of ``group`` page by page (of each size), against the users with streams open there."""
        want = sorted(expected.items(), key=lambda item: str(item[0]))
        tracker = self.live()[0].tracker
        for limit in (1, 2, len(USERS)):
            got: list[tuple[uuid.UUID, int]] = []
            after: uuid.UUID | None = None
            while True:
                page = await tracker.members(group, after=after, limit=limit)
                assert page.count == len(want), f"{group}: count {page.count}, expected {want}"
                assert len(page.members) <= limit
                got += [(member.user_id, member.streams) for member in page.members]
                if page.next is None:
                    break
                assert page.next == page.members[-1].user_id
                after = page.next
            assert got == want, f"{group} in pages of {limit}: {got}, expected {want}"
        assert await tracker.count(group) == len(want)

    def teardown(self) -> None:
        try:
            if not self.failed:
                # Every schedule ends settled.
                self.loop.run_until_complete(_within(self._settle_and_check(), STEP_SECONDS))
        finally:
            try:
                self.loop.run_until_complete(self._close_everything())
            finally:
                self.loop.close()
                self.tally.steps += self.steps

    async def _close_everything(self) -> None:
        for process in self.live():
            process.alive = False
            await process.tracker.aclose()
        await self.close_store()


async def _within(work: Coroutine[Any, Any, object], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        await work
