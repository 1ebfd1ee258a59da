"""The storm (``python -m bench --storm``, and after the main table in the default run): a process stops under load.

Two Herald processes on one Redis hold ``--storm-streams`` streams each (a
user each). The publisher sends ``--storm-rate`` events/s through Herald's
real publish path, each to one user, round robin over every user of both, for
the whole run. After a window that measures the delivery latency of the other
process's own streams, one process is stopped with SIGTERM while publishing
goes on. Its clients come back the way Herald's TypeScript client does
(``clients/typescript/src/connection.ts``): when the stream ends or the
connection fails, each waits a full-jitter backoff whose base is the
``retry:`` hint the server sent, and reconnects with its ``Last-Event-ID`` to
the other process, where a load balancer would send it. The bench measures how
long until every stream is open there again, the other process's own
streams' latency and CPU meanwhile against before, and, once publishing has
stopped and every event could arrive, what each user's client lost or got
twice across the move.

Each client keeps its own ledger, so an event counts as received only by the
user it was sent to. An event can be resumed only after an id: the window
before the stop lasts at least until every stream of the stopped process has
received an event (the publisher's round robin reaches each user in turn).
"""

import asyncio
import contextlib
import os
import random
import re
import resource
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.fleet import SETTLE_LIMIT_SECONDS, Fleet, close, leave, pid
from bench.harness import ROOT, Publisher, RunEnvironment, cpu_seconds_of, percentile
from bench.loadgen import EVENT, Recorder, StreamClient, open_stream
from infrastructure.auth import TokenService

#: Handshakes in flight while the streams first open (as ``open_streams``); the moved clients are not gated.
CONCURRENCY = 256
#: The publisher's commands are this long, back to back, so publishing stops soon after it is told to.
CHUNK_SECONDS = 0.5
#: A client that is not back this long after its stream ended gives up, and one waits this long at most for an
#: answer (the TypeScript client does neither: fetch waits for the answer, and the client tries for ever).
REJOIN_LIMIT_SECONDS = 600.0
#: Descriptors a process needs beside its streams' sockets (Redis, pipes, the listening sockets, logs).
OPEN_FILES_BESIDE = 256
#: How often the bench checks a condition it waits for.
POLL_SECONDS = 0.05


def say(what: str) -> None:
    print(f"[bench] storm: {what}", file=sys.stderr, flush=True)


@dataclass
class StormSizes:
    """The sizes of the storm."""

    streams: int
    """Streams on each of the two processes."""
    rate: int
    """Events/s, each to one user, round robin over the users of both processes."""
    before: float
    """Seconds of the window before the SIGTERM (longer if a stream still has no id to resume from)."""
    after: float
    """Seconds publishing goes on once every stream is back."""
    drain: float
    """The longest wait, once publishing stopped, for every event to reach its user."""
    settle: float
    asked: int = 0
    """The streams per process asked for, when this machine's open-file limit holds fewer (0 otherwise)."""


def streams_that_fit() -> int:
    """The most streams per process this machine's open-file limit lets the storm hold (see :func:`make_room`)."""
    return (resource.getrlimit(resource.RLIMIT_NOFILE)[1] - OPEN_FILES_BESIDE) // 2


def make_room(sizes: StormSizes) -> str | None:
    """Raise this process's open-file limit (the servers it starts inherit it) for the storm's sockets; or why
    this machine cannot: the load generator and the process the clients move to each hold one per stream."""
    needed = 2 * sizes.streams + OPEN_FILES_BESIDE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if needed <= soft:
        return None
    if needed <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        return None
    fits = (hard - OPEN_FILES_BESIDE) // 2
    return (
        f"the storm needs {needed} open files in one process (a socket per stream of both processes, and more), "
        f"and the limit here is {hard} (ulimit -Hn): raise it, or pass --storm-streams {fits} or fewer, or --no-storm"
    )


class Progress:
    """How many sent events have reached their own user's client, at least once: what the drain waits for."""

    def __init__(self) -> None:
        self.arrived = 0


class Ledger(Recorder):
    """What one client received: each event's count, and its send time with its latency."""

    def __init__(self, index: int, users: int, progress: Progress) -> None:
        super().__init__()
        self.index, self.users, self.progress = index, users, progress
        self.counts: dict[int, int] = {}
        self.samples: list[tuple[int, int]] = []

    def record(self, frames: bytes, now_ns: int) -> int:
        count = 0
        for match in EVENT.finditer(frames):
            sent, seq = int(match[1]), int(match[2])
            self.samples.append((sent, now_ns - sent))
            seen = self.counts.get(seq, 0)
            self.counts[seq] = seen + 1
            if not seen and seq % self.users == self.index:
                self.progress.arrived += 1
            count += 1
        return count

    def latencies_ms(self, start_ns: int, end_ns: int) -> list[float]:
        """Latencies of the events sent within ``[start_ns, end_ns)``."""
        return [latency / 1e6 for sent, latency in self.samples if start_ns <= sent < end_ns]


#: The server's reconnection hint, and the reason of a ``stream.end`` that announces a shutdown.
RETRY_HINT = re.compile(rb"^retry: ?(\d+)\r?$", re.MULTILINE)
SHUTDOWN_NOTICE = b'"reason":"shutdown"'


class JitteredClient(StreamClient):
    """A stream client that keeps what Herald's TypeScript client needs to time its next attempt.

    Its constants are that client's defaults (``stream.ts``): the base until
    the server's ``retry:`` replaces it, the longest wait, and how long a
    stream must stay open for the failures before it to be forgotten. A
    stream that ends after the server announced a shutdown is no failure.
    """

    FIRST_RETRY_MS = 1000
    CAP_MS = 30_000
    STABLE_SECONDS = 10.0

    def __init__(self, recorder: Recorder, port: int, token: str, *, resume: bool = True, query: str = "") -> None:
        super().__init__(recorder, port, token, resume=resume, query=query)
        self.retry_ms = self.FIRST_RETRY_MS
        self.failures = 0
        self.opened_at: float | None = None
        self.expected_end = False
        self._tail = b""

    async def connect(self, answer_seconds: float = REJOIN_LIMIT_SECONDS) -> int:
        self.opened_at, self.expected_end, self._tail = None, False, b""
        status = await super().connect(answer_seconds)
        if status == 200:
            self.opened_at = time.monotonic()
        return status

    def data_received(self, data: bytes) -> None:
        seen = self._tail + data  # a short line may be split over two reads
        if hint := RETRY_HINT.search(seen):
            self.retry_ms = int(hint[1])
        if SHUTDOWN_NOTICE in seen:
            self.expected_end = True
        self._tail = seen[-64:]
        super().data_received(data)

    def next_wait(self, rng: random.Random) -> float:
        """Seconds before the next attempt, once the last one ended (``Connection.#loop`` and ``backoff``)."""
        stable = self.opened_at is not None and time.monotonic() - self.opened_at >= self.STABLE_SECONDS
        if stable:
            self.failures = 0
        elif not self.expected_end:
            self.failures += 1
        ceiling_ms: int = min(self.CAP_MS, self.retry_ms * 2 ** min(self.failures, 30))
        return rng.random() * ceiling_ms / 1000


@dataclass
class Comeback:
    """Brings clients whose stream ended back to one process, each on its own clock, as the TypeScript client."""

    port: int
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    refused: Counter[str] = field(default_factory=Counter)
    ended: int = 0
    """Streams the process ended unasked, brought back in the background."""
    _tasks: set[asyncio.Task[bool]] = field(default_factory=set)

    async def __call__(self, client: StreamClient) -> bool:
        """Until ``client``'s stream is open on ``port`` again, or the limit passed; whether it is."""
        assert isinstance(client, JitteredClient)
        deadline = time.monotonic() + REJOIN_LIMIT_SECONDS
        while True:
            wait = client.next_wait(self.rng)
            if time.monotonic() + wait > deadline:
                return False
            await asyncio.sleep(wait)
            client.port = self.port
            status = await self._attempt(client, max(0.1, deadline - time.monotonic()))
            if status == "200":
                client.on_end = self.in_background
                return True
            client.close()
            self.refused[status] += 1

    @staticmethod
    async def _attempt(client: JitteredClient, answer_seconds: float) -> str:
        """The answer's status, or why there was none."""
        try:
            status = await client.connect(answer_seconds)
        except TimeoutError:
            return "no answer"
        except OSError:
            return "connection refused"
        return str(status) if status else "closed before answering"

    def in_background(self, client: StreamClient) -> None:
        """A stream's ``on_end``: it comes back the same way, and the run goes on."""
        client.on_end = None
        self.ended += 1
        task = asyncio.get_running_loop().create_task(self(client))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class Publishing:
    """The fixed rate for as long as the run needs it, in short commands back to back (seq carries on)."""

    def __init__(self, publisher: Publisher, users: int, rate: int) -> None:
        self.publisher, self.users, self.rate = publisher, users, rate
        self.first = self.end = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        seconds = max(CHUNK_SECONDS, 1 / self.rate)
        while not self._stopping:
            reply = await self.publisher.run(op="rate", users=self.users, rate=self.rate, seconds=seconds, seq=self.end)
            self.end += reply["sent"]

    async def stop(self) -> None:
        """Once the command under way has been sent in full."""
        self._stopping = True
        assert self._task is not None
        await self._task


@dataclass
class Moment:
    """When something happened, on both clocks, and the CPU used by then: the other process's, the load
    generator's (this process), and the whole machine's (the latency is only the server's if those had room)."""

    wall_ns: int
    at: float
    cpu: float
    generator_cpu: float
    machine_busy: float

    @classmethod
    def now(cls, process: int) -> "Moment":
        return cls(time.time_ns(), time.monotonic(), cpu_seconds_of(process), time.process_time(), machine_busy())


def machine_busy() -> float:
    """CPU seconds every core of the machine has spent on anything but idling (``/proc/stat``), summed."""
    jiffies = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = jiffies[3] + jiffies[4]  # idle, iowait
    return (sum(jiffies) - idle) / os.sysconf("SC_CLK_TCK")


async def until(condition: Callable[[], bool], limit: float) -> float | None:
    """Poll ``condition`` until it holds: the seconds it took, or None after ``limit``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > limit:
            return None
        await asyncio.sleep(POLL_SECONDS)
    return time.monotonic() - started


def window_figures(ledgers: Sequence[Ledger], start: Moment, end: Moment) -> dict[str, float]:
    """The other process's own streams between two moments: latency of the events sent then, and CPU."""
    ms = [value for ledger in ledgers for value in ledger.latencies_ms(start.wall_ns, end.wall_ns)]
    seconds = end.at - start.at
    return {
        "seconds": seconds,
        "events": len(ms),
        "p50_ms": percentile(ms, 0.5),
        "p99_ms": percentile(ms, 0.99),
        "max_ms": max(ms, default=float("nan")),
        "server_cpu_ms_per_s": per_second(end.cpu - start.cpu, seconds),
        "load_generator_cpu_ms_per_s": per_second(end.generator_cpu - start.generator_cpu, seconds),
        "machine_cpu_ms_per_s": per_second(end.machine_busy - start.machine_busy, seconds),
    }


def per_second(cpu_seconds: float, seconds: float) -> float:
    """CPU milliseconds per second of a window."""
    return cpu_seconds * 1000 / seconds if seconds > 0 else float("nan")


def tally(ledgers: Sequence[Ledger], opened: Sequence[bool], first: int, end: int) -> Counter[int]:
    """Per user, the events sent to them (from ``first`` to ``end``) their client never received."""
    users = len(ledgers)
    lost = Counter[int]()
    for seq in range(first, end):
        user = seq % users
        if opened[user] and seq not in ledgers[user].counts:
            lost[user] += 1
    return lost


def repeated(ledger: Ledger) -> int:
    return sum(count - 1 for count in ledger.counts.values() if count > 1)


def misdelivered(ledger: Ledger) -> int:
    """Events this client received that were sent to another user (there should be none)."""
    return sum(1 for seq in ledger.counts if seq % ledger.users != ledger.index)


def accounting(run: "Run", opened: Sequence[bool], no_id: set[int], first: int, end: int) -> dict[str, int]:
    """Lost and repeated events over every user, and split between the moved streams and the others, those that
    had no id to resume from and those whose client gave up coming back."""
    ledgers, moved = run.ledgers, run.sizes.streams
    lost = tally(ledgers, opened, first, end)
    twice = [repeated(ledger) for ledger in ledgers]
    return {
        "published": end - first,
        "lost": sum(lost.values()),
        "lost_moved": sum(n for user, n in lost.items() if user < moved),
        "lost_without_id": sum(n for user, n in lost.items() if user in no_id),
        "lost_not_back": sum(n for user, n in lost.items() if user in run.not_back),
        "users_with_losses": len(lost),
        "repeated": sum(twice),
        "repeated_moved": sum(twice[:moved]),
        "misdelivered": sum(misdelivered(ledger) for ledger in ledgers),
    }


@dataclass
class Run:
    """What the storm works with: the two processes, each user's client and ledger (the stopped process's first)."""

    fleet: Fleet
    sizes: StormSizes
    clients: list[StreamClient] = field(default_factory=list)
    ledgers: list[Ledger] = field(default_factory=list)
    progress: Progress = field(default_factory=Progress)
    comebacks: list[Comeback] = field(default_factory=list)
    """How each process's clients come back to it."""
    not_back: set[int] = field(default_factory=set)
    """The users whose client gave up coming back."""

    @property
    def moved(self) -> list[StreamClient]:
        return self.clients[: self.sizes.streams]

    @property
    def own(self) -> list[StreamClient]:
        return self.clients[self.sizes.streams :]

    @property
    def other(self) -> int:
        return pid(self.fleet.servers[1])


async def open_all(run: Run, tokens: Sequence[str]) -> dict[str, float]:
    """Every user's stream: the first half on the process that will stop, the other half on the other."""
    users = len(tokens)
    run.ledgers = [Ledger(i, users, run.progress) for i in range(users)]
    gate = asyncio.Semaphore(CONCURRENCY)
    ports = [server.port for server in run.fleet.servers]
    started = time.monotonic()
    run.clients = list(
        await asyncio.gather(
            *(
                open_stream(ports[i // run.sizes.streams], token, run.ledgers[i], "", gate, JitteredClient)
                for i, token in enumerate(tokens)
            )
        )
    )
    run.comebacks = [Comeback(port) for port in ports]
    for i, client in enumerate(run.clients):
        client.resume, client.on_end = False, run.comebacks[i // run.sizes.streams].in_background
    return {"connect_s": time.monotonic() - started, "connect_failures": sum(c.failed for c in run.clients)}


async def before_window(run: Run) -> tuple[Moment, Moment]:
    """The window before the SIGTERM; it lasts until every stream that will move has an id to resume from."""
    await asyncio.sleep(run.sizes.settle)  # the first events warm up the paths
    start = Moment.now(run.other)
    await asyncio.sleep(run.sizes.before)
    if await until(lambda: all(c.last_id is not None for c in run.moved if not c.failed), SETTLE_LIMIT_SECONDS) is None:
        say("some streams of the process to stop received no event: they cannot resume")
    return start, Moment.now(run.other)


async def storm(run: Run) -> tuple[dict[str, Any], Moment]:
    """SIGTERM the first process; its clients come back to the second. Ends once all are back (or gave up)."""
    stopped = run.fleet.servers[0]
    comeback = run.comebacks[1]
    moving = [client for client in run.moved if client.transport is not None]
    pending, back = len(moving), list[Moment]()

    async def rejoin(client: StreamClient) -> bool:
        nonlocal pending
        if await comeback(client):
            pending -= 1
            if not pending:
                back.append(Moment.now(run.other))
            return True
        assert isinstance(client.recorder, Ledger)
        run.not_back.add(client.recorder.index)
        return False

    figures: dict[str, Any] = await leave(moving, stopped, rejoin)
    end = back[0] if back else Moment.now(run.other)
    stopped_at = figures.pop("stopped_at")
    figures["back_s"] = end.at - stopped_at if back else float("nan")
    figures["not_back"] = figures.pop("reconnect_failures")
    figures["reconnects_refused"] = sum(comeback.refused.values())
    figures["refused_by_status"] = dict(comeback.refused)
    return figures, end


async def measure_storm(redis_url: str, prefix: str, issuer: TokenService, sizes: StormSizes) -> dict[str, Any]:
    """Every measurement of the storm, on processes, a publisher and keys (under ``prefix``) of its own."""
    users = [uuid.uuid4() for _ in range(2 * sizes.streams)]
    tokens = [issuer.issue(user, lifetime_seconds=7200) for user in users]
    users_file = ROOT / "bench" / "results" / f".storm-users-{os.getpid()}"
    users_file.parent.mkdir(parents=True, exist_ok=True)
    users_file.write_text("\n".join(map(str, users)))
    secret = os.environ["HERALD_JWT_SECRET"]
    env = RunEnvironment(redis_url, prefix, secret, users_file, max_streams=2 * sizes.streams).of("storm")
    try:
        with contextlib.ExitStack() as stack:
            fleet = Fleet(stack, env)
            fleet.servers = list(await asyncio.gather(fleet.start(), fleet.start()))
            async with Publisher.running("herald", env) as publisher:
                return await _measure(Run(fleet, sizes), tokens, publisher)
    finally:
        users_file.unlink(missing_ok=True)


async def _measure(run: Run, tokens: Sequence[str], publisher: Publisher) -> dict[str, Any]:
    sizes = run.sizes
    say(f"{sizes.streams} streams on each of two processes")
    results: dict[str, Any] = {"streams_per_process": sizes.streams, "rate": sizes.rate}
    if sizes.asked:
        results["streams_asked"] = sizes.asked
    results.update(await open_all(run, tokens))
    opened = [not client.failed for client in run.clients]
    await asyncio.sleep(2 * sizes.settle)
    publishing = Publishing(publisher, len(tokens), sizes.rate)
    publishing.start()
    try:
        say(f"{sizes.rate} events/s; the window before")
        start, stop = await before_window(run)
        no_id = {i for i, client in enumerate(run.moved) if not client.failed and client.last_id is None}
        say("SIGTERM; the clients come back to the other process")
        figures, back = await storm(run)
        results.update(figures)
        await asyncio.sleep(sizes.after)
    finally:
        await publishing.stop()
    say(f"{publishing.end - publishing.first} events sent; waiting for the last of them")
    results.update(await settle_up(run, opened, publishing))
    own_ledgers = run.ledgers[sizes.streams :]
    results["before"] = window_figures(own_ledgers, start, stop)
    results["during"] = window_figures(own_ledgers, stop, back)
    results["p99_ratio"] = results["during"]["p99_ms"] / results["before"]["p99_ms"]
    results["no_id_at_sigterm"] = len(no_id)
    results.update(accounting(run, opened, no_id, publishing.first, publishing.end))
    return results


async def settle_up(run: Run, opened: Sequence[bool], publishing: Publishing) -> dict[str, float]:
    """Wait until every event sent reached its user (within the drain), then close every stream."""
    users = len(run.clients)
    expected = sum(opened[seq % users] for seq in range(publishing.first, publishing.end))
    drained = await until(lambda: run.progress.arrived >= expected, run.sizes.drain)
    for comeback in run.comebacks:
        await comeback.stop()
    close(run.clients)
    return {
        "drain_s": float("nan") if drained is None else drained,
        "ended_unasked_before": run.comebacks[0].ended,
        "ended_unasked_by_the_other": run.comebacks[1].ended,
    }
