"""A SQLite file serves one process: a second ``herald run`` on it refuses to start and says what to do."""

import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.integration.helpers import eventually
from tests.support.processes import HeraldProcess
from tests.support.tokens import forged


def bearer(user: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {forged(sub=str(user))}"}


async def test_a_second_process_on_the_same_sqlite_file_refuses_to_start_and_the_first_serves_on(
    shared_redis_url: str, tmp_path: Path
) -> None:
    env = {
        "HERALD_REDIS_URL": shared_redis_url,
        "HERALD_REDIS_PREFIX": f"herald-test-{uuid.uuid4().hex[:12]}",
        "HERALD_JWT_SECRET": TEST_SECRET,
        "HERALD_REPORT_STEP_SECONDS": "0.05",
        "HERALD_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}",
    }
    first = HeraldProcess(env, tmp_path / "first.log")
    first.start()
    try:
        second = HeraldProcess(env, tmp_path / "second.log")
        with pytest.raises(RuntimeError, match="exited at start-up"):
            second.start()
        assert second.exit_code not in (None, 0)
        refusal = second.log()
        assert "HERALD_DATABASE_URL" in refusal
        assert "PostgreSQL" in refusal
        assert str(tmp_path / "shared.sqlite3") in refusal
        assert "Traceback" not in refusal

        owner = uuid.uuid4()
        async with httpx.AsyncClient(base_url=first.base_url, timeout=10) as client:
            accepted = await client.post("/api/v1/reports", json={"title": "still served"}, headers=bearer(owner))
            assert accepted.status_code == 202
            report = f"/api/v1/reports/{accepted.json()['report_id']}"

            async def completed() -> bool:
                response = await client.get(report, headers=bearer(owner))
                return bool(response.json()["report"]["status"] == "completed")

            await eventually(completed)
    finally:
        first.stop()

    after = HeraldProcess(env, tmp_path / "after.log")
    after.start()  # the first one's claim ended with it
    try:
        async with httpx.AsyncClient(base_url=after.base_url, timeout=10) as client:
            listed = (await client.get("/api/v1/reports", headers=bearer(owner))).json()["reports"]
        assert [(item["title"], item["status"]) for item in listed] == [("still served", "completed")]
    finally:
        after.stop()
