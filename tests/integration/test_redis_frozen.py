"""A hung Redis (SIGSTOP): every route answers within the Redis budget; after SIGCONT nothing is lost or doubled."""

import time
import uuid
from typing import Any

import httpx
import pytest

from infrastructure.brokers.redis.publisher import RedisPublisher
from infrastructure.container import Container, resolve
from tests.conftest import fast_settings
from tests.integration.helpers import bearer, data, eventually
from tests.support.processes import PrivateRedis
from tests.support.server import serve
from tests.support.streams import StreamReader

pytestmark = pytest.mark.needs("redis-server")

BUDGET = 1.0
#: What a route may take beyond the budget: the event loop, the HTTP round trip, a busy CI machine. The
#: property is "bounded by the budget, not hung" (a hung route would wait for Redis's thaw, far longer).
SLACK = 4.0


def container_on(redis: PrivateRedis, **overrides: Any) -> Container:
    container = Container()
    values: dict[str, Any] = {"redis_url": redis.url, "redis_prefix": "frozen", "redis_timeout_seconds": BUDGET}
    container.settings.override(fast_settings(**values, **overrides))
    return container


async def timed(request: Any) -> tuple[int, float]:
    started = time.monotonic()
    response = await request
    return response.status_code, time.monotonic() - started


async def test_a_frozen_redis_holds_no_request_and_loses_or_doubles_no_event(own_redis: PrivateRedis) -> None:
    container = container_on(own_redis)
    user = uuid.uuid4()
    async with (
        serve(container) as service,
        httpx.AsyncClient(base_url=service.base_url, timeout=30) as client,
        StreamReader(client, "/api/v1/events", headers=bearer(container, user)) as mine,
        StreamReader(client, "/api/v1/events", headers=bearer(container)) as other,
    ):
        admin = bearer(container, roles=("admin",))
        own_session = {"Authorization": f"Bearer {container.token_service().issue(user, session_id='frozen-sid')}"}
        publisher = await resolve(container.publisher)
        assert isinstance(publisher, RedisPublisher)

        own_redis.freeze()
        try:
            answers = {
                "announcement": await timed(client.post("/api/v1/announcements", json={"message": "1"}, headers=admin)),
                "report": await timed(
                    client.post("/api/v1/reports", json={"title": "frozen"}, headers=bearer(container, user))
                ),
                "second announcement": await timed(
                    client.post("/api/v1/announcements", json={"message": "2"}, headers=admin)
                ),
                "ticket": await timed(client.post("/api/v1/events/tickets", headers=admin)),
                "logout": await timed(client.delete("/api/v1/sessions/frozen-sid", headers=own_session)),
                "stream of a new user": await timed(client.get("/api/v1/events", headers=bearer(container))),
            }
            # Frozen until the publisher gives up on its first attempt, which then waits unanswered in Redis.
            await eventually(lambda: publisher.stats.failed_attempts >= 1, timeout=30)
        finally:
            own_redis.thaw()

        print(f"\nanswers while Redis was frozen: { {k: (s, round(t, 2)) for k, (s, t) in answers.items()} }")
        for name, (_, seconds) in answers.items():
            assert seconds < BUDGET + SLACK, f"{name} took {seconds:.2f} s"
        assert answers["announcement"][0] == answers["second announcement"][0] == 202  # the events wait
        assert answers["report"][0] == 202
        assert answers["ticket"][0] == 503
        assert answers["logout"][0] == 503
        assert answers["stream of a new user"][0] == 503

        # A fence published after the thaw: when it arrives, everything before it has.
        fence = await client.post("/api/v1/announcements", json={"message": "3"}, headers=admin)
        assert fence.status_code == 202
        for reader in (mine, other):
            await reader.wait_until(
                lambda events: any(data(e).get("message") == "3" for e in events if e.event == "system.announcement"),
                timeout=30,
            )
            messages = [data(e)["message"] for e in reader.events if e.event == "system.announcement"]
            assert messages == ["1", "2", "3"]
        # Progress ticks (ephemeral, retried from memory) and the outbox's events recover on their own paths,
        # each in its own time: clients order by version.
        await mine.wait_until(lambda events: sum(e.event.startswith("report.") for e in events) >= 5, timeout=30)
        report_events = sorted((data(e)["version"], e.event) for e in mine.events if e.event.startswith("report."))
        assert report_events == list(
            enumerate(["report.requested"] + ["report.progress"] * 3 + ["report.completed"], start=1)
        )
        ids = [e.id for e in mine.events]
        assert len(ids) == len(set(ids))
        # The abandoned first attempt and its retry both reached Redis: the events were written once.
        assert publisher.stats.failed_attempts >= 1
        assert publisher.stats.dropped == 0

        # The logout changed nothing while it failed; now it succeeds.
        assert (await client.post("/api/v1/events/tickets", headers=own_session)).status_code == 201
        assert (await client.delete("/api/v1/sessions/frozen-sid", headers=own_session)).status_code == 204
        assert (await client.post("/api/v1/events/tickets", headers=own_session)).status_code == 401
