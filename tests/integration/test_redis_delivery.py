"""Redis mode served over real HTTP: delivery, isolation, resume rules, one pub/sub connection, no leaks."""

import asyncio
import os
import uuid
from collections.abc import Callable

import httpx
import pytest
import redis.asyncio as aredis

from infrastructure.brokers.redis.subscriber import RedisSubscriber
from infrastructure.container import Container, resolve
from tests.integration.helpers import (
    announce,
    bearer,
    connections_named,
    data,
    eventually,
    nodes_of,
    shard_channels,
    shard_subscribers,
)
from tests.support.reports import REPORT_SEQUENCE, report_sequence
from tests.support.server import serve
from tests.support.streams import StreamReader, finished_report

pytestmark = pytest.mark.needs("redis-server")


async def test_events_reach_their_user_and_broadcasts_everyone(make_redis_container: Callable[..., Container]) -> None:
    container = make_redis_container()
    owner, other = uuid.uuid4(), uuid.uuid4()
    async with (
        serve(container) as service,
        httpx.AsyncClient(base_url=service.base_url, timeout=10) as client,
        StreamReader(client, "/api/v1/events", headers=bearer(container, owner)) as mine,
        StreamReader(client, "/api/v1/events", headers=bearer(container, other)) as theirs,
    ):
        response = await client.post("/api/v1/reports", json={"title": "Q3"}, headers=bearer(container, owner))
        assert response.status_code == 202
        await mine.wait_for_count(len(REPORT_SEQUENCE))
        assert report_sequence(mine.events) == REPORT_SEQUENCE
        await announce(client, bearer(container, roles=("admin",)), "fence")
        await theirs.wait_for_count(1)
        await mine.wait_for_count(len(REPORT_SEQUENCE) + 1)
        assert [e.event for e in theirs.events] == ["system.announcement"]
        user_positions = [e.id.split("_")[0] for e in mine.events]
        assert len(set(user_positions[:5])) == 5  # every user event moved the user position


async def test_resume_replays_user_and_broadcast_events_exactly(make_redis_container: Callable[..., Container]) -> None:
    container = make_redis_container()
    user = uuid.uuid4()
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        admin = bearer(container, roles=("admin",))
        async with StreamReader(client, "/api/v1/events", headers=bearer(container, user)) as first:
            await announce(client, admin, "seen")
            [seen] = await first.wait_for_count(1)
        await announce(client, admin, "missed-1")
        await finished_report(client, bearer(container, user), "missed")
        await announce(client, admin, "missed-2")
        headers = {**bearer(container, user), "Last-Event-ID": seen.id}
        async with StreamReader(client, "/api/v1/events", headers=headers) as resumed:
            await announce(client, admin, "live")
            await announce(client, admin, "marker")  # once it is in, a repeated event would be too
            await resumed.wait_until(lambda events: any(data(e).get("message") == "marker" for e in events))
            messages = [data(e)["message"] for e in resumed.events if e.event == "system.announcement"]
            assert messages == ["missed-1", "missed-2", "live", "marker"]
            assert report_sequence(resumed.events) == REPORT_SEQUENCE
            assert len({e.id for e in resumed.events}) == len(resumed.events)


@pytest.mark.parametrize(
    ("make_id", "reason"),
    [
        (lambda seen, other: "garbage", "malformed"),
        (lambda seen, other: "99999999999999-0_0-0", "unknown_position"),
        (lambda seen, other: other, "unknown_position"),
    ],
    ids=["malformed", "future", "other-users-position"],
)
async def test_ids_that_cannot_resume_exactly_give_a_reset_and_never_leak(
    make_redis_container: Callable[..., Container], make_id: Callable[[str, str], str], reason: str
) -> None:
    container = make_redis_container()
    alice, bob = uuid.uuid4(), uuid.uuid4()
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        # Both reports complete first: Bob's next position is later than all of Alice's.
        await asyncio.gather(*(finished_report(client, bearer(container, user), str(user)) for user in (alice, bob)))
        async with StreamReader(client, "/api/v1/events", headers=bearer(container, bob)) as bobs:
            await client.post("/api/v1/reports", json={"title": "bob again"}, headers=bearer(container, bob))
            await bobs.wait_until(lambda events: any(e.event == "report.completed" for e in events))
            bobs_id = bobs.events[0].id
        headers = {**bearer(container, alice), "Last-Event-ID": make_id("", bobs_id)}
        async with StreamReader(client, "/api/v1/events", headers=headers) as resumed:
            await announce(client, bearer(container, roles=("admin",)), "marker")
            await resumed.wait_until(lambda events: any(e.event == "system.announcement" for e in events))
            assert len(resumed.events) == 1 + len(REPORT_SEQUENCE) + 1
            assert resumed.events[0].event == "stream.reset"
            assert data(resumed.events[0])["reason"] == reason
            owners = {data(e)["owner_id"] for e in resumed.events[1:-1]}
            assert owners == {str(alice)}  # Alice's own retained events, nothing of Bob's


async def test_an_id_older_than_retention_gives_a_reset(make_redis_container: Callable[..., Container]) -> None:
    container = make_redis_container(sse_retention=3)
    user = uuid.uuid4()
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        admin = bearer(container, roles=("admin",))
        async with StreamReader(client, "/api/v1/events", headers=bearer(container, user)) as first:
            await announce(client, admin, "0")
            [seen] = await first.wait_for_count(1)
        for n in range(1, 300):  # MAXLEN ~ trims whole nodes, so go well past them
            await announce(client, admin, str(n))
        headers = {**bearer(container, user), "Last-Event-ID": seen.id}
        async with StreamReader(client, "/api/v1/events", headers=headers) as resumed:
            await resumed.wait_for_count(2)
            assert resumed.events[0].event == "stream.reset"
            assert data(resumed.events[0])["reason"] == "retention_exceeded"
            assert (
                data(resumed.events[-1])["message"] == "299"
                or await resumed.wait_until(lambda events: data(events[-1]).get("message") == "299") is None
            )


@pytest.mark.timeout(300)  # 500 streams and 2,500 events, client and server on one event loop of a busy machine
async def test_hundreds_of_streams_opened_at_once_share_one_pubsub_connection(
    make_redis_container: Callable[..., Container], redis_admin: aredis.Redis, redis_prefix: str
) -> None:
    # What is checked is the sharing, not how soon 500 opens at once are served on a busy machine: their
    # subscriptions queue behind one another, longer than the default 2 s budget for Redis.
    container = make_redis_container(redis_timeout_seconds=30)
    users = [uuid.uuid4() for _ in range(500)]
    limits = httpx.Limits(max_connections=600, max_keepalive_connections=600)
    async with (
        serve(container) as service,
        httpx.AsyncClient(base_url=service.base_url, timeout=30, limits=limits) as client,
    ):
        readers = [StreamReader(client, "/api/v1/events", headers=bearer(container, user)) for user in users]
        await asyncio.gather(*(reader.__aenter__() for reader in readers))
        try:
            admin = bearer(container, roles=("admin",))
            # Requests on their own connections: reusing a pooled keep-alive connection the
            # server has just timed out is a client-side race, not what this test is about.
            no_reuse = httpx.Limits(max_connections=100, max_keepalive_connections=0)
            async with httpx.AsyncClient(base_url=service.base_url, timeout=90, limits=no_reuse) as requests:
                responses = await asyncio.gather(
                    *(
                        requests.post("/api/v1/reports", json={"title": "x"}, headers=bearer(container, u))
                        for u in users
                    )
                )
                assert {r.status_code for r in responses} == {202}
                await announce(requests, admin, "to all 500")
            # The reports are generated after their 202s: on a busy machine, the last arrive minutes later.
            deadline = asyncio.get_running_loop().time() + 180
            for reader, user in zip(readers, users, strict=True):
                left = deadline - asyncio.get_running_loop().time()
                await reader.wait_until(lambda events: len(events) >= len(REPORT_SEQUENCE) + 1, timeout=left)
                owners = {data(e).get("owner_id") for e in reader.events if e.event.startswith("report.")}
                assert owners == {str(user)}
            # One pub/sub connection per node (one node on a single Redis, each primary on a cluster).
            pubsub = await connections_named(redis_admin, f"{redis_prefix}-pubsub:{os.getpid()}")
            assert len(pubsub) == len(nodes_of(redis_admin))
            assert len({id(node) for node, _ in pubsub}) == len(pubsub)
            channels = [container.redis.keys().user_channel(u) for u in users]
            counts = await shard_subscribers(redis_admin, channels)
            assert set(counts.values()) == {1}
        finally:
            await asyncio.gather(*(reader.close() for reader in readers))


async def test_closing_streams_unsubscribes_their_channels(
    make_redis_container: Callable[..., Container], redis_admin: aredis.Redis, redis_prefix: str
) -> None:
    container = make_redis_container()
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        subscriber = await resolve(container.subscriber)
        assert isinstance(subscriber, RedisSubscriber)
        for _ in range(100):
            batch = [StreamReader(client, "/api/v1/events", headers=bearer(container)) for _ in range(10)]
            await asyncio.gather(*(reader.__aenter__() for reader in batch))
            await asyncio.gather(*(reader.close() for reader in batch))
        hub = container.stream_hub()
        await eventually(lambda: hub.open_streams == 0)
        broadcast = container.redis.keys().broadcast_channel
        await eventually(lambda: not [c for c in subscriber.channels.subscribed_channels if b":live:user:" in c])
        assert broadcast in subscriber.channels.subscribed_channels
        live = await shard_channels(redis_admin, f"{redis_prefix}:*:live:*")
        assert live == {broadcast}


async def test_health_reports_redis(make_redis_container: Callable[..., Container]) -> None:
    container = make_redis_container()
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url) as client:
        # A readiness check: ready once the pub/sub connections are up, which start-up does not wait for.
        async def healthy() -> bool:
            return (await client.get("/health")).status_code == 200

        await eventually(healthy)
        body = (await client.get("/health")).json()
        assert (body["status"], body["broker"]) == ("ok", {"kind": "redis", "ready": True})
