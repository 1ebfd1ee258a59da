"""A group against a set of users (``python -m bench --groups``): the same streams, addressed both ways.

Every stream's token names one tenant, so every stream is in the tenant's
group, and the streams are spread over several Herald processes on one
Redis. An event to the group is one write (the group's log and channel)
that each process fans out to its own members; the same event to the set
of those users is a write per user, each read by the process that holds
that user's stream. A broadcast to everyone, the fan-out on read that
predates groups, is sent beside them for reference. The kinds take turns
event by event (who goes first rotates every round) on the same streams, so
all meet the same machine; for each event the bench records the delivery
latency over every stream and the CPU every server process, the publisher
and Redis spent on it.
"""

import asyncio
import contextlib
import statistics
import time
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from tests.support.processes import free_port

from bench.harness import Publisher, Target, cpu_seconds_of, percentile, serving, us_per, wait_healthy
from bench.loadgen import Recorder, open_streams
from bench.redis_server import cpu_seconds, primaries

#: The tenant every stream's token names: its group holds every stream.
TENANT = "bench"
#: The ways of addressing the same streams, in the order of the first round.
KINDS = ("group", "users", "everyone")
#: Rounds sent first and not measured: code paths, pools and the group's first delivery.
WARM_UP_ROUNDS = 2
#: How long one event may take to reach every stream; streams it has not reached by then count as missed.
DELIVERY_LIMIT_SECONDS = 30.0


async def measure_groups(
    env: dict[str, str], tokens: Sequence[str], *, processes: int, events: int, redis_url: str, settle: float
) -> dict[str, Any]:
    """Open a stream per token over ``processes`` servers, then ``events`` events of each kind, taking turns."""
    servers = [Target("herald", free_port(), env) for _ in range(processes)]
    with contextlib.ExitStack() as stack:
        pids = [_pid(stack.enter_context(serving(server))) for server in servers]
        recorder = Recorder()
        async with Publisher.running("herald", env) as publisher, primaries(redis_url) as nodes:
            for server in servers:  # they started beside the publisher
                await wait_healthy(server.port)
            started = time.perf_counter()
            opened = await asyncio.gather(
                *(open_streams(server.port, tokens[i::processes], recorder) for i, server in enumerate(servers))
            )
            results: dict[str, Any] = {
                "connect_s": time.perf_counter() - started,
                "connect_failures": sum(failures for _, failures in opened),
            }
            clients = [client for batch, _ in opened for client in batch]
            streams = sum(not client.failed for client in clients)
            await asyncio.sleep(3 * settle)
            idle_before = _cpu(pids)
            await asyncio.sleep(2 * settle)
            results["idle_server_cpu_ms_per_s"] = (_cpu(pids) - idle_before) * 1000 / (2 * settle)
            each: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
            seq = 1
            for round_ in range(WARM_UP_ROUNDS + events):
                first = round_ % len(KINDS)
                for kind in KINDS[first:] + KINDS[:first]:
                    figures = await _one_event(kind, publisher, recorder, pids, nodes, streams, len(tokens), seq)
                    if round_ >= WARM_UP_ROUNDS:
                        each[kind].append(figures)
                    seq += 1
                    await asyncio.sleep(settle)
            for client in clients:
                client.close()
    results.update({kind: _summary(figures) for kind, figures in each.items()})
    return results


def _pid(target: Target) -> int:
    assert target.server is not None
    return target.server.pid


def _cpu(pids: Sequence[int]) -> float:
    return sum(cpu_seconds_of(pid) for pid in pids)


async def _one_event(
    kind: str,
    publisher: Publisher,
    recorder: Recorder,
    pids: Sequence[int],
    nodes: list[Redis],
    streams: int,
    users: int,
    seq: int,
) -> dict[str, float]:
    """One event to every stream, addressed as ``kind``: its latencies and what it cost each process."""
    recorder.window(seq, seq + 1)
    server_before, redis_before = _cpu(pids), await cpu_seconds(nodes)
    if kind == "group":
        reply = await publisher.run(op="group", tenant=TENANT, seq=seq)
    elif kind == "users":
        reply = await publisher.run(op="users", users=users, seq=seq)
    else:
        reply = await publisher.run(op="broadcast", seq=seq)
    await recorder.wait_for(streams, DELIVERY_LIMIT_SECONDS)
    server, redis = _cpu(pids) - server_before, await cpu_seconds(nodes) - redis_before
    ms = [value / 1e6 for value in recorder.latencies_ns]
    return {
        "p50_ms": percentile(ms, 0.5),
        "p99_ms": percentile(ms, 0.99),
        "max_ms": max(ms, default=float("nan")),
        "missed": streams - len(ms),
        "server_cpu_us_per_delivery": us_per(server, len(ms)),
        "publish_ms": reply["seconds"] * 1000,
        "publisher_cpu_ms": reply["cpu_seconds"] * 1000,
        "redis_cpu_ms": redis * 1000,
    }


def _summary(figures: list[dict[str, float]]) -> dict[str, Any]:
    """Each figure's median over the events (missed deliveries: their sum), and every event's figures."""
    summary: dict[str, Any] = {
        name: statistics.median(event[name] for event in figures) for name in figures[0] if name != "missed"
    }
    summary["missed"] = sum(event["missed"] for event in figures)
    summary["events"] = len(figures)
    summary["each"] = figures
    return summary
