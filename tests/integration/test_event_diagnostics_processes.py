"""Delivery diagnostics across processes: on Redis any process answers for every process's deliveries."""

import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.integration.helpers import eventually, process_bearer
from tests.support.processes import herald_process, private_redis
from tests.support.streams import StreamReader

pytestmark = [pytest.mark.needs("redis-server"), pytest.mark.spawns, pytest.mark.timeout(120)]


async def test_a_process_answers_for_the_delivery_another_process_made(postgres_database: str, tmp_path: Path) -> None:
    with private_redis(tmp_path) as redis:
        env = {
            "HERALD_REDIS_URL": redis.url,
            "HERALD_DATABASE_URL": postgres_database,
            "HERALD_JWT_SECRET": TEST_SECRET,
        }
        with herald_process(env, tmp_path / "a.log") as a, herald_process(env, tmp_path / "b.log") as b:
            admin = process_bearer(uuid.uuid4(), "admin")
            reader, filtering = uuid.uuid4(), uuid.uuid4()
            async with (
                httpx.AsyncClient(timeout=30) as client,
                StreamReader(client, f"{a.base_url}/api/v1/events", headers=process_bearer(reader)) as stream,
                StreamReader(
                    client, f"{a.base_url}/api/v1/events?categories=reports", headers=process_bearer(filtering)
                ),
            ):
                posted = await client.post(f"{b.base_url}/api/v1/announcements", json={"message": "m"}, headers=admin)
                event_id = posted.json()["event_id"]
                await stream.wait_for_count(1)
                answer: dict[str, Any] = {}

                async def a_delivery_told_by_b() -> bool:
                    nonlocal answer
                    response = await client.get(f"{b.base_url}/api/v1/admin/events/{event_id}", headers=admin)
                    assert response.status_code == 200, response.text
                    answer = response.json()
                    return any(delivery["written"] == 1 for delivery in answer["deliveries"])

                await eventually(a_delivery_told_by_b, timeout=20)

    assert answer["outbox"]["published_at"] is not None
    [place] = answer["audience"][0]["logs"]
    assert place["log"] == "broadcast"
    assert re.fullmatch(r"\d+-\d+", place["position"])  # its entry in the broadcast log (a Redis Stream)
    by_writes = sorted(answer["deliveries"], key=lambda delivery: delivery["written"])
    assert len({delivery["process"] for delivery in by_writes}) == 2  # each process fanned out the broadcast
    holder, other = by_writes[-1], by_writes[0]
    assert (holder["queued"], holder["written"]) == (1, 1)
    assert holder["skipped"] == {"filtered_by_category": 1}
    assert holder["skipped_streams"] == [{"reason": "filtered_by_category", "user_id": str(filtering)}]
    assert (other["queued"], other["written"]) == (0, 0)  # B holds no stream
