"""The outbox across real processes on one PostgreSQL: a crash after the commit, and two relays under load."""

import asyncio
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from infrastructure.persistence.tables import outbox
from tests.conftest import TEST_SECRET
from tests.integration.helpers import data, eventually
from tests.support.processes import HeraldProcess, PrivateRedis, private_redis
from tests.support.streams import StreamReader
from tests.support.tokens import forged

pytestmark = [pytest.mark.needs("redis-server"), pytest.mark.timeout(180)]


def bearer(user: uuid.UUID | None = None, roles: tuple[str, ...] = ()) -> dict[str, str]:
    """A token without a session: accepted without asking Redis (which these tests freeze)."""
    return {"Authorization": f"Bearer {forged(sub=str(user or uuid.uuid4()), roles=list(roles))}"}


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    with private_redis(tmp_path) as server:
        yield server


def environment(redis: PrivateRedis, database: str) -> dict[str, str]:
    return {
        "HERALD_REDIS_URL": redis.url,
        "HERALD_DATABASE_URL": database,
        "HERALD_JWT_SECRET": TEST_SECRET,
        "HERALD_REPORT_STEP_SECONDS": "0.05",
        "HERALD_REPORT_LEASE_SECONDS": "2",
    }


async def attempted(database: str) -> bool:
    """Whether a relay has written its attempt into every pending row (it is about to send, or sending)."""
    engine = create_async_engine(database)
    try:
        async with engine.connect() as connection:
            rows = list(await connection.execute(select(outbox.c.attempts).where(outbox.c.published_at.is_(None))))
    finally:
        await engine.dispose()
    return bool(rows) and all(row.attempts for row in rows)


async def test_a_process_killed_after_its_commit_has_its_events_delivered_once_by_another(
    redis: PrivateRedis, postgres_database: str, tmp_path: Path
) -> None:
    env = environment(redis, postgres_database)
    # A is killed before its first step (so no progress tick of its own dies in its memory); B finishes.
    a = HeraldProcess({**env, "HERALD_REPORT_STEP_SECONDS": "60"}, tmp_path / "a.log")
    b = HeraldProcess(env, tmp_path / "b.log")
    a.start()
    b.start()
    owner = uuid.uuid4()
    try:
        async with (
            httpx.AsyncClient(timeout=30) as client,
            StreamReader(client, f"{b.base_url}/api/v1/events", headers=bearer(owner)) as stream,
        ):
            redis.freeze()  # A's relay will send into a Redis that holds its attempt unanswered
            try:
                response = await client.post(f"{a.base_url}/api/v1/reports", json={"title": "t"}, headers=bearer(owner))
                assert response.status_code == 202
                report_id = response.json()["report_id"]
                await eventually(lambda: attempted(postgres_database), timeout=10)
                a.kill()  # committed, attempted, not marked published: its generation dies with it too
            finally:
                redis.thaw()

            def of_report(kind: str) -> list[object]:
                return [e for e in stream.events if e.event == kind and data(e)["report_id"] == report_id]

            # B relays what A left (its lease on the partition died with it) and B's recovery finishes the report.
            await stream.wait_until(lambda _: bool(of_report("report.completed")), timeout=60)
            marker = await client.post(
                f"{b.base_url}/api/v1/announcements", json={"message": "marker"}, headers=bearer(roles=("admin",))
            )
            assert marker.status_code == 202
            await stream.wait_until(lambda events: any(e.event == "system.announcement" for e in events), timeout=30)
            versions = Counter(
                data(e)["version"]
                for e in stream.events
                if e.event.startswith("report.") and data(e)["report_id"] == report_id
            )
            assert len(of_report("report.requested")) == 1
            assert len(of_report("report.completed")) == 1
            assert versions == Counter({1: 1, 2: 1, 3: 1, 4: 1, 5: 1})
    finally:
        a.stop()
        b.stop()


def published_by(process: HeraldProcess) -> float:
    metrics = httpx.get(process.metrics_url, timeout=5).text
    found = re.search(r"^herald_outbox_published_total (\S+)$", metrics, flags=re.MULTILINE)
    assert found, metrics
    return float(found[1])


async def test_two_processes_relaying_one_database_deliver_every_event_exactly_once(
    redis: PrivateRedis, postgres_database: str, tmp_path: Path
) -> None:
    env = environment(redis, postgres_database)
    a = HeraldProcess(env, tmp_path / "a.log")
    b = HeraldProcess(env, tmp_path / "b.log")
    a.start()
    b.start()
    users = [uuid.uuid4() for _ in range(8)]
    try:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            streams = [StreamReader(client, f"{b.base_url}/api/v1/events", headers=bearer(user)) for user in users]
            await asyncio.gather(*(stream.__aenter__() for stream in streams))
            try:
                requested: dict[str, uuid.UUID] = {}
                for n in range(160):  # a steady load, half of it on each process
                    process, user = (a, b)[n % 2], users[n % len(users)]
                    response = await client.post(
                        f"{process.base_url}/api/v1/reports", json={"title": f"r{n}"}, headers=bearer(user)
                    )
                    assert response.status_code == 202
                    requested[response.json()["report_id"]] = user
                    await asyncio.sleep(0.02)
                for user, stream in zip(users, streams, strict=True):
                    mine = {report for report, owner in requested.items() if owner == user}

                    def done(events: list[object], mine: set[str] = mine) -> bool:
                        finished = {data(e)["report_id"] for e in events if e.event == "report.completed"}  # type: ignore[attr-defined]
                        return mine <= finished

                    await stream.wait_until(done, timeout=60)
                    seen = Counter(
                        (data(e)["report_id"], data(e)["version"])
                        for e in stream.events
                        if e.event.startswith("report.")
                    )
                    assert set(seen.values()) == {1}, "an event arrived twice"
                    assert set(seen) == {(report, version) for report in mine for version in range(1, 6)}
            finally:
                await asyncio.gather(*(stream.close() for stream in streams))
        relayed = (published_by(a), published_by(b))
        print(f"\nrelayed by each process: {relayed}")
        assert all(count > 0 for count in relayed), relayed
    finally:
        a.stop()
        b.stop()
