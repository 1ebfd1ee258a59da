"""CORS as the conformance checklist says: exact origins with credentials, no headers for others."""

from collections.abc import Callable

import httpx

from infrastructure.container import Container
from tests.support.server import serve

ALLOWED = "https://app.example.com"


async def preflight(client: httpx.AsyncClient, origin: str) -> httpx.Response:
    return await client.options(
        "/api/v1/events",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "last-event-id",
        },
    )


async def test_allowed_origins_are_echoed_with_credentials(make_container: Callable[..., Container]) -> None:
    async with (
        serve(make_container(cors_origins=(ALLOWED,))) as service,
        httpx.AsyncClient(base_url=service.base_url) as client,
    ):
        response = await client.get("/health", headers={"Origin": ALLOWED})
        assert response.headers["access-control-allow-origin"] == ALLOWED
        assert response.headers["access-control-allow-credentials"] == "true"
        allowed = await preflight(client, ALLOWED)
        assert allowed.status_code in (200, 204)
        assert allowed.headers["access-control-allow-origin"] == ALLOWED
        foreign = await client.get("/health", headers={"Origin": "https://evil.example.net"})
        assert "access-control-allow-origin" not in foreign.headers
        assert "access-control-allow-credentials" not in foreign.headers


async def test_a_wildcard_never_allows_credentials(make_container: Callable[..., Container]) -> None:
    async with (
        serve(make_container(cors_origins=("*",))) as service,
        httpx.AsyncClient(base_url=service.base_url) as client,
    ):
        response = await client.get("/health", headers={"Origin": "https://anywhere.example.org"})
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers


async def test_without_configuration_there_are_no_cors_headers(make_container: Callable[..., Container]) -> None:
    async with serve(make_container()) as service, httpx.AsyncClient(base_url=service.base_url) as client:
        response = await client.get("/health", headers={"Origin": ALLOWED})
        assert "access-control-allow-origin" not in response.headers


async def test_a_refused_preflight_is_a_problem_document(make_container: Callable[..., Container]) -> None:
    async with (
        serve(make_container(cors_origins=(ALLOWED,))) as service,
        httpx.AsyncClient(base_url=service.base_url) as client,
    ):
        refused = await preflight(client, "https://evil.example.net")
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 400
    assert "evil.example.net" in refused.json()["detail"]
    assert not [name for name in refused.headers if name.lower().startswith("access-control-")]
