"""ReadBatch on a real Redis: reads asked together share one round trip, and each gets its own answer."""

import asyncio
from typing import Any

import pytest
import redis.asyncio as aredis

from infrastructure.brokers.redis.read_batch import ReadBatch
from tests.integration.helpers import is_cluster


class CountedPool:
    """Counts the connections the client takes from its pool: one per round trip."""

    def __init__(self, client: aredis.Redis) -> None:
        self.taken = 0
        pool = client.connection_pool
        take = pool.get_connection

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.taken += 1
            return await take(*args, **kwargs)

        pool.get_connection = counted  # type: ignore[method-assign]


async def test_reads_asked_in_one_turn_share_one_round_trip_and_each_gets_its_reply(
    redis_admin: aredis.Redis, redis_url: str, redis_prefix: str
) -> None:
    if is_cluster(redis_url):
        pytest.skip("on a cluster the reads go one by one")
    client = aredis.Redis.from_url(redis_url)
    try:
        keys = [f"{redis_prefix}:value:{n}" for n in range(50)]
        await redis_admin.mset({key: f"v{n}" for n, key in enumerate(keys[::2])})
        await redis_admin.xadd(f"{redis_prefix}:log", {"f": "1"}, id="5-1")
        await redis_admin.lpush(f"{redis_prefix}:list", "x")
        reads = ReadBatch(client)
        pool = CountedPool(client)

        values = [reads.read("GET", key) for key in keys]
        head = reads.read("XREVRANGE", f"{redis_prefix}:log", "+", "-", "COUNT", 1)
        wrong = reads.read("GET", f"{redis_prefix}:list")  # WRONGTYPE: fails alone
        answers = await asyncio.gather(*values, head, wrong, return_exceptions=True)

        assert pool.taken == 1
        assert answers[:50] == [f"v{n // 2}".encode() if n % 2 == 0 else None for n in range(50)]
        assert answers[50] == [(b"5-1", {b"f": b"1"})]
        assert isinstance(answers[51], aredis.ResponseError)
    finally:
        await client.aclose()


async def test_a_read_whose_caller_gave_up_leaves_the_others_their_replies(
    redis_admin: aredis.Redis, redis_url: str, redis_prefix: str
) -> None:
    client: aredis.Redis = (
        aredis.RedisCluster.from_url(redis_url) if is_cluster(redis_url) else aredis.Redis.from_url(redis_url)  # type: ignore[assignment]
    )
    try:
        await redis_admin.set(f"{redis_prefix}:kept", "yes")
        reads = ReadBatch(client)
        abandoned = asyncio.ensure_future(reads.read("GET", f"{redis_prefix}:kept"))
        kept = reads.read("GET", f"{redis_prefix}:kept")
        abandoned.cancel()
        assert await kept == b"yes"
        assert abandoned.cancelled()
    finally:
        await client.aclose()


async def test_a_failed_round_trip_fails_every_read_of_its_batch() -> None:
    client = aredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)  # nothing listens on port 1
    try:
        reads = ReadBatch(client)
        answers = await asyncio.gather(reads.read("GET", "a"), reads.read("GET", "b"), return_exceptions=True)
        assert all(isinstance(answer, aredis.ConnectionError) for answer in answers), answers
    finally:
        await client.aclose()
