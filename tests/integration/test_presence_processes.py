"""Presence across real processes on one Redis and one PostgreSQL: a process killed, one stopped, an outage."""

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from httpx_sse import ServerSentEvent

from tests.api.test_presence import changes
from tests.conftest import TEST_SECRET
from tests.integration.helpers import process_bearer
from tests.support.processes import HeraldProcess, PrivateRedis, herald_process
from tests.support.streams import StreamReader

pytestmark = [pytest.mark.needs("redis-server"), pytest.mark.needs("postgresql"), pytest.mark.timeout(120)]
logger = logging.getLogger(__name__)

#: Short, so a dead process's users leave within seconds (its lease is half of it).
TIMEOUT = 3.0


def environment(redis: PrivateRedis, database: str, *, grace: float) -> dict[str, str]:
    return {
        "HERALD_REDIS_URL": redis.url,
        "HERALD_DATABASE_URL": database,
        "HERALD_JWT_SECRET": TEST_SECRET,
        "HERALD_REPORT_STEP_SECONDS": "30",
        "HERALD_PRESENCE_TIMEOUT_SECONDS": str(TIMEOUT),
        "HERALD_PRESENCE_GRACE_SECONDS": str(grace),
    }


@contextlib.contextmanager
def processes(env: dict[str, str], tmp_path: Path, count: int) -> Iterator[list[HeraldProcess]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(herald_process(env, tmp_path / f"{n}.log")) for n in range(count)]


@contextlib.asynccontextmanager
async def clients(*service: HeraldProcess) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(httpx.AsyncClient(base_url=h.base_url, timeout=10)) for h in service]


async def shared_report(client: httpx.AsyncClient, owner: uuid.UUID, *users: uuid.UUID) -> str:
    response = await client.post("/api/v1/reports", json={"title": "watched"}, headers=process_bearer(owner))
    assert response.status_code == 202, response.text
    report = str(response.json()["report_id"])
    for user in users:
        shared = await client.post(
            f"/api/v1/reports/{report}/shares", json={"user_id": str(user)}, headers=process_bearer(owner)
        )
        assert shared.status_code == 201, shared.text
    return report


def watching(report: str) -> str:
    return f"/api/v1/events?watch=report:{report}&categories=presence"


def joins_then(events: list[ServerSentEvent], *joined: uuid.UUID) -> list[tuple[str, str]]:
    """The changes after one join of each of ``joined``, in the order a client applies them (by version).

    The joins may come in either order: each process publishes what its own upkeep decided, and two
    processes' publishes race (the version says which the store decided first).
    """
    applied = sorted(
        (event for event in events if event.event.startswith("presence.")),
        key=lambda event: json.loads(event.data)["version"],
    )
    ordered = changes(applied)
    assert sorted(ordered[: len(joined)]) == sorted(("presence.joined", str(user)) for user in joined), ordered
    return ordered[len(joined) :]


async def test_a_killed_processs_users_leave_within_the_timeout(
    own_redis: PrivateRedis, postgres_database: str, tmp_path: Path
) -> None:
    owner, sharee = uuid.uuid4(), uuid.uuid4()
    with processes(environment(own_redis, postgres_database, grace=0.5), tmp_path, 2) as (a, b):
        async with clients(a, b) as (on_a, on_b):
            report = await shared_report(on_a, owner, sharee)
            async with StreamReader(on_a, watching(report), headers=process_bearer(owner)) as owners:
                async with StreamReader(on_b, watching(report), headers=process_bearer(sharee)):
                    await owners.wait_until(lambda events: ("presence.joined", str(sharee)) in changes(events))
                    b.kill()
                    killed_at = time.monotonic()
                    await owners.wait_until(
                        lambda events: ("presence.left", str(sharee)) in changes(events), timeout=TIMEOUT + 2
                    )
                    logger.info(
                        "presence.left %.2f s after SIGKILL (timeout %s s)", time.monotonic() - killed_at, TIMEOUT
                    )
                present = await on_a.get(f"/api/v1/presence/report/{report}", headers=process_bearer(owner))
                assert [m["user_id"] for m in present.json()["members"]] == [str(owner)]
                assert joins_then(owners.events, owner, sharee) == [("presence.left", str(sharee))]


async def test_a_stopped_processs_users_who_reconnect_within_the_grace_never_leave(
    own_redis: PrivateRedis, postgres_database: str, tmp_path: Path
) -> None:
    """SIGTERM hands the process's users over for one grace: back elsewhere by then, nobody sees a change."""
    owner, sharee = uuid.uuid4(), uuid.uuid4()
    with processes(environment(own_redis, postgres_database, grace=5), tmp_path, 2) as (a, b):
        async with clients(a, b) as (on_a, on_b):
            report = await shared_report(on_a, owner, sharee)
            async with StreamReader(on_a, watching(report), headers=process_bearer(owner)) as owners:
                async with StreamReader(on_b, watching(report), headers=process_bearer(sharee)) as there:
                    await owners.wait_until(lambda events: ("presence.joined", str(sharee)) in changes(events))
                    b.stop()
                    await asyncio.wait_for(there.ended.wait(), 10)
                async with StreamReader(on_a, watching(report), headers=process_bearer(sharee)):
                    # The marker: the owner's view of the report's watchers, from the store, is unchanged.
                    present = await on_a.get(f"/api/v1/presence/report/{report}", headers=process_bearer(owner))
                    assert present.json()["count"] == 2
                # Closed for good now: the one leave, after the grace; nothing came before it.
                await owners.wait_until(lambda events: ("presence.left", str(sharee)) in changes(events), timeout=15)
            assert joins_then(owners.events, owner, sharee) == [("presence.left", str(sharee))]


async def test_a_redis_outage_answers_503_and_its_end_brings_no_false_leaves_or_joins(
    own_redis: PrivateRedis, postgres_database: str, tmp_path: Path
) -> None:
    """Every lease runs out while Redis is down; when it is back, only the process killed meanwhile leaves.

    The killed process's user leaving is the marker: the sweep that ended it would have ended the live
    processes' leases too, had they not been renewed first.
    """
    owner, sharee, doomed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with processes(environment(own_redis, postgres_database, grace=0.5), tmp_path, 3) as (a, b, c):
        async with clients(a, b, c) as (on_a, on_b, on_c):
            report = await shared_report(on_a, owner, sharee, doomed)
            async with (
                StreamReader(on_a, watching(report), headers=process_bearer(owner)) as owners,
                StreamReader(on_b, watching(report), headers=process_bearer(sharee)),
                StreamReader(on_c, watching(report), headers=process_bearer(doomed)),
            ):
                await owners.wait_until(
                    lambda events: {("presence.joined", str(u)) for u in (sharee, doomed)} <= set(changes(events))
                )
                c.kill()
                own_redis.stop()
                down_since = time.monotonic()
                url = f"/api/v1/presence/report/{report}"
                while time.monotonic() - down_since < TIMEOUT:  # down for longer than any lease
                    refused = await on_a.get(url, headers=process_bearer(owner))
                    assert refused.status_code == 503, refused.text
                    assert refused.headers["retry-after"].isdigit()
                    assert refused.headers["content-type"].startswith("application/problem+json")
                    await asyncio.sleep(0.2)
                own_redis.start()
                await owners.wait_until(
                    lambda events: ("presence.left", str(doomed)) in changes(events), timeout=TIMEOUT + 10
                )
                present = await on_a.get(url, headers=process_bearer(owner))
                assert present.status_code == 200, present.text
                assert sorted(m["user_id"] for m in present.json()["members"]) == sorted([str(owner), str(sharee)])
            assert joins_then(owners.events, owner, sharee, doomed) == [("presence.left", str(doomed))]
