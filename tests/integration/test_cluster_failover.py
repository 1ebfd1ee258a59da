"""A Redis Cluster failing over while events flow: every event reaches its streams once, in order, no reset."""

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from httpx_sse import ServerSentEvent

from domain.sse import SSECategory, SSEEvent
from infrastructure.container import Container, resolve
from tests.conftest import fast_settings
from tests.integration.helpers import bearer
from tests.support.processes import PrivateRedisCluster, private_redis_cluster
from tests.support.server import serve
from tests.support.streams import StreamReader

pytestmark = [pytest.mark.redis, pytest.mark.timeout(240)]

USERS, STREAMS_PER_USER = 40, 5


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[PrivateRedisCluster]:
    """A cluster of this test's own: failing it over must not disturb the others."""
    with private_redis_cluster(tmp_path) as private:
        yield private


def numbers_in(events: list[ServerSentEvent]) -> list[int]:
    return [json.loads(e.data)["n"] for e in events if e.event == "test.n"]


def primaries_and_replicas(cluster: PrivateRedisCluster) -> list[tuple[int, int]]:
    """(primary port, its replica's port) for each shard, as each replica says (gossip may lag)."""
    pairs = []
    for port in cluster.ports:
        with redis.Redis(port=port) as node:
            replication = node.info("replication")
        if replication["role"] == "slave":
            pairs.append((int(replication["master_port"]), port))
    assert len(pairs) == 3, pairs
    return pairs


def fail_over(cluster: PrivateRedisCluster, replica_port: int, primary_port: int) -> float:
    """CLUSTER FAILOVER on the replica; return once both sides see the swap (seconds taken)."""
    cluster.wait_ready()  # a replica its primary does not know yet cannot take over
    started = time.monotonic()
    with redis.Redis(port=replica_port) as replica, redis.Redis(port=primary_port) as primary:
        replica.execute_command("CLUSTER", "FAILOVER")
        while time.monotonic() - started < 30:
            if replica.execute_command("ROLE")[0] == b"master" and primary.execute_command("ROLE")[0] == b"slave":
                return time.monotonic() - started
            time.sleep(0.05)
    raise AssertionError(f"the replica on {replica_port} did not take over")


async def test_manual_failovers_lose_repeat_and_reset_nothing(cluster: PrivateRedisCluster) -> None:
    prefix = f"failover-{uuid.uuid4().hex[:8]}"
    containers = [Container(), Container()]
    for container in containers:
        container.settings.override(fast_settings(redis_url=cluster.url, redis_prefix=prefix))
    users = [uuid.uuid4() for _ in range(USERS)]
    sent: dict[uuid.UUID, int] = dict.fromkeys(users, 0)
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    async with serve(containers[0]) as a, serve(containers[1]) as b:
        clients = [httpx.AsyncClient(base_url=h.base_url, timeout=30, limits=limits) for h in (a, b)]
        readers = {
            user: [
                StreamReader(clients[n % 2], "/api/v1/events", headers=bearer(containers[n % 2], user))
                for n in range(STREAMS_PER_USER)
            ]
            for user in users
        }
        everyone = [reader for group in readers.values() for reader in group]
        await asyncio.gather(*(reader.__aenter__() for reader in everyone))
        publisher = await resolve(containers[0].publisher)
        stop = asyncio.Event()

        async def keep_publishing() -> None:
            turn = 0
            while not stop.is_set():
                user = users[turn % USERS]
                event = SSEEvent(
                    event_type="test.n", category=SSECategory.REPORTS, data={"n": sent[user]}, user_id=user
                )
                await publisher.publish(event)
                sent[user] += 1
                turn += 1
                await asyncio.sleep(0.002)  # a steady rate, the workload under test

        publishing = asyncio.create_task(keep_publishing())
        resumed_after: list[float] = []
        try:
            for primary, replica in primaries_and_replicas(cluster):
                before = sum(sent.values())
                await asyncio.to_thread(fail_over, cluster, replica, primary)
                failed_over_at = time.monotonic()
                # Delivery goes on: an event published after the failover reaches all its user's streams.
                target = sum(sent.values()) + 1
                while sum(sent.values()) < target:
                    await asyncio.sleep(0.01)
                user = users[(target - 1) % USERS]
                wanted = sent[user] - 1
                for reader in readers[user]:
                    await reader.wait_until(
                        lambda events, n=wanted: any(json.loads(e.data).get("n") == n for e in events), timeout=30
                    )
                resumed_after.append(time.monotonic() - failed_over_at)
                assert sum(sent.values()) > before
        finally:
            stop.set()
            await publishing
        try:
            last = [(reader, sent[user] - 1) for user, group in readers.items() for reader in group]
            with contextlib.suppress(TimeoutError):  # what is missing is said below
                async with asyncio.timeout(30):
                    for reader, n in last:
                        await reader.wait_until(lambda events, n=n: n in numbers_in(events), timeout=30)
            for user, group in readers.items():
                for index, reader in enumerate(group):
                    numbers = numbers_in(reader.events)
                    missing = sorted(set(range(sent[user])) - set(numbers))
                    where = f"user {user}, stream {index} (process {'ab'[index % 2]}): missing {missing}"
                    assert numbers == list(range(sent[user])), f"{where}; lost, repeated or out of order"
                    assert not [e for e in reader.events if e.event == "stream.reset"]
        finally:
            await asyncio.gather(*(reader.close() for reader in everyone))
            for client in clients:
                await client.aclose()
    print(
        f"\nfailovers: {len(resumed_after)}; {sum(sent.values())} events to {len(everyone)} streams; "
        f"delivery resumed after {[round(s, 2) for s in resumed_after]} s"
    )
    assert max(resumed_after) < 2.0
