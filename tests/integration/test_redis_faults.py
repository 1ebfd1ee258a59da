"""Redis going away: the use case goes on, events wait and are delivered once, streams catch up."""

import asyncio
import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis.asyncio as aredis
from redis.backoff import ExponentialWithJitterBackoff

from domain.sse import SSECategory, SSEEvent
from infrastructure.brokers.redis.publisher import RedisPublisher
from infrastructure.brokers.redis.resources import open_redis_client
from infrastructure.brokers.redis.subscriber import RedisSubscriber
from infrastructure.container import Container, resolve, start, stop
from tests.conftest import fast_settings
from tests.integration.helpers import announce, bearer, connections_named, data, eventually
from tests.support.processes import PrivateRedis
from tests.support.server import serve
from tests.support.streams import StreamReader

pytestmark = pytest.mark.needs("redis-server")


def container_on(redis: PrivateRedis, **overrides: Any) -> Container:
    container = Container()
    container.settings.override(fast_settings(redis_url=redis.url, redis_prefix="fault", **overrides))
    return container


async def test_a_redis_restart_loses_nothing_and_duplicates_nothing(
    own_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    container = container_on(own_redis)
    users = [uuid.uuid4() for _ in range(50)]
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with (
        serve(container) as service,
        httpx.AsyncClient(base_url=service.base_url, timeout=30, limits=limits) as client,
    ):
        # 100 streams: every user on two devices.
        readers = [StreamReader(client, "/api/v1/events", headers=bearer(container, u)) for u in users for _ in (1, 2)]
        await asyncio.gather(*(reader.__aenter__() for reader in readers))
        admin = bearer(container, roles=("admin",))
        announced = 0
        reports: Counter[uuid.UUID] = Counter()

        subscriber = await resolve(container.subscriber)
        publisher = await resolve(container.publisher)
        assert isinstance(subscriber, RedisSubscriber)
        assert isinstance(publisher, RedisPublisher)
        enough = asyncio.Event()

        async def keep_raising() -> None:
            nonlocal announced
            while not enough.is_set():
                announced += 1
                await announce(client, admin, str(announced))  # 202 even while Redis is down
                if announced % 5 == 0:
                    user = users[announced % len(users)]
                    response = await client.post(
                        "/api/v1/reports", json={"title": "t"}, headers=bearer(container, user)
                    )
                    assert response.status_code == 202
                    reports[user] += 1

        raising = asyncio.create_task(keep_raising())
        await eventually(lambda: announced >= 20)
        own_redis.stop()
        # Down until publishes really fail (beyond the command client's own retries) and wait in
        # the publisher's buffer, and the pub/sub connection has noticed.
        await eventually(
            lambda: publisher.stats.failed_attempts >= 1 and publisher.waiting > 0 and subscriber.channels.outages >= 1,
            timeout=20,
        )
        restarted_at = announced
        own_redis.start()
        await eventually(lambda: announced >= restarted_at + 20, timeout=20)
        enough.set()
        await raising

        await eventually(lambda: publisher.waiting == 0, timeout=20)

        def complete(reader: StreamReader, user: uuid.UUID) -> bool:
            messages = [e for e in reader.events if e.event == "system.announcement"]
            report_events = [e for e in reader.events if e.event.startswith("report.")]
            return len(messages) >= announced and len(report_events) >= 5 * reports[user]

        try:
            for index, reader in enumerate(readers):
                user = users[index // 2]
                await reader.wait_until(lambda _, r=reader, u=user: complete(r, u), timeout=30)
            announced += 1  # a fence: once it is in, a repeated or late event would be too
            await announce(client, admin, str(announced))
            for reader in readers:
                await reader.wait_until(
                    lambda events, n=announced: any(data(e).get("message") == str(n) for e in events)
                )
            for index, reader in enumerate(readers):
                user = users[index // 2]
                messages = [int(str(data(e)["message"])) for e in reader.events if e.event == "system.announcement"]
                assert messages == list(range(1, announced + 1)), f"stream {index}"
                kinds = [e.event for e in reader.events if e.event.startswith("report.")]
                assert kinds.count("report.requested") == reports[user]
                assert kinds.count("report.completed") == reports[user]
                resets = [data(e) for e in reader.events if e.event == "stream.reset"]
                assert not resets, f"stream {index}: {resets} {[e.id for e in reader.events][:8]}"
                assert len({e.id for e in reader.events}) == len(reader.events)
            metrics = (await client.get(service.metrics_url)).text
            reconnects = subscriber.channels.reconnects
        finally:
            await asyncio.gather(*(reader.close() for reader in readers))

    assert subscriber.channels.outages >= 1
    assert subscriber.channels.reconnects >= 1
    assert publisher.stats.failed_attempts >= 1
    assert publisher.stats.retried >= 1
    assert publisher.stats.dropped == 0
    # The outage, as Prometheus sees it: every reconnect counted (the watchdog may add one while Redis is down).
    assert f"herald_redis_reconnects_total {float(reconnects)}" in metrics
    assert f"herald_redis_publish_retried_total {float(publisher.stats.retried)}" in metrics
    assert "herald_events_dropped_total" not in metrics.replace("# HELP herald_events_dropped_total", "").replace(
        "# TYPE herald_events_dropped_total", ""
    )
    log = caplog.text
    assert "Redis pub/sub connection lost" in log
    assert "Redis publish failed" in log
    print(  # the closing note quotes these
        f"\nrestart: {announced} announcements, {sum(reports.values())} reports, {len(readers)} streams; "
        f"outages={subscriber.channels.outages} reconnects={subscriber.channels.reconnects} "
        f"publisher={publisher.stats}"
    )


async def test_ephemeral_events_that_wait_too_long_are_dropped_and_counted_while_durable_ones_wait(
    own_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    container = container_on(own_redis, redis_publish_retry_seconds=0.3)
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
        publisher = await resolve(container.publisher)
        relay = await resolve(container.outbox_relay)
        assert isinstance(publisher, RedisPublisher)
        own_redis.stop()
        # One report: its three progress ticks are ephemeral (held in memory), its other two events durable.
        # Each tick is two messages, for the owner's log and for the report's watchers' log.
        response = await client.post("/api/v1/reports", json={"title": "t"}, headers=bearer(container))
        assert response.status_code == 202
        await eventually(lambda: publisher.stats.dropped == 6, timeout=10)
        await eventually(lambda: relay.stats.backlog == 2, timeout=10)
        assert publisher.waiting == 0
        metrics = (await client.get(service.metrics_url)).text
        assert 'herald_events_dropped_total{type="report.progress"} 6.0' in metrics
        assert "herald_outbox_backlog 2.0" in metrics
        assert "Redis stayed unreachable for 0.3 s (6 dropped in total)" in caplog.text
        health = await client.get("/health")
        assert health.status_code == 503
        assert health.json()["broker"] == {"kind": "redis", "ready": False}
        assert health.json()["outbox"]["backlog"] == 2
        own_redis.start()
        async with asyncio.timeout(15):
            while (await client.get("/health")).status_code != 200:
                await asyncio.sleep(0.1)
        await eventually(lambda: relay.stats.backlog == 0, timeout=15)


async def test_opening_a_stream_while_redis_is_down_is_a_503(own_redis: PrivateRedis) -> None:
    container = container_on(own_redis)
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
        own_redis.stop()
        subscriber = await resolve(container.subscriber)
        assert isinstance(subscriber, RedisSubscriber)
        await eventually(lambda: not subscriber.channels.is_connected(), timeout=10)
        response = await client.get("/api/v1/events", headers=bearer(container))
        assert response.status_code == 503
        assert response.headers["retry-after"] == "2"
        assert response.headers["content-type"] == "application/problem+json"
        assert container.stream_hub().open_streams == 0


async def test_redis_clients_use_an_explicit_retry_policy() -> None:
    """redis-py's defaults changed across major versions; Herald states its own."""
    commands = open_redis_client("redis://127.0.0.1:1/0", retries=3, name="probe")
    pubsub = open_redis_client("redis://127.0.0.1:1/0", retries=0, name="probe")
    command_retry = (await anext(commands)).get_retry()
    pubsub_retry = (await anext(pubsub)).get_retry()
    await commands.aclose()
    await pubsub.aclose()
    assert command_retry is not None
    assert pubsub_retry is not None
    assert command_retry.get_retries() == 3
    assert isinstance(command_retry._backoff, ExponentialWithJitterBackoff)
    assert pubsub_retry.get_retries() == 0  # Herald reconnects pub/sub itself, to catch streams up


async def test_a_full_retry_buffer_drops_the_oldest_and_keeps_order(own_redis: PrivateRedis) -> None:
    container = container_on(own_redis, redis_publish_buffer=5, redis_publish_retry_seconds=60)
    await start(container)
    try:
        publisher = await resolve(container.publisher)
        assert isinstance(publisher, RedisPublisher)
        own_redis.stop()
        for n in range(1, 9):
            await publisher.broadcast(
                SSEEvent(event_type="test.n", category=SSECategory.SYSTEM, data={"n": n}, user_id=None)
            )
        assert publisher.waiting == 5
        assert publisher.stats.dropped == 3
        own_redis.start()
        await eventually(lambda: publisher.waiting == 0, timeout=15)
        client = aredis.Redis.from_url(own_redis.url)
        entries = await client.xrange(container.redis.keys().broadcast_log)
        await client.aclose()
        wire = container.wire_format()
        assert [wire.loads_event(fields[b"e"]).data["n"] for _, fields in entries] == [4, 5, 6, 7, 8]
    finally:
        await stop(container)


async def test_a_revocation_missed_during_a_pubsub_outage_still_ends_the_stream(
    make_redis_container: Callable[..., Container], redis_admin: aredis.Redis, redis_prefix: str
) -> None:
    container = make_redis_container()
    tokens = container.token_service()
    token = tokens.issue(uuid.uuid4())
    session_id = tokens.verify(token).session_id
    async with (
        serve(container) as service,
        httpx.AsyncClient(base_url=service.base_url, timeout=10) as client,
        StreamReader(client, "/api/v1/events", headers={"Authorization": f"Bearer {token}"}) as stream,
    ):
        # Revoked in Redis while this process cannot hear the announcement: its pub/sub
        # connection is cut right after, so only the reconnect can find out.
        await redis_admin.set(container.redis.keys().revoked_session(session_id), b"1", px=60_000)
        pubsub_name = f"{redis_prefix}-pubsub:{os.getpid()}"
        for node, connection in await connections_named(redis_admin, pubsub_name):
            if node is None:
                await redis_admin.client_kill_filter(_id=connection["id"])
            else:
                await redis_admin.client_kill_filter(_id=connection["id"], target_nodes=node)
        async with asyncio.timeout(10):
            await stream.ended.wait()
        assert [e.event for e in stream.events] == ["stream.end"]
        assert data(stream.events[0])["reason"] == "session_revoked"
