"""The Redis broker with groups, single node and Cluster, driven by the embedded broker's state machine.

The same rules and model as tests/property/test_group_machines.py, plus one:
the pub/sub connection(s) are killed, and the subscriber must reconnect and
catch every stream up from the logs (applying the leaves it missed in order).
Fewer schedules than on the embedded broker: each step waits on Redis.
"""

import asyncio
import os
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
import redis.asyncio as aredis
from hypothesis import HealthCheck, settings
from hypothesis.stateful import rule, run_state_machine_as_test

from infrastructure.container import Container, resolve, stop
from tests.integration.helpers import connections_named, eventually, is_cluster
from tests.support.group_machine import Brokers, GroupMachine, Tally

pytestmark = pytest.mark.needs("redis-server")

SCHEDULES, STEPS = 20, 30
#: A stop takes well under a second; one that takes this long never ends by itself.
STOP_SECONDS = 10.0


class RedisGroupMachine(GroupMachine):
    """A container on the test's Redis for each schedule (the prefix's keys outlive it: every schedule has new ids)."""

    make_container: ClassVar[Callable[..., Container]]
    redis_url: ClassVar[str]
    cluster: ClassVar[bool]

    async def open_brokers(self) -> Brokers:
        # Heartbeats far apart: they would only wake the readers.
        self.container = self.make_container(sse_heartbeat_seconds=3600)
        publisher = await resolve(self.container.publisher)
        subscriber = await resolve(self.container.subscriber)
        if self.cluster:
            cluster = aredis.RedisCluster.from_url(self.redis_url)
            await cluster.initialize()
            self.admin: aredis.Redis = cluster  # type: ignore[assignment]
        else:
            self.admin = aredis.Redis.from_url(self.redis_url)
        self.brokers_ready = subscriber.is_ready
        return Brokers(publisher, subscriber, await resolve(self.container.memberships))

    async def close_brokers(self) -> None:
        await self.container.stream_hub().aclose()
        # A stop while the pub/sub connection is being made (again) can wait for ever: on Python 3.11,
        # asyncio.wait_for (redis-py sends each command under one) loses a cancellation that lands as the
        # command is sent, and the pub/sub task goes on. So the stop waits for the connection; should one
        # still hang, it is counted and warned of, and the machine cancels what is left.
        await eventually(self.brokers_ready)
        stopping = asyncio.ensure_future(stop(self.container))
        if not (await asyncio.wait({stopping}, timeout=STOP_SECONDS))[0]:
            self.tally.stuck_stops += 1
            warnings.warn("the Redis subscriber did not stop (its pub/sub task lost its cancellation)", stacklevel=1)
            stopping.cancel()
        await self.admin.aclose()

    @rule()
    def drop_pubsub(self) -> None:
        """Kill the subscriber's pub/sub connection(s), one per node; what is published meanwhile is not heard."""
        self.step(self._drop())

    async def _drop(self) -> None:
        name = f"{self.container.settings().redis_prefix}-pubsub:{os.getpid()}"
        connections: list[tuple[Any, dict[str, Any]]] = []

        async def connected() -> bool:  # not while it is still connecting again after the last drop
            connections[:] = await connections_named(self.admin, name)
            return bool(connections) and await self.brokers_ready()

        await eventually(connected)
        for node, connection in connections:
            if node is None:
                await self.admin.client_kill_filter(_id=connection["id"])
            else:
                await self.admin.client_kill_filter(_id=connection["id"], target_nodes=node)
        self.tally.drops += 1


def machine_on(make_container: Callable[..., Container], redis_url: str, **switches: bool) -> type[RedisGroupMachine]:
    """The machine on the test's Redis (``switches``: the machine's class switches)."""
    return type(
        "RedisGroupMachine",
        (RedisGroupMachine,),
        {
            "make_container": staticmethod(make_container),
            "redis_url": redis_url,
            "cluster": is_cluster(redis_url),
            "tally": Tally(),
            **switches,
        },
    )


@pytest.mark.timeout(240)
def test_redis_streams_in_groups_get_exactly_what_their_memberships_allow(
    make_redis_container: Callable[..., Container], redis_url: str
) -> None:
    machine = machine_on(make_redis_container, redis_url)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=SCHEDULES, stateful_step_count=STEPS, suppress_health_check=[HealthCheck.too_slow]
        ),
    )
    print(f"\nRedis group machine ({'cluster' if machine.cluster else 'single'}): {machine.tally}")


def test_a_resume_after_a_reshare_replays_nothing_published_while_out_of_the_group(
    make_redis_container: Callable[..., Container], redis_url: str
) -> None:
    machine = machine_on(make_redis_container, redis_url, members_only_on_replay=True)()
    try:
        machine.resume_after_a_reshare()
    finally:
        machine.failed = True
        machine.teardown()
