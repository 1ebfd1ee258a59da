"""Run the benchmark: ``python -m bench`` (``make bench``); ``--help`` lists the sizes.

For each target (Herald, the Litestar channels baseline, the raw-ASGI ceiling)
it starts the server and a publisher process, then measures, in this order:
opening N streams, RSS per idle stream, latency and loss at a fixed event
rate, broadcast fan-out, flat-out delivery on fewer streams, replay of a
client 1,000 events behind (Herald only: the others cannot resume) and the
publish path's own rate; for Herald also the rate of events raised through
units of work on PostgreSQL and relayed from the transactional outbox.
``--matrix``, ``--groups`` (see :mod:`bench.groups`) and ``--presence`` (see
:mod:`bench.presence`) measure something else instead. After Herald's rows the
run ends with the storm (see :mod:`bench.storm`): a process stopped under load
while its clients move to another; ``--storm`` runs it alone, ``--no-storm``
leaves it out.
Results go to a Markdown table (and JSON beside it).
"""

import argparse
import asyncio
import gc
import os
import platform
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import uvloop
from tests.support.postgres import fresh_database
from tests.support.processes import free_port

from bench.groups import TENANT, measure_groups
from bench.harness import (
    ROOT,
    Publisher,
    RunEnvironment,
    Target,
    cpu_seconds_of,
    forget_keys,
    http_get,
    percentile,
    rss_kib,
    serving,
    us_per,
    wait_healthy,
)
from bench.loadgen import Recorder, StreamClient, open_streams
from bench.postgres_server import PRIVATE as PRIVATE_POSTGRES
from bench.postgres_server import SKIP, postgres_for_bench
from bench.presence import PresenceSizes, herald_default, measure_presence
from bench.redis_server import CLUSTER, PRIVATE, cpu_seconds, primaries, redis_for_bench
from bench.report import render_markdown
from bench.storm import StormSizes, make_room, measure_storm, streams_that_fit
from infrastructure.auth import TokenService

TARGETS = ("herald", "baseline", "ceiling")


@dataclass
class Options:
    streams: int
    flat_streams: int
    rate: int
    seconds: float
    broadcasts: int
    replays: int
    targets: Sequence[str]
    redis_url: str
    output: Path
    matrix: bool = False
    matrix_streams: tuple[int, ...] = ()
    matrix_rates: tuple[int, ...] = ()
    postgres_url: str | None = None
    settle: float = 1.0
    """Scales the pauses that let a server settle between measurements (RSS, closed sockets)."""
    groups: bool = False
    """Instead of the usual run: one event to a tenant's group against the same streams as a set of users."""
    processes: int = 2
    """Herald processes the streams are spread over (``groups`` only)."""
    group_events: int = 20
    """Events of each kind (``groups`` only)."""
    presence: PresenceSizes | None = None
    """Instead of the usual run: what presence costs, and what a restart tells members (see :mod:`bench.presence`)."""
    storm: StormSizes | None = None
    """A process stopped under load, its clients moving to another (see :mod:`bench.storm`); after the usual run."""
    storm_only: bool = False
    """The storm instead of the usual run."""


async def server_counters(port: int) -> dict[str, float]:
    """Herald's own view, from its metrics listener: streams ended by reason, reconnects, events delivered."""
    text = (await http_get(port, "/metrics")).decode()
    wanted = ("herald_streams_ended_total", "herald_redis_reconnects_total", "herald_events_delivered_total")
    counters: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(wanted):
            name, _, value = line.rpartition(" ")
            counters[name] = float(value)
    return counters


async def drain(recorder: Recorder, expected: int, *, quiet_seconds: float = 2.0, limit_seconds: float = 60.0) -> int:
    """Wait until ``expected`` events arrived or none arrived for ``quiet_seconds``; return how many arrived."""
    deadline = time.monotonic() + limit_seconds
    while len(recorder.seen) < expected and time.monotonic() < deadline:
        before = len(recorder.seen)
        await recorder.wait_for(expected, quiet_seconds)
        if len(recorder.seen) == before:
            break
    return len(recorder.seen)


def latency_summary(recorder: Recorder) -> dict[str, float]:
    ms = [value / 1e6 for value in recorder.latencies_ns]
    return {"p50_ms": percentile(ms, 0.5), "p99_ms": percentile(ms, 0.99), "max_ms": max(ms, default=float("nan"))}


def publisher_mode(target: Target) -> str:
    """Herald's real publish path for Herald; the same JSON, PUBLISHed, for the others."""
    return "herald" if target.name == "herald" else "raw"


async def warm_up(port: int, tokens: list[str], recorder: Recorder, publisher: Publisher, seq: int) -> int:
    """Code paths, pools and allocator arenas warmed on 100 streams, then closed; the next free seq."""
    warm, _ = await open_streams(port, tokens[:100], recorder)
    await publisher.run(op="rate", users=100, rate=500, seconds=0.5, seq=seq)
    for client in warm:
        client.close()
    return seq + 1000


async def measure(target: Target, options: Options, users: list[uuid.UUID], tokens: list[str]) -> None:
    results = target.results
    port = target.port
    recorder = Recorder()
    seq = 1
    async with Publisher.running(publisher_mode(target), target.env) as publisher:
        assert target.server is not None
        pid = target.server.pid
        seq = await warm_up(port, tokens, recorder, publisher, seq)
        await asyncio.sleep(1.5 * options.settle)
        gc.collect()

        rss_before = rss_kib(pid)
        cpu_before = cpu_seconds_of(pid)
        started = time.perf_counter()
        clients, failures = await open_streams(port, tokens, recorder)
        results["connect_s"] = time.perf_counter() - started
        results["connect_failures"] = failures
        results["open_cpu_us_per_stream"] = us_per(cpu_seconds_of(pid) - cpu_before, len(clients))
        await asyncio.sleep(3 * options.settle)
        results["rss_per_stream_kib"] = (rss_kib(pid) - rss_before) / len(tokens)
        results["rss_mib"] = rss_kib(pid) / 1024

        # Fixed rate, one user per event, round robin over every stream.
        results["rate"], seq = await at_fixed_rate(publisher, recorder, pid, len(users), options.rate, options, seq)

        # Broadcast fan-out: one event to every stream.
        fanouts = []
        for _ in range(options.broadcasts):
            recorder.window(seq, seq + 1)
            await publisher.run(op="broadcast", seq=seq)
            await recorder.wait_for(len(clients), 5.0)
            ms = [value / 1e6 for value in recorder.latencies_ns]
            fanouts.append({"p99_ms": percentile(ms, 0.99), "max_ms": max(ms, default=float("nan")), "got": len(ms)})
            seq += 1
            await asyncio.sleep(0.5 * options.settle)
        results["broadcast"] = {
            "p99_ms": statistics.median(f["p99_ms"] for f in fanouts),
            "max_ms": statistics.median(f["max_ms"] for f in fanouts),
            "missed": sum(len(clients) - f["got"] for f in fanouts),
        }

        # Flat out on fewer streams.
        for client in clients[options.flat_streams :]:
            client.close()
        clients = clients[: options.flat_streams]
        await asyncio.sleep(2 * options.settle)
        recorder.window(seq, seq + 10**8)
        started_ns = time.time_ns()
        cpu_before = cpu_seconds_of(pid)
        reply = await publisher.run(op="flat", users=options.flat_streams, seconds=options.seconds, seq=seq)
        offered = reply["sent"]
        recorder.end_seq = seq + offered
        await recorder.wait_for(offered, 3.0)
        in_time = len(recorder.seen)
        eventually = await drain(recorder, offered)
        flat_cpu = cpu_seconds_of(pid) - cpu_before
        elapsed = (recorder.last_received_ns - started_ns) / 1e9 if recorder.last_received_ns else float("nan")
        results["flat"] = {
            "offered_per_s": offered / reply["seconds"],
            "delivered_per_s": eventually / elapsed,
            "late": eventually - in_time,
            "lost": offered - eventually,
            "ended_by_server": sum(c.ended_by_server for c in clients),
            "cpu_us_per_event": us_per(flat_cpu, eventually),
            **latency_summary(recorder),
        }
        seq += offered
        if target.name == "herald":
            results["server_counters"] = await server_counters(target.metrics_port)
        for client in clients:
            client.close()
        await asyncio.sleep(options.settle)

        if target.name == "herald":
            results["replay_ms"] = await measure_replay(port, publisher, options.replays, seq)
            seq += options.replays * 1001
        results.update(await publish_path(publisher, options, len(users), seq))
    if target.name == "herald" and options.postgres_url is not None:
        results["outbox"] = await outbox_path(target, options, len(users))


async def at_fixed_rate(
    publisher: Publisher, recorder: Recorder, pid: int, streams: int, rate: int, options: Options, seq: int
) -> tuple[dict[str, float], int]:
    """``rate`` events/s for ``options.seconds``, one user each, round robin over the first ``streams``:
    latency, loss and server CPU per delivered event (events not received within 2 s are lost); the
    figures and the next free seq."""
    total = int(rate * options.seconds)
    recorder.window(seq, seq + total)
    cpu_before = cpu_seconds_of(pid)
    await publisher.run(op="rate", users=streams, rate=rate, seconds=options.seconds, seq=seq)
    await recorder.wait_for(total, 2.0)
    cpu = cpu_seconds_of(pid) - cpu_before
    figures = {
        **latency_summary(recorder),
        "lost": total - len(recorder.seen),
        "sent": total,
        "cpu_us_per_event": us_per(cpu, len(recorder.seen)),
    }
    return figures, seq + total


#: The storm's streams on each process, unless this machine's open-file limit holds fewer.
STORM_STREAMS = 10_000


#: The matrix (``--matrix``): fixed rates over fewer and over many streams, all targets alike.
MATRIX_STREAMS = "2000,10000"
MATRIX_RATES = "2000,8000,14000"


async def measure_matrix(target: Target, options: Options, tokens: list[str]) -> None:
    """Latency, loss and server CPU per delivered event at every point of the matrix."""
    port = target.port
    recorder = Recorder()
    seq = 1
    points: dict[str, dict[str, float]] = {}
    async with Publisher.running(publisher_mode(target), target.env) as publisher:
        assert target.server is not None
        pid = target.server.pid
        seq = await warm_up(port, tokens, recorder, publisher, seq)
        for streams in options.matrix_streams:
            clients, failures = await open_streams(port, tokens[:streams], recorder)
            await asyncio.sleep(2 * options.settle)
            for rate in options.matrix_rates:
                point, seq = await at_fixed_rate(publisher, recorder, pid, streams, rate, options, seq)
                points[f"{streams} streams, {rate} events/s"] = {**point, "refused": failures}
            for client in clients:
                client.close()
            await asyncio.sleep(2 * options.settle)
    target.results["matrix"] = points


async def measure_replay(port: int, publisher: Publisher, rounds: int, seq: int) -> float:
    """Median time from reconnecting with ``Last-Event-ID`` to holding the 1,000 events missed."""
    tokens = TokenService(os.environ["HERALD_JWT_SECRET"], issuer="herald", audience="herald")
    timings = []
    for _ in range(rounds):
        user = uuid.uuid4()
        recorder = Recorder()
        recorder.window(seq, seq + 1001)
        client = StreamClient(recorder, port, tokens.issue(user, lifetime_seconds=3600), resume=False)
        await client.connect()
        await publisher.run(op="burst", user=str(user), count=1, seq=seq)
        await asyncio.wait_for(client.wait_for_events(1), 5)
        client.close()
        await publisher.run(op="burst", user=str(user), count=1000, seq=seq + 1)
        started = time.perf_counter()
        await client.connect()
        await asyncio.wait_for(client.wait_for_events(1001), 10)
        timings.append((time.perf_counter() - started) * 1000)
        client.close()
        seq += 1001
    return statistics.median(timings)


async def publish_path(publisher: Publisher, options: Options, users: int, seq: int) -> dict[str, float]:
    """Flat out from one process, and the Redis CPU it cost per event (every primary's, summed)."""
    async with primaries(options.redis_url) as nodes:
        cpu_before = await cpu_seconds(nodes)
        reply = await publisher.run(op="flat", users=users, seconds=options.seconds / 2, seq=seq)
        cpu = await cpu_seconds(nodes) - cpu_before
    return {
        "publish_per_s": reply["sent"] / reply["seconds"],
        "publisher_cpu_us_per_event": us_per(reply["cpu_seconds"], reply["sent"]),
        "redis_cpu_us_per_event": us_per(cpu, reply["sent"]),
    }


#: Events per unit of work when the outbox is filled in bulk (a use case that raises many, or an outage's backlog).
OUTBOX_PER_COMMIT = 500


async def outbox_path(target: Target, options: Options, users: int) -> dict[str, float]:
    """Events through units of work on PostgreSQL, delivered by the transactional outbox's relay.

    Twice: flat out with one event per transaction (what a use case per
    request commits), then a backlog committed ``OUTBOX_PER_COMMIT`` events
    per transaction, which shows what the relay itself publishes per second.
    The publisher's own relay delivers the rows (the bench's server is not
    connected to this database); each run ends when its last row is published.
    """
    async with fresh_database(options.postgres_url or "") as url:
        env = {**target.env, "HERALD_DATABASE_URL": url}
        async with Publisher.running("herald-outbox", env) as publisher, primaries(options.redis_url) as nodes:
            cpu_before = await cpu_seconds(nodes)
            single = await publisher.run(op="flat", users=users, seconds=options.seconds / 2, seq=0)
            cpu = await cpu_seconds(nodes) - cpu_before
            count = int(options.rate * options.seconds)
            bulk = await publisher.run(
                op="backlog", users=users, count=count, per_commit=OUTBOX_PER_COMMIT, seq=single["sent"]
            )
    return {
        "committed_per_s": single["sent"] / single["seconds"],
        "relayed_per_s": single["sent"] / single["settled_seconds"],
        "publisher_cpu_us_per_event": us_per(single["cpu_seconds"], single["sent"]),
        "redis_cpu_us_per_event": us_per(cpu, single["sent"]),
        "bulk_relayed_per_s": bulk["sent"] / bulk["settled_seconds"],
        "bulk_publisher_cpu_us_per_event": us_per(bulk["cpu_seconds"], bulk["sent"]),
    }


async def run(options: Options) -> dict[str, Any]:
    gc.freeze()  # the generator's own collector pauses would show up as server latency
    secret = secrets.token_urlsafe(32)
    prefix = f"herald-bench-{os.getpid()}-{secrets.token_hex(3)}"
    os.environ["HERALD_JWT_SECRET"] = secret
    # Every process it starts raises its events outside units of work: an in-memory database each, no file.
    os.environ["HERALD_DATABASE_URL"] = "sqlite+aiosqlite://"
    issuer = TokenService(secret, issuer="herald", audience="herald")
    users = [uuid.uuid4() for _ in range(options.streams)]
    tenant = TENANT if options.groups else None  # the usual run's streams are in no group
    tokens = [issuer.issue(user, lifetime_seconds=7200, tenant=tenant) for user in users]
    tenant_tokens = (
        [issuer.issue(user, lifetime_seconds=7200, tenant=TENANT) for user in users] if options.presence else []
    )
    users_file = ROOT / "bench" / "results" / f".users-{os.getpid()}"
    users_file.parent.mkdir(parents=True, exist_ok=True)
    users_file.write_text("\n".join(map(str, users)))
    report: dict[str, Any] = {"options": {k: str(v) for k, v in vars(options).items()}, "targets": {}}
    cpu = platform.processor() or platform.machine()
    report["machine"] = f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
    environment = RunEnvironment(options.redis_url, prefix, secret, users_file, max_streams=options.streams * 2)
    try:
        for name in target_names(options):
            target = Target(name, free_port(), environment.of(name))
            print(f"[bench] {name}: {options.streams} streams ...", file=sys.stderr, flush=True)
            if options.presence:
                target.results = await measure_presence(
                    target.env,
                    users,
                    tokens,
                    tenant_tokens,
                    issuer.issue(uuid.uuid4(), lifetime_seconds=7200, tenant=TENANT),
                    options.presence,
                    redis_url=options.redis_url,
                    postgres_url=options.postgres_url,
                )
            elif options.groups:
                target.results = await measure_groups(
                    target.env,
                    tokens,
                    processes=options.processes,
                    events=options.group_events,
                    redis_url=options.redis_url,
                    settle=options.settle,
                )
            else:
                with serving(target):
                    await wait_healthy(target.port)
                    if options.matrix:
                        await measure_matrix(target, options, tokens)
                    else:
                        await measure(target, options, users, tokens)
            report["targets"][name] = target.results
            print(f"[bench] {name}: {orjson.dumps(target.results).decode()}", file=sys.stderr, flush=True)
        if options.storm is not None:
            print(f"[bench] storm: {options.storm.streams} streams per process ...", file=sys.stderr, flush=True)
            storm = await measure_storm(options.redis_url, prefix, issuer, options.storm)
            report["targets"].setdefault("herald", {})["storm"] = storm
            print(f"[bench] storm: {orjson.dumps(storm).decode()}", file=sys.stderr, flush=True)
    finally:
        users_file.unlink(missing_ok=True)
        await forget_keys(options.redis_url, prefix)
    return report


def target_names(options: Options) -> Sequence[str]:
    """The targets the run measures one after the other (the storm comes after them)."""
    if options.storm_only:
        return []
    return ["herald"] if options.groups or options.presence else options.targets


def median_report(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One report whose every figure is the median of that figure over ``runs`` (all kept under "runs")."""

    def merge(values: list[Any]) -> Any:
        if all(isinstance(v, dict) for v in values):
            return {key: merge([v[key] for v in values if key in v]) for key in values[0]}
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        return statistics.median(numbers) if len(numbers) == len(values) else values[0]

    report = {**runs[0], "targets": merge([run["targets"] for run in runs])}
    report["runs"] = len(runs)
    if len(runs) > 1:
        report["each_run"] = [run["targets"] for run in runs]
    return report


def storm_sizes(args: argparse.Namespace, targets: Sequence[str]) -> StormSizes | None:
    """The storm's sizes when the run has one: alone, or after the usual run's targets when Herald is one."""
    usual = not (args.matrix or args.groups or args.presence or args.no_storm) and "herald" in targets
    if not (args.storm or usual):
        return None
    streams, asked = args.storm_streams, 0
    if streams is None and streams_that_fit() < STORM_STREAMS:
        streams, asked = streams_that_fit(), STORM_STREAMS
        print(f"[bench] storm: {streams} streams per process, not {asked}: the open-file limit", file=sys.stderr)
    return StormSizes(
        streams=STORM_STREAMS if streams is None else streams,
        rate=args.storm_rate,
        before=args.storm_before,
        after=args.storm_after,
        drain=args.storm_drain,
        settle=args.settle,
        asked=asked,
    )


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--streams", type=int, default=10_000, help="concurrent streams (default 10000)")
    parser.add_argument("--flat-streams", type=int, default=2_000, help="streams for the flat-out run (2000)")
    parser.add_argument("--rate", type=int, default=2_000, help="events/s of the fixed-rate run (2000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed run (10)")
    parser.add_argument("--broadcasts", type=int, default=5, help="broadcasts timed (5; the median is shown)")
    parser.add_argument("--replays", type=int, default=5, help="resumes 1000 events behind timed (5)")
    parser.add_argument("--runs", type=int, default=1, help="whole runs; the table shows each cell's median (1)")
    parser.add_argument("--targets", default=",".join(TARGETS), help="subset of herald,baseline,ceiling")
    parser.add_argument(
        "--redis",
        default=os.environ.get("BENCH_REDIS", PRIVATE),
        help="'private': a redis-server of the bench's own (default); 'cluster': a private 6-node Redis Cluster; "
        "or the URL of a Redis to use (only the run's own keys are written and deleted)",
    )
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="instead of the usual run: latency, loss and server CPU at each of --matrix-streams x --matrix-rates",
    )
    parser.add_argument("--matrix-streams", default=MATRIX_STREAMS, help=f"streams of the matrix ({MATRIX_STREAMS})")
    parser.add_argument("--matrix-rates", default=MATRIX_RATES, help=f"events/s of the matrix ({MATRIX_RATES})")
    parser.add_argument(
        "--groups",
        action="store_true",
        help="instead of the usual run: one event to a tenant's group of --streams streams spread over --processes "
        "Herald processes, against the same streams addressed as a set of users and, for reference, a broadcast "
        "(Herald only)",
    )
    parser.add_argument("--processes", type=int, default=2, help="Herald processes of --groups (2)")
    parser.add_argument(
        "--group-events", type=int, default=20, help="events of each kind in --groups, taking turns (20; medians shown)"
    )
    parser.add_argument(
        "--presence",
        action="store_true",
        help="instead of the usual run: presence's upkeep on --streams idle streams over --processes Herald processes "
        "against the same streams untracked, reading a group's presence, and the joins and leaves a restart causes "
        "(Herald only; the announced report's group needs --postgres)",
    )
    parser.add_argument(
        "--presence-window", type=float, default=30.0, help="seconds of each idle window of --presence (30)"
    )
    parser.add_argument(
        "--presence-queries", type=int, default=200, help="reads of each kind in --presence (200; p50 and p99 shown)"
    )
    parser.add_argument(
        "--presence-watchers",
        type=int,
        default=200,
        help="streams of the stopped process that also watch the announced report in --presence (200)",
    )
    parser.add_argument(
        "--presence-samplers",
        type=int,
        default=5,
        help="streams of the other process that watch it and count the messages they receive (5)",
    )
    parser.add_argument(
        "--presence-grace",
        type=float,
        default=herald_default("presence_grace_seconds"),
        help="HERALD_PRESENCE_GRACE_SECONDS of --presence (Herald's default: %(default)s)",
    )
    parser.add_argument(
        "--presence-timeout",
        type=float,
        default=herald_default("presence_timeout_seconds"),
        help="HERALD_PRESENCE_TIMEOUT_SECONDS of --presence (Herald's default: %(default)s)",
    )
    parser.add_argument(
        "--storm",
        action="store_true",
        help="instead of the usual run: only the storm, which the usual run ends with: two Herald processes with "
        "--storm-streams streams each, one stopped with SIGTERM at --storm-rate events/s, its clients back on the "
        "other with Last-Event-ID and the TypeScript client's jittered retries",
    )
    parser.add_argument("--no-storm", action="store_true", help="the usual run without the storm")
    parser.add_argument(
        "--storm-streams",
        type=int,
        help=f"streams on each process ({STORM_STREAMS}, or as many as the open-file limit allows, saying so)",
    )
    parser.add_argument("--storm-rate", type=int, default=2_000, help="events/s throughout the storm (2000)")
    parser.add_argument(
        "--storm-before",
        type=float,
        default=10.0,
        help="seconds measured before the SIGTERM (10; longer until every stream to move has received an event)",
    )
    parser.add_argument(
        "--storm-after", type=float, default=5.0, help="seconds publishing goes on once every stream is back (5)"
    )
    parser.add_argument(
        "--storm-drain",
        type=float,
        default=30.0,
        help="once publishing stopped, the longest wait for every event to reach its user (30)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES", PRIVATE_POSTGRES),
        help="'private': a PostgreSQL of the bench's own, with its default durability (default); 'none': skip the "
        "outbox measurement; or the URL of a PostgreSQL server on which the run may create and drop a database",
    )
    parser.add_argument(
        "--settle", type=float, default=1.0, help="scales the pauses between measurements (1; the smoke test's 0.1)"
    )
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "latest.md")
    args = parser.parse_args(argv)
    options = Options(
        streams=max(_numbers(args.matrix_streams)) if args.matrix else args.streams,
        flat_streams=min(args.flat_streams, args.streams),
        rate=args.rate,
        seconds=args.seconds,
        broadcasts=args.broadcasts,
        replays=args.replays,
        targets=[t for t in args.targets.split(",") if t],
        redis_url=args.redis,
        output=args.output,
        matrix=args.matrix,
        matrix_streams=_numbers(args.matrix_streams),
        matrix_rates=_numbers(args.matrix_rates),
        settle=args.settle,
        groups=args.groups,
        processes=args.processes,
        group_events=args.group_events,
    )
    if args.presence:
        options.presence = PresenceSizes(
            processes=args.processes,
            window=args.presence_window,
            queries=args.presence_queries,
            watchers=args.presence_watchers,
            samplers=args.presence_samplers,
            grace=args.presence_grace,
            timeout=args.presence_timeout,
            settle=args.settle,
        )
    options.storm, options.storm_only = storm_sizes(args, options.targets), args.storm
    if args.storm and (args.matrix or args.groups or args.presence or args.no_storm):
        parser.error("--storm goes alone")
    if options.storm is not None and (options.storm.streams < 1 or args.storm_rate < 1):
        parser.error("the storm needs at least one stream on each process and one event a second")
    if options.storm is not None and (refusal := make_room(options.storm)) is not None:
        parser.error(refusal)
    unknown = set(options.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    if options.groups and (options.processes < 1 or options.group_events < 1):
        parser.error("--groups needs at least one process and one event of each kind")
    if args.presence and (args.processes < 2 or args.presence_queries < 1 or args.groups or args.matrix):
        parser.error("--presence needs at least two processes and one read of each kind, and goes alone")
    measures_outbox = "herald" in options.targets and not (
        options.matrix or options.groups or options.presence or options.storm_only
    )
    # --presence: a database both processes share, for the report whose group announces joins and leaves.
    needs_postgres = measures_outbox or args.presence
    with redis_for_bench(args.redis) as url, postgres_for_bench(args.postgres if needs_postgres else SKIP) as pg:
        options.redis_url = url
        options.postgres_url = pg
        runs = [uvloop.run(run(options)) for _ in range(max(1, args.runs))]
    report = median_report(runs)
    report["redis"] = args.redis if args.redis in (PRIVATE, CLUSTER) else "given by URL"
    markdown = render_markdown(report)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(markdown)
    options.output.with_suffix(".json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(markdown)


if __name__ == "__main__":
    main()
