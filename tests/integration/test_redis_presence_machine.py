"""Presence on Redis, single node and Cluster, driven by the presence state machine with processes that die.

The same rules and model as tests/property/test_presence_machines.py, with up
to three processes sharing the store, and more rules: a process starts; one
ends, killed (dropped without a word: its leases stay until they run out),
stopped (``aclose``: its leases now run out one grace later) or stalled
(its leases run out while it lives: the others reap what it held, and it
must find out and send it again); and the dead processes' leases run out.
Fewer schedules than on the embedded broker: each step waits on Redis.

Leases are measured in Redis ``TIME``. Rather than waiting for them, the
machine's leases are long (``LEASE``: none runs out by itself within a
schedule) and the machine runs one out when the schedule says so
(:meth:`RedisPresenceMachine.run_out`): it moves the process's lease in
each partition to the epoch, which is what the passing of time does to it.
The reaping itself is the store's own, by a process's sync. Every reap is
then one the schedule asked for, and a replay does the same.
"""

import asyncio
import uuid
from typing import ClassVar

import pytest
import redis.asyncio as aredis
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.presence import PresenceStore, RedisPresenceStore
from tests.integration.helpers import is_cluster
from tests.support.presence_machine import GRACE, PresenceMachine, Process, Tally

pytestmark = pytest.mark.needs("redis-server")

SCHEDULES, STEPS = 20, 40
#: The store's bound on one call (not a lease).
CALL_SECONDS = 5.0


class RedisPresenceMachine(PresenceMachine):
    """Processes on the test's Redis; each schedule under a key prefix of its own (the leases are per partition)."""

    max_processes = 3
    mortal = True
    redis_url: ClassVar[str]
    redis_prefix: ClassVar[str]
    cluster: ClassVar[bool]

    async def open_store(self) -> PresenceStore:
        if self.cluster:
            cluster = aredis.RedisCluster.from_url(self.redis_url)
            await cluster.initialize()
            self.client: aredis.Redis = cluster  # type: ignore[assignment]
        else:
            self.client = aredis.Redis.from_url(self.redis_url)
        # Under the test's prefix, so the fixture deletes the keys afterwards.
        self.keys = RedisKeys(prefix=f"{self.redis_prefix}:{uuid.uuid4().hex[:8]}")
        return await self.store_of_process()

    async def store_of_process(self) -> PresenceStore:
        return RedisPresenceStore(self.client, self.keys, timeout_seconds=CALL_SECONDS)

    def _leases(self) -> list[str]:
        return [self.keys.presence_space(tag) + "leases" for tag in self.keys.partition_tags]

    async def run_out(self, process: Process) -> None:
        """Each lease of the process (where it has one) ends at the epoch: long ago, to Redis's ``TIME``."""
        name = process.tracker.process
        await asyncio.gather(*(self.client.zadd(leases, {name: 0}, xx=True) for leases in self._leases()))

    async def stopped(self, process: Process) -> None:
        """A stop shortens the process's leases to one grace (they were a lease long)."""
        seconds, micros = await self.client.time()
        now_ms = seconds * 1000 + micros // 1000
        name = process.tracker.process
        scores = await asyncio.gather(*(self.client.zscore(leases, name) for leases in self._leases()))
        held = [score for score in scores if score is not None]
        assert held or not process.sent or not process.sure, "a process that held users had no lease"
        for score in held:
            assert now_ms < score <= now_ms + GRACE * 1000, f"a lease ends {score - now_ms} ms from now"

    async def close_store(self) -> None:
        await self.client.aclose()


def machine_on(redis_url: str, redis_prefix: str) -> type[RedisPresenceMachine]:
    return type(
        "RedisPresenceMachine",
        (RedisPresenceMachine,),
        {"redis_url": redis_url, "redis_prefix": redis_prefix, "cluster": is_cluster(redis_url), "tally": Tally()},
    )


@pytest.mark.timeout(240)
def test_redis_presence_converges_to_the_open_streams_whatever_processes_die(redis_url: str, redis_prefix: str) -> None:
    machine = machine_on(redis_url, redis_prefix)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=SCHEDULES, stateful_step_count=STEPS, suppress_health_check=[HealthCheck.too_slow]
        ),
    )
    print(f"\nRedis presence machine ({'cluster' if machine.cluster else 'single'}): {machine.tally}")
