"""The benchmark's publishing process: ``python -m bench.publisher {herald,raw}``.

``herald`` drives Herald's real publish path (use case -> in-process bus ->
SSE handler -> Redis publisher -> Lua XADD + PUBLISH), configured from the
same ``HERALD_*`` variables as the server. ``herald-outbox`` raises the same
events from units of work instead (one transaction each, an outbox row in
it), which this process's relay delivers; give it a PostgreSQL in
``HERALD_DATABASE_URL``. ``raw`` publishes the same JSON with plain PUBLISH,
as the baseline and the ceiling probe expect it.

Commands arrive on stdin as JSON lines; each gets one JSON line back (``sent``,
``seconds``, ``settled_seconds``: until the last of them left for Redis, which
for ``herald-outbox`` is when the relay has published it, and ``cpu_seconds``:
this process's CPU until then):
``{"op": "rate", "users": 2000, "rate": 2000, "seconds": 10, "seq": 0}``,
``{"op": "flat", "users": 2000, "seconds": 10, "seq": 0}``,
``{"op": "burst", "user": "<uuid>", "count": 1000, "seq": 0}``,
where ``users`` counts from the start of the list in ``BENCH_USERS_FILE``.
``{"op": "broadcast", "seq": 0}``, and for ``herald-outbox`` only
``{"op": "backlog", "users": 2000, "count": 20000, "per_commit": 500, "seq": 0}``
(``count`` events, ``per_commit`` to a unit of work, one unit after another);
for ``herald`` only, one event to a tenant's group, ``{"op": "group", "tenant": "bench", "seq": 0}``,
or to a set of users, ``{"op": "users", "users": 10000, "seq": 0}``.
"""

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import uuid_utils
import uvloop
from dependency_injector import providers
from redis.asyncio import BlockingConnectionPool, Redis

from bench.events import BENCH_REGISTRY, Ping, PingDurably
from infrastructure.container import Container, resolve, start, stop

Send = Callable[[UUID | None, int, int], Awaitable[None]]
#: One event to a tenant's group (a str: the tenant) or to a set of users.
SendTo = Callable[[str | frozenset[UUID], int, int], Awaitable[None]]
#: Concurrent publishing tasks when flat out (Herald's publisher batches what they offer together).
FLAT_OUT_TASKS = 32
#: How long the relay may publish nothing before :meth:`Sender.settled` gives up on it.
RELAY_STALLED_SECONDS = 30.0


@dataclass
class Sender:
    """How one mode sends an event, and how it knows that what it sent has left for Redis."""

    send: Send
    close: Callable[[], Awaitable[None]]
    settled: Callable[[], Awaitable[None]]
    send_many: Callable[[list[tuple[UUID | None, int, int]]], Awaitable[None]] | None = None
    """Several events from one unit of work (``herald-outbox`` only)."""
    send_to: SendTo | None = None
    """One event to a group or a set of users (``herald`` only)."""


async def _at_once() -> None:
    """Direct publishing: an event has left for Redis when its send returns."""


async def herald_sender(*, durable: bool = False) -> Sender:
    container = Container()
    container.registry.override(providers.Object(BENCH_REGISTRY))
    await start(container)
    if not durable:
        ping = Ping(await resolve(container.event_bus))
        return Sender(
            lambda user, sent, seq: ping(user, sent=sent, seq=seq),
            lambda: stop(container),
            _at_once,
            send_to=lambda audience, sent, seq: ping.to(audience, sent=sent, seq=seq),
        )

    ping_durably = PingDurably(await resolve(container.units_of_work))
    relay = await resolve(container.outbox_relay)
    committed = relay.stats.published

    async def send(user: UUID | None, sent: int, seq: int) -> None:
        await send_many([(user, sent, seq)])

    async def send_many(pings: list[tuple[UUID | None, int, int]]) -> None:
        nonlocal committed
        await ping_durably.many(pings)
        committed += len(pings)

    async def settled() -> None:
        """Until the relay has published every committed event (or has published nothing for a while)."""
        last, last_moved = relay.stats.published, time.monotonic()
        while relay.stats.published + relay.stats.undeliverable < committed:
            if relay.stats.published != last:
                last, last_moved = relay.stats.published, time.monotonic()
            elif time.monotonic() - last_moved > RELAY_STALLED_SECONDS:
                raise RuntimeError(f"the relay stalled ({relay.stats.last_error}) with {relay.stats.backlog} left")
            await asyncio.sleep(0.005)

    return Sender(send, lambda: stop(container), settled, send_many)


async def raw_sender() -> Sender:
    """Plain PUBLISH of the same JSON, batched per loop turn like Herald's, so both offer similar load."""
    client = Redis(connection_pool=BlockingConnectionPool.from_url(os.environ["BENCH_REDIS_URL"], max_connections=32))
    prefix = os.environ["BENCH_PREFIX"]
    forming: list[tuple[str, bytes]] | None = None
    sent: asyncio.Future[None] | None = None

    async def flush(batch: list[tuple[str, bytes]], done: asyncio.Future[None]) -> None:
        nonlocal forming
        forming = None
        async with client.pipeline(transaction=False) as pipe:
            for channel, payload in batch:
                pipe.publish(channel, payload)
            await pipe.execute()
        done.set_result(None)

    async def send(user: UUID | None, sent_ns: int, seq: int) -> None:
        nonlocal forming, sent
        body: dict[str, Any] = {"sent": sent_ns, "seq": seq}
        if user is not None:
            body["user_id"] = str(user)
        body["event_id"] = str(uuid_utils.uuid7())
        body["occurred_at"] = datetime.now(UTC).isoformat()
        channel = f"{prefix}:user:{user}" if user is not None else f"{prefix}:broadcast"
        if forming is None:
            forming, sent = [], asyncio.get_running_loop().create_future()
            task = asyncio.get_running_loop().create_task(flush(forming, sent))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        forming.append((channel, orjson.dumps(body)))
        assert sent is not None
        await asyncio.shield(sent)

    tasks: set[asyncio.Task[None]] = set()

    return Sender(send, client.aclose, _at_once)


async def at_rate(send: Send, users: Sequence[UUID], rate: float, seconds: float, seq: int) -> int:
    """Offer ``rate`` events/s, round robin over ``users``, for ``seconds``; return how many."""
    started = time.monotonic()
    sent = 0
    total = int(rate * seconds)
    while sent < total:
        due = min(total, int((time.monotonic() - started) * rate) + 1)
        batch = [send(users[(seq + i) % len(users)], time.time_ns(), seq + i) for i in range(sent, due)]
        await asyncio.gather(*batch)
        sent = due
        await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
    return sent


async def flat_out(send: Send, users: Sequence[UUID], seconds: float, seq: int) -> int:
    """Offer as much as the publish path takes, from concurrent tasks, for ``seconds``; return how many."""
    deadline = time.monotonic() + seconds
    counter = iter(range(seq, seq + 10**9))

    async def worker() -> int:
        done = 0
        while time.monotonic() < deadline:
            n = next(counter)
            await send(users[n % len(users)], time.time_ns(), n)
            done += 1
        return done

    return sum(await asyncio.gather(*(worker() for _ in range(FLAT_OUT_TASKS))))


def load_users() -> list[UUID]:
    """The users the load generator holds streams for, in its order."""
    return [UUID(line) for line in Path(os.environ["BENCH_USERS_FILE"]).read_text().split()]


async def main() -> None:
    mode = sys.argv[1]
    sender = await (raw_sender() if mode == "raw" else herald_sender(durable=mode == "herald-outbox"))
    send = sender.send
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    everyone = load_users()
    print(orjson.dumps({"ready": True}).decode(), flush=True)
    while line := await reader.readline():
        command = orjson.loads(line)
        users = [UUID(command["user"])] if "user" in command else everyone[: command.get("users", 0)]
        started, cpu_started = time.perf_counter(), time.process_time()
        op = command["op"]
        if op == "rate":
            sent = await at_rate(send, users, command["rate"], command["seconds"], command["seq"])
        elif op == "flat":
            sent = await flat_out(send, users, command["seconds"], command["seq"])
        elif op == "burst":
            for i in range(command["count"]):  # one after the other: a replay must keep this order
                await send(users[0], time.time_ns(), command["seq"] + i)
            sent = command["count"]
        elif op == "backlog" and sender.send_many is not None:
            sent, per_commit = command["count"], command["per_commit"]
            for first in range(command["seq"], command["seq"] + sent, per_commit):
                last = min(first + per_commit, command["seq"] + sent)
                await sender.send_many([(users[n % len(users)], time.time_ns(), n) for n in range(first, last)])
        elif op == "broadcast":
            await send(None, time.time_ns(), command["seq"])
            sent = 1
        elif op in ("group", "users") and sender.send_to is not None:
            audience = command["tenant"] if op == "group" else frozenset(users)
            await sender.send_to(audience, time.time_ns(), command["seq"])
            sent = 1
        else:
            break
        seconds = time.perf_counter() - started
        await sender.settled()
        reply = {
            "sent": sent,
            "seconds": seconds,
            "settled_seconds": time.perf_counter() - started,
            "cpu_seconds": time.process_time() - cpu_started,
        }
        print(orjson.dumps(reply).decode(), flush=True)
    await sender.close()


if __name__ == "__main__":
    uvloop.run(main())
