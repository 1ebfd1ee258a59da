"""The ceiling probe: the least a Python SSE server on Redis can do per event.

Raw ASGI, one pattern subscription for the whole process, a dict from user to
open streams, the bearer token checked as Herald does, and the garbage
collector kept out of the tail. No resume, no limits, no safety: a yardstick,
not a design. Run as ``uvicorn bench.ceiling_app:app``.
"""

import asyncio
import gc
import os
from collections import defaultdict
from typing import Any

import jwt
from redis.asyncio import Redis

PREFIX = os.environ["BENCH_PREFIX"]
SECRET = os.environ["BENCH_JWT_SECRET"]
HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
streams: defaultdict[str, set[asyncio.Queue[bytes]]] = defaultdict(set)
everyone: set[asyncio.Queue[bytes]] = set()


async def pump() -> None:
    pubsub = Redis.from_url(os.environ["BENCH_REDIS_URL"]).pubsub()
    await pubsub.psubscribe(f"{PREFIX}:*")
    user_prefix = f"{PREFIX}:user:".encode()
    async for message in pubsub.listen():
        if message["type"] != "pmessage":
            continue
        channel, frame = message["channel"], b"event: bench.ping\ndata: " + message["data"] + b"\n\n"
        targets = streams.get(channel[len(user_prefix) :].decode(), ()) if channel.startswith(user_prefix) else everyone
        for queue in targets:
            queue.put_nowait(frame)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await receive()
        gc.collect()
        gc.freeze()
        gc.set_threshold(100_000, 50, 100)
        task = asyncio.get_running_loop().create_task(pump())
        await send({"type": "lifespan.startup.complete"})
        await receive()
        task.cancel()
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] == "/health":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    auth = dict(scope["headers"]).get(b"authorization", b"").decode().removeprefix("Bearer ")
    try:
        user = jwt.decode(auth, SECRET, algorithms=["HS256"], audience="herald", issuer="herald")["sub"]
    except jwt.PyJWTError:
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    streams[user].add(queue)
    everyone.add(queue)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})

    async def until_disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        queue.put_nowait(b"")

    watcher = asyncio.get_running_loop().create_task(until_disconnected())
    try:
        while frame := await queue.get():
            await send({"type": "http.response.body", "body": frame, "more_body": True})
    finally:
        watcher.cancel()
        streams[user].discard(queue)
        everyone.discard(queue)
        if not streams[user]:
            del streams[user]
