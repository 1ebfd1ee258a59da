"""Stream limits answer before a stream opens, with a status the client can act on."""

import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from infrastructure.container import Container
from tests.support.server import RunningHerald, serve
from tests.support.streams import StreamReader


@pytest.fixture
async def limited(make_container: Callable[..., Container]) -> AsyncIterator[RunningHerald]:
    container = make_container(sse_max_streams=3, sse_max_streams_per_user=2, sse_opens_per_minute=4)
    async with serve(container) as running:
        yield running


def bearer(service: RunningHerald, user: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {service.container.token_service().issue(user)}"}


async def test_per_user_and_per_process_caps(limited: RunningHerald) -> None:
    alice, bob, carol = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with (
        httpx.AsyncClient(base_url=limited.base_url, timeout=10) as client,
        StreamReader(client, "/api/v1/events", headers=bearer(limited, alice)),
        StreamReader(client, "/api/v1/events", headers=bearer(limited, alice)),
    ):
        third = await client.get("/api/v1/events", headers=bearer(limited, alice))
        assert third.status_code == 429
        assert third.json()["detail"] == "too many open streams for this user"
        async with StreamReader(client, "/api/v1/events", headers=bearer(limited, bob)):
            full = await client.get("/api/v1/events", headers=bearer(limited, carol))
            assert full.status_code == 503
            assert full.headers["retry-after"] == "5"
            assert full.headers["content-type"] == "application/problem+json"


async def test_stream_opens_are_rate_limited_per_user(limited: RunningHerald) -> None:
    user = uuid.uuid4()
    async with httpx.AsyncClient(base_url=limited.base_url, timeout=10) as client:
        for _ in range(4):
            async with StreamReader(client, "/api/v1/events", headers=bearer(limited, user)):
                pass
        refused = await client.get("/api/v1/events", headers=bearer(limited, user))
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        async with StreamReader(client, "/api/v1/events", headers=bearer(limited, uuid.uuid4())) as other:
            assert other.response is not None
            assert other.response.status_code == 200  # another user is not affected


async def test_tickets_are_rate_limited_per_user(make_container: Callable[..., Container]) -> None:
    async with (
        serve(make_container(sse_tickets_per_minute=3)) as service,
        httpx.AsyncClient(base_url=service.base_url, timeout=10) as client,
    ):
        user = uuid.uuid4()
        statuses = [(await client.post("/api/v1/events/tickets", headers=bearer(service, user))).status_code]
        statuses += [
            (await client.post("/api/v1/events/tickets", headers=bearer(service, user))).status_code for _ in range(3)
        ]
        assert statuses == [201, 201, 201, 429]
        refused = await client.post("/api/v1/events/tickets", headers=bearer(service, user))
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["content-type"] == "application/problem+json"
        other = await client.post("/api/v1/events/tickets", headers=bearer(service, uuid.uuid4()))
        assert other.status_code == 201  # another user is not affected
