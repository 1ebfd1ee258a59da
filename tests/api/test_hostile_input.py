"""Hostile input against the real server: each case gets its exact status, a problem body, never a 500."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support.server import RunningHerald
from tests.support.tokens import forged

USER = uuid.uuid4()


def unsigned() -> str:
    return forged("", "none", sub=str(USER))


Case = tuple[str, str, Callable[[RunningHerald], dict[str, str]], int]


def bearer(token: str) -> Callable[[RunningHerald], dict[str, str]]:
    return lambda _: {"Authorization": f"Bearer {token}"}


def valid(service: RunningHerald) -> dict[str, str]:
    return {"Authorization": f"Bearer {service.container.token_service().issue(USER)}"}


def with_header(name: str, value: str) -> Callable[[RunningHerald], dict[str, str]]:
    return lambda service: {**valid(service), name: value}


CASES: list[Case] = [
    ("no credentials", "/api/v1/events", lambda _: {}, 401),
    ("garbage token", "/api/v1/events", bearer("not.a.jwt"), 401),
    ("expired token", "/api/v1/events", bearer(forged(exp=datetime.now(UTC) - timedelta(hours=1))), 401),
    ("expiry beyond the year 9999", "/api/v1/events", bearer(forged(exp=253_402_300_800 * 10)), 401),
    ("alg none", "/api/v1/events", bearer(unsigned()), 401),
    ("wrong audience", "/api/v1/events", bearer(forged(aud="someone-else")), 401),
    ("wrong issuer", "/api/v1/events", bearer(forged(iss="someone-else")), 401),
    ("wrong key", "/api/v1/events", bearer(forged(key="k" * 40)), 401),
    ("unknown ticket", "/api/v1/events?ticket=" + "A" * 43, lambda _: {}, 401),
    ("oversized ticket", "/api/v1/events?ticket=" + "A" * 200, lambda _: {}, 401),
    ("huge Last-Event-ID", "/api/v1/events", with_header("Last-Event-ID", "9" * 5000), 400),
    ("malformed Last-Event-ID", "/api/v1/events", with_header("Last-Event-ID", "abc def"), 400),
    ("NUL in Last-Event-ID", "/api/v1/events?last_event_id=1%00event:x", valid, 400),
    ("CR/LF in Last-Event-ID", "/api/v1/events?last_event_id=1%0D%0Aevent:%20admin", valid, 400),
    ("unknown category", "/api/v1/events?categories=secrets", valid, 400),
    ("unknown among known", "/api/v1/events?categories=reports,secrets", valid, 400),
    ("10,000-character query", "/api/v1/events?categories=" + "r" * 10_000, valid, 414),
    ("10,000-character other parameter", "/api/v1/events?x=" + "y" * 10_000, valid, 414),
    ("wrong method on the stream", "/api/v1/events", valid, 405),
    ("wrong method on reports", "/api/v1/reports", valid, 405),
]
METHOD = {"wrong method on the stream": "PUT", "wrong method on reports": "DELETE"}


@pytest.mark.parametrize(("name", "url", "headers", "status"), CASES, ids=[c[0] for c in CASES])
async def test_hostile_request(
    service: RunningHerald, name: str, url: str, headers: Callable[[RunningHerald], dict[str, str]], status: int
) -> None:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        response = await client.request(METHOD.get(name, "GET"), url, headers=headers(service))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert "Traceback" not in response.text
    assert "event: admin" not in response.text


async def test_repeated_categories_are_one_filter(service: RunningHerald) -> None:
    async with (
        httpx.AsyncClient(base_url=service.base_url, timeout=10) as client,
        client.stream("GET", "/api/v1/events?categories=system,system,%20system", headers=valid(service)) as response,
    ):
        assert response.status_code == 200


async def test_a_used_ticket_and_another_users_ticket(service: RunningHerald) -> None:
    """A ticket is bound to the user who asked for it and opens one stream only."""
    tokens = service.container.token_service()
    alice, bob = uuid.uuid4(), uuid.uuid4()
    async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        issued = await client.post("/api/v1/events/tickets", headers={"Authorization": f"Bearer {tokens.issue(alice)}"})
        ticket = issued.json()["ticket"]
        # Bob presenting Alice's ticket alongside his own token still gets his own stream: the bearer wins,
        # and Alice's ticket stays unused for her.
        async with client.stream(
            "GET", f"/api/v1/events?ticket={ticket}", headers={"Authorization": f"Bearer {tokens.issue(bob)}"}
        ) as response:
            assert response.status_code == 200
        stream_owner = await service.container.ticket_store().redeem(ticket)
        assert stream_owner is not None
        assert stream_owner.user_id == alice
        reused = await client.get(f"/api/v1/events?ticket={ticket}")
        assert reused.status_code == 401


async def test_expiry_beyond_the_year_9999_on_an_api_route(service: RunningHerald) -> None:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        response = await client.post(
            "/api/v1/events/tickets", headers=bearer(forged(exp=253_402_300_800 * 10))(service)
        )
    assert response.status_code == 401
    assert response.json()["detail"] == "the token's expiry is out of range"


@pytest.mark.parametrize("credential", ["ticket", "cookie"])
async def test_a_proxys_basic_header_beside_a_ticket_or_cookie_is_passed_over(
    service: RunningHerald, credential: str
) -> None:
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        if credential == "ticket":
            ticket = (await client.post("/api/v1/events/tickets", headers=valid(service))).json()["ticket"]
            url = f"/api/v1/events?ticket={ticket}"
        else:
            assert (await client.post("/api/v1/events/cookie", headers=valid(service))).status_code == 204
            url = "/api/v1/events"
        async with client.stream("GET", url, headers=basic) as response:
            assert response.status_code == 200
        alone = await httpx.AsyncClient(base_url=service.base_url).get("/api/v1/events", headers=basic)
        assert alone.status_code == 401  # without another credential it is still refused, saying why
        assert "Bearer" in alone.json()["detail"]
