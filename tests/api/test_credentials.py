"""Browser credentials and their lifetime: tickets, session revocation, expiry."""

import asyncio
import uuid
from collections.abc import Callable

import httpx

from infrastructure.container import Container
from tests.api.conftest import TokenFactory
from tests.support.server import RunningHerald, serve
from tests.support.streams import StreamReader


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
        await client.post("/api/v1/reports", json={"title": "bob's"}, headers=auth(bob))
        await client.post("/api/v1/reports", json={"title": "alice's"}, headers=auth(alice))
        await stream.wait_for_count(5)
        await asyncio.sleep(0.1)
        assert {e.data.count(str(alice)) > 0 for e in stream.events} == {True}  # only Alice's events
    reused = await client.get(f"/api/v1/events?ticket={ticket}")
    assert reused.status_code == 401
    assert reused.json()["detail"] == "the ticket is invalid, expired or already used"


async def test_an_expired_ticket_is_refused(make_container: Callable[..., Container]) -> None:
    container = make_container(sse_ticket_seconds=1)
    async with serve(container) as herald, httpx.AsyncClient(base_url=herald.base_url) as client:
        token = container.token_service().issue(uuid.uuid4())
        response = await client.post("/api/v1/events/tickets", headers={"Authorization": f"Bearer {token}"})
        ticket = response.json()["ticket"]
        await asyncio.sleep(1.2)
        assert (await client.get(f"/api/v1/events?ticket={ticket}")).status_code == 401


async def test_revoking_a_session_ends_its_streams_and_refuses_it(
    herald: RunningHerald, client: httpx.AsyncClient
) -> None:
    tokens = herald.container.token_service()
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


async def test_an_admin_may_revoke_any_session(herald: RunningHerald, client: httpx.AsyncClient) -> None:
    tokens = herald.container.token_service()
    victim = tokens.issue(uuid.uuid4())
    admin = {"Authorization": f"Bearer {tokens.issue(uuid.uuid4(), ['admin'])}"}
    sid = tokens.verify(victim).session_id
    assert (await client.delete(f"/api/v1/sessions/{sid}", headers=admin)).status_code == 204
    assert (await client.get("/api/v1/events", headers={"Authorization": f"Bearer {victim}"})).status_code == 401


async def test_a_stream_ends_when_its_credential_expires(herald: RunningHerald, client: httpx.AsyncClient) -> None:
    token = herald.container.token_service().issue(uuid.uuid4(), lifetime_seconds=1.5)
    async with StreamReader(client, "/api/v1/events", headers={"Authorization": f"Bearer {token}"}) as stream:
        async with asyncio.timeout(4):
            await stream.ended.wait()
        assert [e.event for e in stream.events] == ["stream.end"]
        assert '"reason":"credential_expired"' in stream.events[0].data
    response = await client.get("/api/v1/events", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
