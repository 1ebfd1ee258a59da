"""Every process's recent deliveries, shared through Redis so that any process answers for all of them.

Each process writes its records that changed, once a second, in one pipeline (one call each, side by side,
on a cluster): a small hash per event, a field per process, expiring after the window. What Redis holds is
bounded like each process's ring: a record per event per process, for the window at most.
"""

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from redis.asyncio import Redis, RedisCluster

from application.ports.diagnostics import ProcessDelivery
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.diagnostics.records import snapshot
from infrastructure.redis_errors import REDIS_FAILURE
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.deliveries import RecentDeliveries

logger = logging.getLogger(__name__)

#: How often a process writes its changed records.
FLUSH_SECONDS = 1.0
#: Calls side by side on a cluster.
_CALLS_AT_ONCE = 32


class SharedDeliveryRecords:
    """``DeliveryRecords`` over every process on one Redis; this process's own from its memory (the freshest)."""

    def __init__(
        self, client: Redis, keys: RedisKeys, wire_format: WireFormat, recent: RecentDeliveries, process: str
    ) -> None:
        self._client = client
        self._keys = keys
        self._wire_format = wire_format
        self._recent = recent
        self._process = process
        recent.share()

    @property
    def window_seconds(self) -> float:
        return self._recent.window_seconds

    async def of(self, event_id: UUID) -> list[ProcessDelivery]:
        found: dict[str, ProcessDelivery] = {}
        try:
            fields = await self._client.hgetall(self._keys.delivery_record(str(event_id)))
        except REDIS_FAILURE as error:
            logger.warning("the other processes' deliveries could not be read (%s)", type(error).__name__)
            fields = {}
        for raw in fields.values():
            try:
                delivery = self._wire_format.loads(raw, ProcessDelivery)
            except Exception as error:  # written by another version: the rest still answers
                logger.warning("skipped a delivery record this version cannot read (%s)", type(error).__name__)
                continue
            found[delivery.process] = delivery
        own = self._recent.find(str(event_id))
        if own is not None:
            found[self._process] = snapshot(own, self._process)
        return list(found.values())

    async def flush(self) -> int:
        """Write the records that changed since the last flush; how many."""
        changed = self._recent.take_changes()
        if not changed:
            return 0
        ttl_ms = int(self._recent.window_seconds * 1000)
        writes = [
            (self._keys.delivery_record(record.event_id), self._wire_format.dumps(snapshot(record, self._process)))
            for record in changed
        ]
        if isinstance(self._client, RedisCluster):
            for start in range(0, len(writes), _CALLS_AT_ONCE):
                await asyncio.gather(
                    *(self._write(key, value, ttl_ms) for key, value in writes[start : start + _CALLS_AT_ONCE])
                )
        else:
            async with self._client.pipeline(transaction=False) as pipe:
                for key, value in writes:
                    pipe.hset(key, self._process, value)
                    pipe.pexpire(key, ttl_ms)
                await pipe.execute()
        return len(writes)

    async def _write(self, key: str, value: bytes, ttl_ms: int) -> Any:
        await self._client.hset(key, self._process, value)
        return await self._client.pexpire(key, ttl_ms)


async def run_shared_records(records: SharedDeliveryRecords) -> AsyncIterator[SharedDeliveryRecords]:
    """Flush the records every :data:`FLUSH_SECONDS` for the application's lifetime.

    A flush that fails is not retried: those records are written again when they change, and diagnostics
    are no reason to hold memory or Redis.
    """

    async def flush_forever() -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await records.flush()
            except REDIS_FAILURE as error:
                logger.debug("recent deliveries were not shared (%s)", type(error).__name__)

    task = asyncio.get_running_loop().create_task(
        flush_forever(), name="herald-delivery-records", context=contextvars.Context()
    )
    try:
        yield records
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
