"""A logout while Redis is down fails whole (503, nothing changed anywhere); its retry then works everywhere."""

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.integration.helpers import PROCESS_TOKENS, data
from tests.support.processes import PrivateRedis, herald_process
from tests.support.streams import StreamReader

pytestmark = pytest.mark.needs("redis-server")


async def accepted(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    """The status of an authenticated call that needs no Redis to answer (the report's events wait)."""
    return (await client.post("/api/v1/reports", json={"title": "probe"}, headers=headers)).status_code


async def test_logout_during_an_outage_fails_whole_then_succeeds_everywhere(
    own_redis: PrivateRedis, tmp_path: Path
) -> None:
    env = {"HERALD_REDIS_URL": own_redis.url, "HERALD_JWT_SECRET": TEST_SECRET, "HERALD_REPORT_STEP_SECONDS": "0.01"}
    token = PROCESS_TOKENS.issue(uuid.uuid4(), session_id="outage-sid")
    session = {"Authorization": f"Bearer {token}"}
    with herald_process(env, tmp_path / "a.log") as a, herald_process(env, tmp_path / "b.log") as b:
        async with (
            httpx.AsyncClient(base_url=a.base_url, timeout=30) as on_a,
            httpx.AsyncClient(base_url=b.base_url, timeout=30) as on_b,
        ):
            own_redis.stop()
            refused = await on_a.delete("/api/v1/sessions/outage-sid", headers=session)
            assert refused.status_code == 503
            assert refused.headers["retry-after"]
            assert refused.headers["content-type"] == "application/problem+json"
            # Nothing changed: both processes still accept the session, the one that took the logout too.
            assert await accepted(on_a, session) == 202
            assert await accepted(on_b, session) == 202

            own_redis.start()
            async with asyncio.timeout(30):
                while (await on_a.get("/health")).status_code != 200 or (await on_b.get("/health")).status_code != 200:
                    await asyncio.sleep(0.1)
            assert await accepted(on_a, session) == 202
            assert await accepted(on_b, session) == 202
            async with StreamReader(on_b, "/api/v1/events", headers=session) as stream_on_b:
                retried = await on_a.delete("/api/v1/sessions/outage-sid", headers=session)
                assert retried.status_code == 204
                await stream_on_b.wait_until(lambda events: any(e.event == "stream.end" for e in events), timeout=10)
                assert data(stream_on_b.events[-1])["reason"] == "session_revoked"
            assert await accepted(on_a, session) == 401
            assert await accepted(on_b, session) == 401
