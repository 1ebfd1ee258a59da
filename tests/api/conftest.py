"""A real Herald served by uvicorn on a loopback port, and an HTTP client for it."""

import uuid
from collections.abc import AsyncIterator, Callable, Iterable

import httpx
import pytest

from infrastructure.container import Container
from tests.support.server import RunningHerald, serve

TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
async def service(make_container: Callable[..., Container]) -> AsyncIterator[RunningHerald]:
    async with serve(make_container(sse_heartbeat_seconds=0.5)) as running:
        yield running


@pytest.fixture
async def client(service: RunningHerald) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def auth(service: RunningHerald) -> TokenFactory:
    """Authorization headers for a user (a fresh one by default)."""

    def headers(user: uuid.UUID | None = None, roles: Iterable[str] = ()) -> dict[str, str]:
        token = service.container.token_service().issue(user or uuid.uuid4(), roles)
        return {"Authorization": f"Bearer {token}"}

    return headers
