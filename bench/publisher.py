"""The benchmark's publishing process: ``python -m bench.publisher {herald,raw}``.

``herald`` drives Herald's real publish path (use case -> in-process bus ->
SSE handler -> Redis publisher -> Lua XADD + PUBLISH), configured from the
same ``HERALD_*`` variables as the server. ``raw`` publishes the same JSON
with plain PUBLISH, as the baseline and the ceiling probe expect it.

Commands arrive on stdin as JSON lines; each gets one JSON line back:
``{"op": "rate", "users": 2000, "rate": 2000, "seconds": 10, "seq": 0}``,
``{"op": "flat", "users": 2000, "seconds": 10, "seq": 0}``,
``{"op": "burst", "user": "<uuid>", "count": 1000, "seq": 0}``,
where ``users`` counts from the start of the list in ``BENCH_USERS_FILE``.
``{"op": "broadcast", "seq": 0}``.
"""

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import uuid_utils
import uvloop
from dependency_injector import providers
from redis.asyncio import BlockingConnectionPool, Redis

from bench.events import BENCH_REGISTRY, Ping
from infrastructure.container import Container, resolve, start, stop

Send = Callable[[UUID | None, int, int], Awaitable[None]]
#: Concurrent publishing tasks when flat out (Herald's publisher batches what they offer together).
FLAT_OUT_TASKS = 32


async def herald_sender() -> tuple[Send, Callable[[], Awaitable[None]]]:
    container = Container()
    container.registry.override(providers.Object(BENCH_REGISTRY))
    await start(container)
    ping = Ping(await resolve(container.event_bus))

    async def send(user: UUID | None, sent: int, seq: int) -> None:
        await ping(user, sent=sent, seq=seq)

    async def close() -> None:
        await stop(container)

    return send, close


async def raw_sender() -> tuple[Send, Callable[[], Awaitable[None]]]:
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

    async def close() -> None:
        await client.aclose()

    return send, close


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
    send, close = await (herald_sender() if sys.argv[1] == "herald" else raw_sender())
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    everyone = load_users()
    print(orjson.dumps({"ready": True}).decode(), flush=True)
    while line := await reader.readline():
        command = orjson.loads(line)
        users = [UUID(command["user"])] if "user" in command else everyone[: command.get("users", 0)]
        started = time.perf_counter()
        op = command["op"]
        if op == "rate":
            sent = await at_rate(send, users, command["rate"], command["seconds"], command["seq"])
        elif op == "flat":
            sent = await flat_out(send, users, command["seconds"], command["seq"])
        elif op == "burst":
            for i in range(command["count"]):  # one after the other: a replay must keep this order
                await send(users[0], time.time_ns(), command["seq"] + i)
            sent = command["count"]
        elif op == "broadcast":
            await send(None, time.time_ns(), command["seq"])
            sent = 1
        else:
            break
        print(orjson.dumps({"sent": sent, "seconds": time.perf_counter() - started}).decode(), flush=True)
    await close()


if __name__ == "__main__":
    uvloop.run(main())
