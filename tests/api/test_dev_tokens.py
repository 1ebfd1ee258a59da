"""Development tokens name their tenant, and the stream credentials made from them keep it."""

import uuid

import httpx

from infrastructure.container import resolve
from tests.support.server import RunningHerald


async def test_a_development_token_names_its_tenant_and_its_cookie_and_ticket_keep_it(
    service: RunningHerald, client: httpx.AsyncClient
) -> None:
    user = uuid.uuid4()
    issued = await client.post("/api/v1/dev/tokens", json={"user_id": str(user), "tenant": "acme"})
    assert issued.status_code == 200
    tokens = service.container.token_service()
    principal = tokens.verify(issued.json()["access_token"])
    assert (principal.user_id, principal.tenant) == (user, "acme")
    bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    assert (await client.post("/api/v1/events/cookie", headers=bearer)).status_code == 204
    assert tokens.verify_stream_token(client.cookies["herald_stream"]).tenant == "acme"
    ticket = (await client.post("/api/v1/events/tickets", headers=bearer)).json()["ticket"]
    held = await (await resolve(service.container.ticket_store)).peek(ticket)
    assert held is not None
    assert held.tenant == "acme"


async def test_a_development_token_without_a_tenant_has_none(service: RunningHerald, client: httpx.AsyncClient) -> None:
    issued = await client.post("/api/v1/dev/tokens", json={"user_id": str(uuid.uuid4())})
    assert service.container.token_service().verify(issued.json()["access_token"]).tenant is None


async def test_a_tenant_that_cannot_name_a_group_is_a_400_naming_the_rule(client: httpx.AsyncClient) -> None:
    for tenant in ["", "ac me", "acme\n", "x" * 65, 42]:
        refused = await client.post("/api/v1/dev/tokens", json={"user_id": str(uuid.uuid4()), "tenant": tenant})
        assert refused.status_code == 400, tenant
        assert refused.headers["content-type"] == "application/problem+json"
        [problem] = refused.json()["extra"]
        assert problem["key"] == "tenant", tenant
        if isinstance(tenant, str):
            assert "[A-Za-z0-9_.-]{1,64}" in problem["message"], tenant
