"""Bad requests get a precise status and a JSON problem body, never a 500."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from application.streams import MAX_LAST_EVENT_ID_LENGTH
from domain.sse import SSECategory
from tests.api.conftest import TokenFactory
from tests.support.tokens import forged


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "a bearer token, a ticket or the stream cookie is required"),
        ({"Authorization": "Bearer garbage"}, "the token is invalid"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "must be 'Bearer <token>'"),
        ({"Authorization": f"Bearer {forged(exp=datetime.now(UTC) - timedelta(minutes=1))}"}, "expired"),
        ({"Authorization": f"Bearer {forged(aud='elsewhere')}"}, "the token is invalid"),
    ],
)
async def test_the_stream_refuses_missing_and_bad_credentials(
    client: httpx.AsyncClient, headers: dict[str, str], detail: str
) -> None:
    response = await client.get("/api/v1/events", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert detail in response.json()["detail"]


@pytest.mark.parametrize(
    ("query", "headers", "detail"),
    [
        ("?categories=no_such_category", {}, f"valid categories: {', '.join(sorted(SSECategory))}"),
        ("?categories=,", {}, "categories must name at least one of"),
        ("", {"Last-Event-ID": "x" * (MAX_LAST_EVENT_ID_LENGTH + 1)}, "Last-Event-ID is malformed"),
        ("?last_event_id=%0Aevent:%20admin", {}, "Last-Event-ID is malformed"),
    ],
)
async def test_bad_stream_parameters_are_400(
    client: httpx.AsyncClient, auth: TokenFactory, query: str, headers: dict[str, str], detail: str
) -> None:
    response = await client.get(f"/api/v1/events{query}", headers={**auth(), **headers})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert detail in body["detail"]
    assert "event: admin" not in response.text


async def test_announcements_need_the_admin_role(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    response = await client.post("/api/v1/announcements", json={"message": "hi"}, headers=auth())
    assert response.status_code == 403
    assert response.json()["detail"] == "the 'admin' role is required"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/api/v1/reports", {"title": ""}, 400),
        ("POST", "/api/v1/reports", {"title": "x" * 201}, 400),
        ("POST", "/api/v1/reports", {"nope": 1}, 400),
        ("POST", "/api/v1/dev/tokens", {"user_id": "not-a-uuid"}, 400),
        ("DELETE", "/api/v1/events", None, 405),
        ("GET", "/api/v1/nothing-here", None, 404),
    ],
)
async def test_bad_requests_are_problems_not_500(
    client: httpx.AsyncClient, auth: TokenFactory, method: str, path: str, body: object, status: int
) -> None:
    response = await client.request(method, path, json=body, headers=auth())
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status


async def test_reports_need_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/reports", json={"title": "x"})
    assert response.status_code == 401


async def test_dev_tokens_and_the_cookie_open_a_stream(client: httpx.AsyncClient) -> None:
    user = str(uuid.uuid4())
    issued = await client.post("/api/v1/dev/tokens", json={"user_id": user})
    assert issued.status_code == 200
    assert issued.json()["token_type"] == "bearer"
    bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    set_cookie = await client.post("/api/v1/events/cookie", headers=bearer)
    assert set_cookie.status_code == 204
    cookie_header = set_cookie.headers["set-cookie"].lower()
    assert "httponly" in cookie_header
    assert "samesite=strict" in cookie_header
    assert "path=/api/v1/events" in cookie_header
    async with client.stream("GET", "/api/v1/events") as response:
        assert response.status_code == 200
    # The cookie only opens the stream; it is no access token.
    stream_token = client.cookies["herald_stream"]
    refused = await client.post(
        "/api/v1/reports", json={"title": "x"}, headers={"Authorization": f"Bearer {stream_token}"}
    )
    assert refused.status_code == 401
    cleared = await client.delete("/api/v1/events/cookie")
    assert cleared.status_code == 204
    assert "herald_stream" not in client.cookies
    assert (await client.get("/api/v1/events")).status_code == 401


async def test_health_reports_the_broker(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "broker": {"kind": "memory", "ready": True},
        "outbox": {"backlog": 0, "oldest_seconds": 0.0, "last_error": None},
    }


async def test_the_demo_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'from "/static/herald-client.js"' in response.text


async def test_the_demo_page_s_client_is_the_built_bundle_served_as_a_module(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/herald-client.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "HeraldStream" in response.text


async def test_the_demo_page_allows_only_its_own_code(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy
    # The inline module by its hash, and scripts of the page's own origin (its client bundle) only.
    assert re.search(r"script-src 'self' 'sha256-[A-Za-z0-9+/=]+'(;|$)", policy), policy
    assert "'unsafe-eval'" not in policy
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("path", ["/", "/health", "/api/v1/nothing-here", "/api/v1/events"])
async def test_every_response_carries_the_security_headers(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
