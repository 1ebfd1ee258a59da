"""Presence (``python -m bench --presence``): what tracking who is connected costs, and what a restart tells members.

The streams are spread over several Herald processes on one Redis, as in
``--groups``, and the bench measures, in this order:

1. **Upkeep while idle.** The same users' streams twice, each time left idle
   for a window of whole upkeep periods (a sixth of
   ``HERALD_PRESENCE_TIMEOUT_SECONDS``): first with tokens that name no
   tenant (a stream in no group is not tracked: the baseline), then with
   tokens that name one tenant, so every stream is tracked in the tenant's
   group. Per period: Redis commands and script calls per second (``INFO``
   deltas, the bench's own ``INFO`` calls left out), Redis's CPU and every
   server process's; each figure is the median over the periods. The
   commands Redis ran while each set of streams opened are counted too.
2. **Reading presence.** ``GET /api/v1/presence/tenant/<id>?members=false``
   (the count) and ``?limit=100`` after a random member (a page), over one
   kept-alive connection, taking turns; and the same two reads as the
   presence store's own calls from this process (one Redis call each).
3. **A restart, and a late return.** One process is stopped with SIGTERM
   and its clients reconnect to another at once, resuming with their last
   id (256 handshakes in flight): within the grace (plus the time until a
   live process sweeps the stopped one's leases), nobody should leave or
   join. Then a process is started in its place and the clients move back
   to it, closing their streams and opening them there (within the grace
   again); it is stopped in turn, and its clients come back only after their
   leaves were announced. Each time the bench counts who changed in the tenant's group
   (members whose ``since`` changed or who went missing: a leave and a join
   each) and, in a report's group, which announces joins and leaves (tenants
   do not: ``domain.sse.ANNOUNCED_PRESENCE``), the messages written to the
   group's log (``entries-added``) and those received by a few members that
   stayed connected to the other process. The report's group holds
   ``--presence-watchers`` streams of the stopped process (they watch the
   report) and ``--presence-samplers`` of the other; it needs a database
   both processes share (PostgreSQL: the report and its shares are written
   there), and is left out with ``--postgres none``.
"""

import asyncio
import contextlib
import functools
import itertools
import random
import re
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import attrs
from redis.asyncio import Redis, RedisCluster
from redis.exceptions import ResponseError
from sqlalchemy.ext.asyncio import create_async_engine
from tests.support.postgres import fresh_database

from bench.fleet import SETTLE_LIMIT_SECONDS, Fleet, close, leave
from bench.groups import TENANT
from bench.harness import cpu_seconds_of, percentile
from bench.loadgen import Recorder, StreamClient, open_stream, open_streams
from bench.redis_server import primaries
from domain.model.report import ReportStatus
from domain.sse import Group, GroupKind
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.persistence import tables
from infrastructure.presence import RedisPresenceStore
from infrastructure.settings import Settings

#: Handshakes in flight when streams open or reconnect (as ``open_streams``).
CONCURRENCY = 256
#: How often the bench polls Redis while it waits for presence to change.
POLL_SECONDS = 0.1
#: Members per call when the bench reads a whole group's presence.
WALK_PAGE = 1000


def say(what: str) -> None:
    print(f"[bench] presence: {what}", file=sys.stderr, flush=True)


def herald_default(name: str) -> float:
    """The default of Herald's setting ``name``: what a deployment that does not set it gets."""
    default = getattr(attrs.fields(Settings), name).default
    assert isinstance(default, float | int)
    return float(default)


@dataclass
class PresenceSizes:
    """The sizes and settings of ``--presence`` (the streams are the run's ``--streams``)."""

    processes: int
    window: float
    """Seconds of each idle window, rounded to whole upkeep periods."""
    queries: int
    """Calls of each kind of read."""
    watchers: int
    """Streams of the stopped process that also watch the announced report's group."""
    samplers: int
    """Streams of the other process that watch it too and count the messages they receive."""
    grace: float
    timeout: float
    settle: float

    @property
    def period(self) -> float:
        """The tracker's upkeep period: a sixth of the timeout (``PresenceTracker``)."""
        return self.timeout / 6


class Tally(Recorder):
    """A recorder that also counts the ``presence.joined`` and ``presence.left`` messages its stream received."""

    CHANGE = re.compile(rb"^event: presence\.(joined|left)\r?$", re.MULTILINE)

    def __init__(self) -> None:
        super().__init__()
        self.changes: Counter[str] = Counter()

    def record(self, frames: bytes, now_ns: int) -> int:
        for match in self.CHANGE.finditer(frames):
            self.changes[match[1].decode()] += 1
        return super().record(frames, now_ns)

    @property
    def total(self) -> int:
        return self.changes["joined"] + self.changes["left"]


@dataclass
class Reading:
    """Redis's counters (every primary's, summed) and the servers' CPU at one moment."""

    at: float
    commands: int
    calls: Counter[str]
    redis_cpu: float
    server_cpu: float


async def read(nodes: Sequence[Redis], pids: Sequence[int]) -> Reading:
    """One ``INFO everything`` per primary: the only command the bench adds between two readings."""
    at, commands, calls, cpu = time.monotonic(), 0, Counter[str](), 0.0
    for node in nodes:
        info = await node.info("everything")
        commands += int(info["total_commands_processed"])
        cpu += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        for name, stats in info.items():
            if name.startswith("cmdstat_"):
                calls[name.removeprefix("cmdstat_")] += int(stats["calls"])
    return Reading(at, commands, calls, cpu, sum(cpu_seconds_of(pid) for pid in pids))


def between(before: Reading, after: Reading, nodes: int) -> dict[str, float]:
    """Rates from ``before`` to ``after``: the bench's own ``INFO`` calls (one per primary) left out."""
    seconds = after.at - before.at
    calls = after.calls - before.calls
    scripts = calls["evalsha"] + calls["eval"]
    return {
        "seconds": seconds,
        "commands": after.commands - before.commands - nodes,
        "commands_per_s": (after.commands - before.commands - nodes) / seconds,
        "script_calls_per_s": scripts / seconds,
        "redis_cpu_ms_per_s": (after.redis_cpu - before.redis_cpu) * 1000 / seconds,
        "server_cpu_ms_per_s": (after.server_cpu - before.server_cpu) * 1000 / seconds,
        "script_calls": scripts,
    }


async def idle_window(nodes: Sequence[Redis], pids: Sequence[int], sizes: PresenceSizes) -> dict[str, Any]:
    """Whole upkeep periods of idle streams: each rate's median over the periods, and each command's calls/s."""
    periods = max(1, round(sizes.window / sizes.period))
    readings = [await read(nodes, pids)]
    for _ in range(periods):
        await asyncio.sleep(readings[0].at + sizes.period * len(readings) - time.monotonic())
        readings.append(await read(nodes, pids))
    samples = [between(a, b, len(nodes)) for a, b in itertools.pairwise(readings)]
    seconds = readings[-1].at - readings[0].at
    calls = readings[-1].calls - readings[0].calls
    calls.pop("info", None)
    summary: dict[str, Any] = {
        name: statistics.median(sample[name] for sample in samples)
        for name in ("commands_per_s", "script_calls_per_s", "redis_cpu_ms_per_s", "server_cpu_ms_per_s")
    }
    summary["periods"] = periods
    summary["period_s"] = sizes.period
    summary["calls_per_s"] = {name: count / seconds for name, count in calls.most_common()}
    # Inside the scripts: every sweep (REAP) asks for the expired leases, every renewal (RENEW) for its own.
    summary["sweeps_per_s"] = summary["calls_per_s"].get("zrangebyscore", 0.0)
    summary["renewals_per_s"] = summary["calls_per_s"].get("zscore", 0.0)
    summary["each"] = samples
    return summary


class KeptAlive:
    """One HTTP/1.1 connection kept alive for GET requests: what a read costs, not a handshake."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        self._reader, self._writer, self._port = reader, writer, port

    @classmethod
    @contextlib.asynccontextmanager
    async def to(cls, port: int) -> AsyncIterator["KeptAlive"]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            yield cls(reader, writer, port)
        finally:
            writer.close()

    async def get(self, path: str, token: str) -> tuple[int, bytes]:
        self._writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self._port}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        )
        head = await self._reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)\r?$", head)
        if length is None:
            raise RuntimeError(f"a response without a length: {head!r}")
        return int(head[9:12]), await self._reader.readexactly(int(length[1]))


def timings(values: Sequence[float]) -> dict[str, float]:
    return {"p50_ms": percentile(values, 0.5), "p99_ms": percentile(values, 0.99), "calls": len(values)}


async def reads(
    port: int, token: str, store: RedisPresenceStore, group: Group, members: Sequence[uuid.UUID], n: int
) -> dict[str, Any]:
    """``n`` counts and ``n`` pages of 100 after a random member, over HTTP and as the store's own calls, in turns."""
    path = f"/api/v1/presence/{group.kind.value}/{group.id}"
    times: dict[str, list[float]] = {"http_count": [], "http_page": [], "store_count": [], "store_page": []}
    pick = random.Random(0)
    async with KeptAlive.to(port) as http:
        for _ in range(n):
            after = pick.choice(members)
            for kind, values in times.items():
                started = time.perf_counter()
                if kind == "http_count":
                    status, body = await http.get(f"{path}?members=false", token)
                elif kind == "http_page":
                    status, body = await http.get(f"{path}?limit=100&after={after}", token)
                elif kind == "store_count":
                    status, body = 200, b"%d" % await store.count(group)
                else:
                    page = await store.members(group, after=after, limit=100)
                    status, body = 200, b"%d" % len(page.members)
                values.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    raise RuntimeError(f"{kind}: {status} {body[:200]!r}")
    return {kind: timings(values) for kind, values in times.items()}


async def roster(store: RedisPresenceStore, group: Group) -> dict[uuid.UUID, datetime]:
    """Every member of ``group`` and since when it has been present, read from the store."""
    members: dict[uuid.UUID, datetime] = {}
    after = None
    while True:
        page = await store.members(group, after=after, limit=WALK_PAGE)
        members.update((member.user_id, member.since) for member in page.members)
        if page.next is None:
            return members
        after = page.next


def changed(before: dict[uuid.UUID, datetime], after: dict[uuid.UUID, datetime]) -> int:
    """Presence changes between two rosters: a member gone or new is one, one back with a new ``since`` is two."""
    gone = before.keys() - after.keys()
    new = after.keys() - before.keys()
    back = sum(1 for user, since in after.items() if user in before and before[user] != since)
    return len(gone) + len(new) + 2 * back


async def swept_since(before: Reading, nodes: Sequence[Redis], pids: Sequence[int]) -> bool:
    """Whether a presence sweep (``REAP``'s look-up of expired leases) has run on Redis since ``before``."""
    return (await read(nodes, pids)).calls["zrangebyscore"] > before.calls["zrangebyscore"]


async def until(condition: Callable[[], Awaitable[bool]], limit: float = SETTLE_LIMIT_SECONDS) -> float | None:
    """Poll ``condition`` until it holds: the seconds it took, or None after ``limit``."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if await condition():
            return time.monotonic() - started
        await asyncio.sleep(POLL_SECONDS)
    return None


@dataclass
class Announced:
    """The report whose group announces joins and leaves, and the members that count what they receive."""

    group: Group
    log: str
    watch: str
    samplers: list[StreamClient] = field(default_factory=list)
    watchers: list[StreamClient] = field(default_factory=list)

    async def written(self, client: Redis | RedisCluster) -> int:
        """Entries ever added to the group's log (0 before the first)."""
        try:
            info = await client.xinfo_stream(self.log)
        except ResponseError:  # no such key yet
            return 0
        return int(info["entries-added"])

    def received(self) -> list[int]:
        return [tally(client).total for client in self.samplers]

    def delivered(self) -> int:
        return sum(tally(client).total for client in self.samplers + self.watchers)


def tally(client: StreamClient) -> Tally:
    assert isinstance(client.recorder, Tally)
    return client.recorder


async def shared_report(database_url: str, owner: uuid.UUID, users: Sequence[uuid.UUID]) -> uuid.UUID:
    """A finished report of ``owner``, shared with ``users``: they may all watch it."""
    engine = create_async_engine(database_url)
    report_id, now = uuid.uuid4(), datetime.now(UTC)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                tables.reports.insert().values(
                    report_id=report_id,
                    owner_id=owner,
                    title="presence bench",
                    status=ReportStatus.COMPLETED.value,
                    percent=100,
                    steps_done=0,
                    version=1,
                    requested_at=now,
                    updated_at=now,
                )
            )
            rows = [{"report_id": report_id, "user_id": user, "shared_at": now} for user in users]
            await connection.execute(tables.report_shares.insert(), rows)
    finally:
        await engine.dispose()
    return report_id


@contextlib.asynccontextmanager
async def shared_database(postgres_url: str | None) -> AsyncIterator[str | None]:
    if postgres_url is None:
        yield None
        return
    async with fresh_database(postgres_url) as url:
        yield url


class LowestCount:
    """The lowest count of a group's presence seen while it runs, polled from the store."""

    def __init__(self, store: RedisPresenceStore, group: Group) -> None:
        self._store, self._group = store, group
        self.lowest: int | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "LowestCount":
        self._task = asyncio.get_running_loop().create_task(self._poll())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _poll(self) -> None:
        while True:
            count = await self._store.count(self._group)
            self.lowest = count if self.lowest is None else min(self.lowest, count)
            await asyncio.sleep(POLL_SECONDS)


@dataclass
class Stage:
    """What the run has to work with: its processes, Redis, the presence store, and who holds which stream."""

    fleet: Fleet
    nodes: Sequence[Redis]
    client: Redis | RedisCluster
    store: RedisPresenceStore
    tenant: Group
    leases: str
    """The lease set of the tenant group's partition: one entry per process holding anyone there."""
    sizes: PresenceSizes
    announced: Announced | None
    clients: list[list[StreamClient]] = field(default_factory=list)
    """Each process's clients, in the order of ``fleet.servers``."""
    present: int = 0
    """Users present in the tenant's group while every stream is open."""

    async def count(self) -> int:
        return await self.store.count(self.tenant)

    async def snapshot(self) -> dict[str, Any]:
        """Who is in the tenant's group since when, and what the report's group wrote and delivered so far."""
        snapshot: dict[str, Any] = {"roster": await roster(self.store, self.tenant)}
        if self.announced is not None:
            snapshot["written"] = await self.announced.written(self.client)
            snapshot["received"] = self.announced.received()
            snapshot["delivered"] = self.announced.delivered()
        return snapshot

    async def changes(self, before: dict[str, Any]) -> dict[str, Any]:
        """What changed since ``before``: in the tenant's group, and the report group's messages."""
        after = await self.snapshot()
        figures: dict[str, Any] = {"tenant_changes": changed(before["roster"], after["roster"])}
        if self.announced is not None:
            received = [b - a for a, b in zip(before["received"], after["received"], strict=True)]
            figures["report_messages_written"] = after["written"] - before["written"]
            figures["report_messages_per_sampler"] = statistics.median(received) if received else float("nan")
            figures["report_messages_per_sampler_max"] = max(received, default=float("nan"))
            figures["report_messages_delivered"] = after["delivered"] - before["delivered"]
        return figures

    async def quiet(self, expected_per_sampler: int) -> None:
        """Wait until the samplers received ``expected_per_sampler`` more messages each and then nothing for a
        while (a few times longer when they fall short: the rest may be on its way)."""
        window = max(0.5, 2 * self.sizes.settle)
        samplers = self.announced.samplers if self.announced is not None else []
        goal = [tally(client).total + expected_per_sampler for client in samplers]
        last, still = -1, time.monotonic()
        deadline = still + SETTLE_LIMIT_SECONDS
        while time.monotonic() < deadline:
            now = [tally(client).total for client in samplers]
            if sum(now) != last:
                last, still = sum(now), time.monotonic()
            reached = all(n >= g for n, g in zip(now, goal, strict=True))
            if time.monotonic() - still >= (window if reached else 3 * window):
                return
            await asyncio.sleep(POLL_SECONDS)


def watchers(sizes: PresenceSizes, process: int, streams: int) -> set[int]:
    """Which of a process's streams watch the report: ``watchers`` spread evenly over the first process's
    (so that they are a fair sample of the streams that move, whatever the order they move in), and the
    second process's first ``samplers``."""
    if process == 0 and sizes.watchers:
        return set(range(0, streams, max(1, streams // sizes.watchers))[: sizes.watchers])
    return set(range(min(sizes.samplers, streams))) if process == 1 else set()


async def open_tracked(stage: Stage, tokens: Sequence[str]) -> dict[str, Any]:
    """The streams in the tenant's group, dealt over the processes in turn; the first process's first
    ``watchers`` and the second's first ``samplers`` also watch the report (each counts what it receives)."""
    fleet, sizes, announced = stage.fleet, stage.sizes, stage.announced
    recorder = Recorder()

    async def one_process(i: int, port: int) -> list[StreamClient]:
        gate, share = asyncio.Semaphore(CONCURRENCY), tokens[i :: len(fleet.servers)]
        watching = watchers(sizes, i, len(share)) if announced is not None else set()
        return await asyncio.gather(
            *(
                open_stream(port, token, Tally(), announced.watch, gate)
                if n in watching and announced is not None
                else open_stream(port, token, recorder, "", gate)
                for n, token in enumerate(share)
            )
        )

    before = await read(stage.nodes, fleet.pids)
    started = time.perf_counter()
    opened = await asyncio.gather(*(one_process(i, server.port) for i, server in enumerate(fleet.servers)))
    seconds = time.perf_counter() - started
    stage.clients = [[client for client in each if not client.failed] for each in opened]
    if announced is not None:
        announced.watchers = [client for client in stage.clients[0] if isinstance(client.recorder, Tally)]
        announced.samplers = [client for client in stage.clients[1] if isinstance(client.recorder, Tally)]
    stage.present = sum(map(len, stage.clients))

    async def flushed() -> bool:
        return await stage.count() == stage.present

    flush_s = await until(flushed)
    await asyncio.sleep(3 * sizes.settle)
    opening = between(before, await read(stage.nodes, fleet.pids), len(stage.nodes))
    return {
        "connect_s": seconds,
        "connect_failures": len(tokens) - stage.present,
        "present_after_s": flush_s if flush_s is not None else float("nan"),
        "open_commands_per_stream": opening["commands"] / len(tokens),
        "open_script_calls": opening["script_calls"],
    }


async def open_untracked(stage: Stage, tokens: Sequence[str]) -> dict[str, Any]:
    """The baseline: the same users' streams in no group, so not tracked; what opening them cost, then idle."""
    recorder, fleet = Recorder(), stage.fleet
    before = await read(stage.nodes, fleet.pids)
    started = time.perf_counter()
    count = len(fleet.servers)
    opened = await asyncio.gather(
        *(open_streams(s.port, tokens[i::count], recorder) for i, s in enumerate(fleet.servers))
    )
    seconds = time.perf_counter() - started
    await asyncio.sleep(3 * stage.sizes.settle)
    opening = between(before, await read(stage.nodes, fleet.pids), len(stage.nodes))
    figures: dict[str, Any] = {
        "connect_s": seconds,
        "connect_failures": sum(failures for _, failures in opened),
        "open_commands_per_stream": opening["commands"] / len(tokens),
        "open_script_calls": opening["script_calls"],
    }
    figures.update(await idle_window(stage.nodes, fleet.pids, stage.sizes))
    for clients, _ in opened:
        close(clients)
    await asyncio.sleep(3 * stage.sizes.settle)
    return figures


class Mover:
    """Reconnects clients to another process, ``CONCURRENCY`` handshakes at a time, resuming with their last id.

    A refused reconnect (a 503 while the process is swamped) is tried again
    after ``RETRY_SECONDS``, as a client that honours ``Retry-After`` does, up
    to ``ATTEMPTS`` times; the refusals are counted.
    """

    ATTEMPTS = 5
    RETRY_SECONDS = 1.0

    def __init__(self) -> None:
        self.gate = asyncio.Semaphore(CONCURRENCY)
        self.refused = 0

    async def reopen(self, client: StreamClient, port: int) -> bool:
        """Reconnect ``client`` to ``port``; whether its stream opened in the end."""
        for attempt in range(self.ATTEMPTS):
            if attempt:
                await asyncio.sleep(self.RETRY_SECONDS)
            async with self.gate:
                client.port, client.resume = port, True
                try:
                    if await client.connect() == 200:
                        client.failed = False
                        return True
                except (OSError, TimeoutError):
                    pass
            client.close()
            self.refused += 1
        client.failed = True
        return False

    async def reopen_all(self, clients: Sequence[StreamClient], port: int) -> dict[str, float]:
        started = time.monotonic()
        opened = await asyncio.gather(*(self.reopen(client, port) for client in clients))
        return {
            "reconnected_s": time.monotonic() - started,
            "reconnects_refused": self.refused,
            "reconnect_failures": sum(not ok for ok in opened),
        }


async def restart_within_grace(stage: Stage) -> dict[str, Any]:
    """SIGTERM the first process; its clients reconnect to the second at once. Measured once a live process
    swept the stopped one's leases: nobody should have left or joined if they were back by then."""
    fleet = stage.fleet
    stopped, haven = fleet.servers[0], fleet.servers[1]
    before = await stage.snapshot()
    holders = int(await stage.client.zcard(stage.leases))

    async def swept() -> bool:
        return int(await stage.client.zcard(stage.leases)) < holders

    async with LowestCount(stage.store, stage.tenant) as lowest:
        sweep = asyncio.get_running_loop().create_task(until(swept))  # timed from the SIGTERM, just below
        mover = Mover()
        figures: dict[str, Any] = await leave(
            stage.clients[0], stopped, functools.partial(mover.reopen, port=haven.port)
        )
        figures["reconnects_refused"] = mover.refused
        fleet.servers.remove(stopped)
        stage.present -= figures["reconnect_failures"]  # they stay away: each one leave
        figures["swept_s"] = await sweep
        del figures["stopped_at"]
        await stage.quiet(0)
    figures["lowest_count"] = lowest.lowest
    figures.update(await stage.changes(before))
    return figures


async def move_back(stage: Stage) -> dict[str, Any]:
    """A process starts in the stopped one's place, and the moved clients close their streams and open them
    there (as clients sent elsewhere would): within the grace again. Measured once the graces ran out."""
    movers = [client for client in stage.clients[0] if not client.failed]
    new = await stage.fleet.start()
    stage.fleet.servers.insert(0, new)
    await asyncio.sleep(stage.sizes.settle)
    before = await stage.snapshot()
    async with LowestCount(stage.store, stage.tenant) as lowest:
        for client in movers:
            client.on_end, client.resume = None, False
        close(movers)
        figures: dict[str, Any] = await Mover().reopen_all(movers, new.port)
        stage.present -= figures["reconnect_failures"]
        # The old process forgets a user when its grace ends, and the next round sends that: then it counts.
        await asyncio.sleep(stage.sizes.grace + stage.sizes.period + 1)
        await stage.quiet(0)
    figures["streams"] = len(movers)
    figures["lowest_count"] = lowest.lowest
    figures.update(await stage.changes(before))
    return figures


async def come_back_late(stage: Stage) -> dict[str, Any]:
    """SIGTERM the process the clients moved to; they come back (to the other one) only once they left."""
    fleet = stage.fleet
    movers = [client for client in stage.clients[0] if not client.failed]
    stopped, haven = fleet.servers[0], fleet.servers[1]
    watchers = sum(not c.failed for c in stage.announced.watchers) if stage.announced is not None else 0
    before = await stage.snapshot()

    async def gone() -> bool:
        return await stage.count() <= stage.present - len(movers)

    async def back() -> bool:
        return await stage.count() >= stage.present

    async with LowestCount(stage.store, stage.tenant) as lowest:
        leaving = asyncio.get_running_loop().create_task(until(gone))  # timed from the SIGTERM, just below
        figures: dict[str, Any] = await leave(movers, stopped, None)
        fleet.servers.remove(stopped)
        figures["left_s"] = await leaving
        del figures["stopped_at"]
        figures.update(await Mover().reopen_all(movers, haven.port))
        stage.present -= figures["reconnect_failures"]
        figures["joined_s"] = await until(back)
        await stage.quiet(2 * watchers)
    figures["lowest_count"] = lowest.lowest
    figures.update(await stage.changes(before))
    return figures


async def measure_presence(
    env: dict[str, str],
    users: Sequence[uuid.UUID],
    plain: Sequence[str],
    tenants: Sequence[str],
    reader: str,
    sizes: PresenceSizes,
    *,
    redis_url: str,
    postgres_url: str | None,
) -> dict[str, Any]:
    """Every measurement of ``--presence``. ``plain`` and ``tenants`` are the ``users``' tokens without and with
    the tenant's claim; ``reader`` is another member's token, for the reads."""
    keys = RedisKeys(env["HERALD_REDIS_PREFIX"])
    tenant = Group(GroupKind.TENANT, TENANT)
    env = {
        **env,
        "HERALD_PRESENCE_GRACE_SECONDS": str(sizes.grace),
        "HERALD_PRESENCE_TIMEOUT_SECONDS": str(sizes.timeout),
    }
    results: dict[str, Any] = {"grace_s": sizes.grace, "timeout_s": sizes.timeout, "processes": sizes.processes}
    async with shared_database(postgres_url) as database_url, primaries(redis_url) as nodes:
        announced = None
        if database_url is not None:
            env["HERALD_DATABASE_URL"] = database_url
        with contextlib.ExitStack() as stack:
            fleet = Fleet(stack, env)
            fleet.servers = list(await asyncio.gather(*(fleet.start() for _ in range(sizes.processes))))
            if database_url is not None:  # the schema is there now: both processes migrated it
                watching = [
                    share[n]
                    for process in (0, 1)
                    for share in [users[process :: sizes.processes]]
                    for n in sorted(watchers(sizes, process, len(share)))
                ]
                report = await shared_report(database_url, uuid.uuid4(), watching)
                group = Group(GroupKind.REPORT, str(report))
                announced = Announced(group, keys.group_log(group), f"watch=report:{report}")
            cluster = bool((await nodes[0].info("cluster")).get("cluster_enabled"))
            client = RedisCluster.from_url(redis_url) if cluster else Redis.from_url(redis_url)
            stage = Stage(
                fleet=fleet,
                nodes=nodes,
                client=client,
                store=RedisPresenceStore(client, keys, timeout_seconds=10),
                tenant=tenant,
                leases=keys.presence_space(keys.group_tag(tenant)) + "leases",
                sizes=sizes,
                announced=announced,
            )
            try:
                # A process sweeps only once it has been reachable for a whole lease: measure idle upkeep after that.
                started = await read(nodes, fleet.pids)
                if await until(functools.partial(swept_since, started, nodes, fleet.pids)) is None:
                    raise RuntimeError(f"no presence sweep within {SETTLE_LIMIT_SECONDS} s of the processes' start")
                say("untracked streams, idle")
                results["untracked"] = await open_untracked(stage, plain)
                say("tracked streams, idle")
                results["tracked"] = await open_tracked(stage, tenants)
                results["tracked"].update(await idle_window(nodes, fleet.pids, sizes))
                say("reads")
                members = list(await roster(stage.store, tenant))
                port = fleet.servers[1].port
                results["reads"] = await reads(port, reader, stage.store, tenant, members, sizes.queries)
                results["reads"]["members"] = len(members)
                if announced is not None:
                    results["report_watchers"] = len(announced.watchers)
                    results["report_samplers"] = len(announced.samplers)
                say("a restart, the clients back within the grace")
                results["restart"] = await restart_within_grace(stage)
                say("the clients moved back to a new process")
                results["move_back"] = await move_back(stage)
                say("a restart, the clients back after the grace")
                results["late"] = await come_back_late(stage)
            finally:
                for clients in stage.clients:
                    close(clients)
                await client.aclose()
    return results
