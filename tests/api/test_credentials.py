"""Browser credentials and their lifetime: tickets, session revocation, expiry."""

import asyncio
import uuid
from collections.abc import Callable

import httpx
from dependency_injector import providers

from infrastructure.container import Container
from tests.api.conftest import TokenFactory
from tests.support.clock import SteppingClock
from tests.support.server import RunningHerald, serve
from tests.support.sessions import check_a_logout_outlasts_every_token_of_its_session
from tests.support.streams import StreamReader, finished_report


async def ticket_for(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post("/api/v1/events/tickets", headers=headers)
    assert response.status_code == 201
    body = response.json()
    assert body["expires_in"] == 15
    return str(body["ticket"])


async def test_a_ticket_opens_its_users_stream_once(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    ticket = await ticket_for(client, auth(alice))
    async with StreamReader(client, f"/api/v1/events?ticket={ticket}") as stream:
        assert stream.response is not None
        assert stream.response.status_code == 200
        await finished_report(client, auth(bob), "bob's")
        await client.post("/api/v1/reports", json={"title": "alice's"}, headers=auth(alice))
        await stream.wait_until(lambda events: any(e.event == "report.completed" for e in events))
        # Bob's events were all published before Alice's first: had one leaked, it would be here.
        assert len(stream.events) == 5
        assert {e.data.count(str(alice)) > 0 for e in stream.events} == {True}  # only Alice's events
    reused = await client.get(f"/api/v1/events?ticket={ticket}")
    assert reused.status_code == 401
    assert reused.json()["detail"] == "the ticket is invalid, expired or already used"


async def test_an_expired_ticket_is_refused(make_container: Callable[..., Container]) -> None:
    container = make_container()
    clock = SteppingClock()
    container.clock.override(providers.Object(clock))
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url) as client:
        headers = {"Authorization": f"Bearer {container.token_service().issue(uuid.uuid4())}"}
        expiring = await ticket_for(client, headers)
        clock.advance(15.5)
        assert (await client.get(f"/api/v1/events?ticket={expiring}")).status_code == 401
        fresh = await ticket_for(client, headers)
        clock.advance(14.5)  # within its 15 seconds, the same path lets it through
        async with StreamReader(client, f"/api/v1/events?ticket={fresh}") as stream:
            assert stream.response is not None
            assert stream.response.status_code == 200


async def test_revoking_a_session_ends_its_streams_and_refuses_it(
    service: RunningHerald, client: httpx.AsyncClient
) -> None:
    tokens = service.container.token_service()
    user = uuid.uuid4()
    session_token = tokens.issue(user)
    other_session = {"Authorization": f"Bearer {tokens.issue(user)}"}
    headers = {"Authorization": f"Bearer {session_token}"}
    session_id = tokens.verify(session_token).session_id
    assert session_id is not None
    async with (
        StreamReader(client, "/api/v1/events", headers=headers) as revoked,
        StreamReader(client, "/api/v1/events", headers=other_session) as unaffected,
    ):
        outsider = {"Authorization": f"Bearer {tokens.issue(uuid.uuid4())}"}
        assert (await client.delete(f"/api/v1/sessions/{session_id}", headers=outsider)).status_code == 403
        assert (await client.delete(f"/api/v1/sessions/{session_id}", headers=headers)).status_code == 204
        async with asyncio.timeout(2):
            await revoked.ended.wait()
        assert [e.event for e in revoked.events] == ["stream.end"]
        assert '"reason":"session_revoked"' in revoked.events[0].data
        assert not unaffected.ended.is_set()
    again = await client.get("/api/v1/events", headers=headers)
    assert again.status_code == 401
    assert "revoked" in again.json()["detail"]
    assert (await client.post("/api/v1/reports", json={"title": "x"}, headers=headers)).status_code == 401


async def test_an_admin_may_revoke_any_session(service: RunningHerald, client: httpx.AsyncClient) -> None:
    tokens = service.container.token_service()
    victim = tokens.issue(uuid.uuid4())
    admin = {"Authorization": f"Bearer {tokens.issue(uuid.uuid4(), ['admin'])}"}
    sid = tokens.verify(victim).session_id
    assert (await client.delete(f"/api/v1/sessions/{sid}", headers=admin)).status_code == 204
    assert (await client.get("/api/v1/events", headers={"Authorization": f"Bearer {victim}"})).status_code == 401


async def test_a_logout_outlasts_the_token_that_asked_and_every_refreshed_token_of_the_session(
    make_container: Callable[..., Container],
) -> None:
    container = make_container(jwt_leeway_seconds=4)
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        await check_a_logout_outlasts_every_token_of_its_session(
            client, [client], container.token_service(), leeway_seconds=4
        )


async def test_a_stream_ends_when_its_credential_expires(service: RunningHerald, client: httpx.AsyncClient) -> None:
    # Long enough to open the stream on a busy machine (``exp`` is cut to whole seconds).
    token = service.container.token_service().issue(uuid.uuid4(), lifetime_seconds=3)
    async with StreamReader(client, "/api/v1/events", headers={"Authorization": f"Bearer {token}"}) as stream:
        async with asyncio.timeout(10):
            await stream.ended.wait()
        assert [e.event for e in stream.events] == ["stream.end"]
        assert '"reason":"credential_expired"' in stream.events[0].data
    response = await client.get("/api/v1/events", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
