"""Single-key reads that many requests ask at once, sent to Redis as one pipeline."""

import asyncio
import contextvars
from collections.abc import Awaitable
from typing import Any

from redis.asyncio import Redis, RedisCluster

#: The longest one batch may take; each caller also waits only for what is left of its own request's budget.
BATCH_SECONDS = 5.0


class ReadBatch:
    """Reads asked for within one turn of the event loop go to Redis together, in one pipeline.

    When many streams open at once (the clients of a stopped replica reconnecting), each asks Redis the
    same small questions: is its session revoked, where do its logs end. One round trip for all of them
    takes a pooled connection, writes to the socket and wakes the loop once instead of once per stream.
    A read asked alone waits one turn of the loop more. On a cluster each read goes out on its own: the
    keys live on different nodes, and the cluster client's pipelines are avoided (see ``resources.py``).
    A reply that is an error fails only its own read; a failed round trip fails every read of the batch.
    """

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._batched = not isinstance(client, RedisCluster)
        self._queued: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    def read(self, *command: Any) -> Awaitable[Any]:
        """The reply to ``command`` (a read of one key, as ``"GET", key``), parsed as redis-py parses it."""
        if not self._batched:
            return self._client.execute_command(*command)  # type: ignore[no-untyped-call]
        loop = asyncio.get_running_loop()
        if not self._queued:
            loop.call_soon(self._send, context=contextvars.Context())  # no request's budget or span applies
        future: asyncio.Future[Any] = loop.create_future()
        self._queued.append((command, future))
        return future

    def _send(self) -> None:
        queued, self._queued = self._queued, []
        task = asyncio.get_running_loop().create_task(self._round_trip(queued))
        self._sending.add(task)  # held until done: the loop keeps only a weak reference
        task.add_done_callback(self._sending.discard)

    async def _round_trip(self, queued: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        try:
            async with asyncio.timeout(BATCH_SECONDS), self._client.pipeline(transaction=False) as pipe:
                for command, _ in queued:
                    pipe.execute_command(*command)
                replies = await pipe.execute(raise_on_error=False)
        except BaseException as error:
            failure = error if isinstance(error, Exception) else asyncio.CancelledError()
            for _, future in queued:
                if not future.done():
                    future.set_exception(failure)
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), reply in zip(queued, replies, strict=True):
            if future.done():
                continue  # its caller gave up (its budget ran out, or its client left)
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)
