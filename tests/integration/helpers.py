"""Helpers shared by the Redis integration tests."""

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable

import httpx
from httpx_sse import ServerSentEvent

from infrastructure.auth import TokenService
from infrastructure.container import Container
from tests.conftest import TEST_SECRET


def bearer(container: Container, user: uuid.UUID | None = None, roles: tuple[str, ...] = ()) -> dict[str, str]:
    token = container.token_service().issue(user or uuid.uuid4(), roles)
    return {"Authorization": f"Bearer {token}"}


#: Tokens the Herald processes accept: they share the tests' secret.
PROCESS_TOKENS = TokenService(TEST_SECRET, issuer="herald", audience="herald")


def process_bearer(user: uuid.UUID, *roles: str) -> dict[str, str]:
    """Authorization headers for a Herald process started by the tests."""
    return {"Authorization": f"Bearer {PROCESS_TOKENS.issue(user, roles)}"}


def data(event: ServerSentEvent) -> dict[str, object]:
    return json.loads(event.data)  # type: ignore[no-any-return]


async def announce(client: httpx.AsyncClient, headers: dict[str, str], message: str) -> None:
    response = await client.post("/api/v1/announcements", json={"message": message}, headers=headers)
    assert response.status_code == 202, response.text


async def eventually(check: Callable[[], bool | Awaitable[bool]], timeout: float = 10, step: float = 0.05) -> None:
    """Poll ``check`` until it holds; fail with a clear message on timeout."""
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            await asyncio.sleep(step)
