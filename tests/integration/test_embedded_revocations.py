"""Without Redis, a logout outlasts a restart: the revocation is kept in the database, not only in memory."""

import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.integration.helpers import PROCESS_TOKENS
from tests.support.processes import herald_process

pytestmark = pytest.mark.spawns


async def test_a_session_logged_out_stays_revoked_after_the_process_restarts(tmp_path: Path) -> None:
    env = {"HERALD_JWT_SECRET": TEST_SECRET, "HERALD_DATABASE_URL": f"sqlite:///{tmp_path / 'herald.sqlite3'}"}
    session_id = f"restart-{uuid.uuid4()}"
    token = PROCESS_TOKENS.issue(uuid.uuid4(), session_id=session_id)
    bearer = {"Authorization": f"Bearer {token}"}
    other = {"Authorization": f"Bearer {PROCESS_TOKENS.issue(uuid.uuid4(), session_id=f'other-{uuid.uuid4()}')}"}
    with herald_process(env, tmp_path / "first.log") as first:
        async with httpx.AsyncClient(base_url=first.base_url, timeout=10) as client:
            assert (await client.get("/api/v1/reports", headers=bearer)).status_code == 200
            assert (await client.delete(f"/api/v1/sessions/{session_id}", headers=bearer)).status_code == 204
            assert (await client.get("/api/v1/reports", headers=bearer)).status_code == 401
    with herald_process(env, tmp_path / "second.log") as second:
        async with httpx.AsyncClient(base_url=second.base_url, timeout=10) as client:
            refused = await client.get("/api/v1/reports", headers=bearer)
            assert refused.status_code == 401, refused.text
            assert "revoked" in refused.json()["detail"]
            assert (await client.get("/api/v1/reports", headers=other)).status_code == 200  # others' sessions live
