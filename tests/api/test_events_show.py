"""``herald events show <event_id>``: the command an on-call engineer runs beside the service."""

import asyncio
import os
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import TokenFactory
from tests.conftest import TEST_SECRET
from tests.integration.helpers import eventually
from tests.support.server import RunningHerald
from tests.support.streams import StreamReader

HERALD = str(Path(sys.executable).parent / "herald")


async def events_show(service: RunningHerald, *arguments: str) -> tuple[int, str, str]:
    # Beside the service: its secret in the environment, so the command makes its own admin token.
    environment = {**os.environ, "HERALD_JWT_SECRET": TEST_SECRET}
    process = await asyncio.create_subprocess_exec(
        HERALD,
        "events",
        "show",
        *arguments,
        "--url",
        service.base_url,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.spawns
async def test_events_show_tells_an_events_way_from_its_commit_to_the_streams(
    service: RunningHerald, client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    reader, filtering = uuid.uuid4(), uuid.uuid4()
    async with (
        StreamReader(client, "/api/v1/events", headers=auth(reader)) as stream,
        StreamReader(client, "/api/v1/events?categories=reports", headers=auth(filtering)),
    ):
        posted = await client.post("/api/v1/announcements", json={"message": "hello"}, headers=auth(roles=["admin"]))
        event_id = posted.json()["event_id"]
        await stream.wait_for_count(1)
        output = ""

        async def told() -> bool:
            nonlocal output
            code, output, errors = await events_show(service, event_id)
            assert code == 0, errors
            return "written to 1" in output and "published 20" in output

        await eventually(told, timeout=30)
        unknown = await events_show(service, str(uuid.uuid4()))

    sys.stdout.write(output)  # the example in docs/architecture/observability.md comes from here (pytest -s)
    assert f"event {event_id}" in output
    assert "(AnnouncementPublished)" in output
    assert "1 attempt(s)" in output
    assert "system.announcement [system] → everyone" in output
    assert "log broadcast:" in output
    assert "retained" in output
    assert f"not delivered to 1 open stream(s): filtered_by_category (users {filtering})" in output
    code, _, errors = unknown
    assert code == 1
    assert "404" in errors
    assert "no event" in errors
