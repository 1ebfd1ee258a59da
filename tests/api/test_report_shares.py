"""``/api/v1/reports/{id}/shares`` over real HTTP: only the owner shares, a retry is safe, a report has a limit."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from infrastructure.container import Container
from tests.api.test_report_limits import assert_problem
from tests.support.server import serve

Auth = Callable[[uuid.UUID], dict[str, str]]


@pytest.fixture
async def api(make_container: Callable[..., Container]) -> AsyncIterator[tuple[httpx.AsyncClient, Auth]]:
    container = make_container(report_step_seconds=30, report_shares_max=3)
    tokens = container.token_service()

    def auth(user: uuid.UUID) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens.issue(user)}"}

    async with serve(container) as running, httpx.AsyncClient(base_url=running.base_url, timeout=10) as client:
        yield client, auth


async def a_report(client: httpx.AsyncClient, auth: Auth, owner: uuid.UUID) -> str:
    response = await client.post("/api/v1/reports", json={"title": "shared"}, headers=auth(owner))
    assert response.status_code == 202, response.text
    return str(response.json()["report_id"])


async def share(client: httpx.AsyncClient, auth: Auth, caller: uuid.UUID, report: str, user: object) -> httpx.Response:
    return await client.post(f"/api/v1/reports/{report}/shares", json={"user_id": str(user)}, headers=auth(caller))


async def shares_of(client: httpx.AsyncClient, auth: Auth, owner: uuid.UUID, report: str) -> list[str]:
    response = await client.get(f"/api/v1/reports/{report}/shares", headers=auth(owner))
    assert response.status_code == 200, response.text
    assert response.json()["report_id"] == report
    return list(response.json()["user_ids"])


async def test_the_owner_shares_lists_and_unshares_and_a_retry_of_either_is_safe(
    api: tuple[httpx.AsyncClient, Auth],
) -> None:
    client, auth = api
    owner, sharee = uuid.uuid4(), uuid.uuid4()
    report = await a_report(client, auth, owner)
    assert await shares_of(client, auth, owner, report) == []

    first = await share(client, auth, owner, report, sharee)
    assert (first.status_code, first.json()) == (201, {"report_id": report, "user_id": str(sharee)})
    again = await share(client, auth, owner, report, sharee)
    assert (again.status_code, again.json()) == (200, first.json())
    assert await shares_of(client, auth, owner, report) == [str(sharee)]

    for _ in range(2):
        gone = await client.delete(f"/api/v1/reports/{report}/shares/{sharee}", headers=auth(owner))
        assert (gone.status_code, gone.content) == (204, b"")
    assert await shares_of(client, auth, owner, report) == []
    read = await client.get(f"/api/v1/reports/{report}", headers=auth(sharee))
    assert_problem(read, 404, "no such report")


async def test_only_the_owner_changes_or_lists_the_shares(api: tuple[httpx.AsyncClient, Auth]) -> None:
    client, auth = api
    owner, sharee, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    report = await a_report(client, auth, owner)
    assert (await share(client, auth, owner, report, sharee)).status_code == 201

    for caller, status, words in ((sharee, 403, "only the report's owner"), (stranger, 404, "no such report")):
        assert_problem(await share(client, auth, caller, report, uuid.uuid4()), status, words)
        unshare = await client.delete(f"/api/v1/reports/{report}/shares/{sharee}", headers=auth(caller))
        assert_problem(unshare, status, words)
        assert_problem(await client.get(f"/api/v1/reports/{report}/shares", headers=auth(caller)), status, words)
    assert await shares_of(client, auth, owner, report) == [str(sharee)]  # nothing the others sent changed it


async def test_a_report_that_does_not_exist_is_a_404_problem(api: tuple[httpx.AsyncClient, Auth]) -> None:
    client, auth = api
    owner, missing = uuid.uuid4(), uuid.uuid4()
    assert_problem(await share(client, auth, owner, str(missing), uuid.uuid4()), 404, "no such report")
    gone = await client.delete(f"/api/v1/reports/{missing}/shares/{uuid.uuid4()}", headers=auth(owner))
    assert_problem(gone, 404, "no such report")
    assert_problem(await client.get(f"/api/v1/reports/{missing}/shares", headers=auth(owner)), 404, "no such report")


async def test_the_owner_cannot_share_with_or_unshare_themselves(api: tuple[httpx.AsyncClient, Auth]) -> None:
    client, auth = api
    owner = uuid.uuid4()
    report = await a_report(client, auth, owner)
    assert_problem(await share(client, auth, owner, report, owner), 409, "not shared with its owner")
    unshare = await client.delete(f"/api/v1/reports/{report}/shares/{owner}", headers=auth(owner))
    assert_problem(unshare, 409, "not shared with its owner")


async def test_beyond_the_limit_a_share_is_a_409_problem_naming_it(api: tuple[httpx.AsyncClient, Auth]) -> None:
    client, auth = api
    owner = uuid.uuid4()
    report = await a_report(client, auth, owner)
    users = [uuid.uuid4() for _ in range(3)]
    for user in users:
        assert (await share(client, auth, owner, report, user)).status_code == 201
    refused = await share(client, auth, owner, report, uuid.uuid4())
    assert_problem(refused, 409, "shared with 3 users, the most allowed")
    assert "Retry-After" not in refused.headers  # waiting does not help; unsharing does
    assert (await share(client, auth, owner, report, users[0])).status_code == 200  # a retry still answers
    assert (await client.delete(f"/api/v1/reports/{report}/shares/{users[0]}", headers=auth(owner))).status_code == 204
    assert (await share(client, auth, owner, report, uuid.uuid4())).status_code == 201
    assert len(await shares_of(client, auth, owner, report)) == 3


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"user_id": "not-a-uuid"},
        {"user_id": 7},
        {"user_id": None},
        {"user_id": str(uuid.UUID(int=1)), "role": "editor"},
        [],
    ],
)
async def test_a_bad_share_body_is_a_400_problem(api: tuple[httpx.AsyncClient, Auth], body: object) -> None:
    client, auth = api
    owner = uuid.uuid4()
    report = await a_report(client, auth, owner)
    response = await client.post(f"/api/v1/reports/{report}/shares", json=body, headers=auth(owner))
    assert_problem(response, 400)
    assert await shares_of(client, auth, owner, report) == []


async def test_every_share_route_wants_a_credential(api: tuple[httpx.AsyncClient, Auth]) -> None:
    client, _ = api
    report, user = uuid.uuid4(), uuid.uuid4()
    answers = await asyncio.gather(
        client.post(f"/api/v1/reports/{report}/shares", json={"user_id": str(user)}),
        client.delete(f"/api/v1/reports/{report}/shares/{user}"),
        client.get(f"/api/v1/reports/{report}/shares"),
    )
    for answer in answers:
        assert_problem(answer, 401)


async def test_a_user_the_report_is_shared_with_reads_it_until_it_is_unshared(
    api: tuple[httpx.AsyncClient, Auth],
) -> None:
    client, auth = api
    owner, sharee = uuid.uuid4(), uuid.uuid4()
    report = await a_report(client, auth, owner)
    assert (await share(client, auth, owner, report, sharee)).status_code == 201
    read = await client.get(f"/api/v1/reports/{report}", headers=auth(sharee))
    assert read.status_code == 200, read.text
    assert read.json()["report"]["report_id"] == report
    await client.delete(f"/api/v1/reports/{report}/shares/{sharee}", headers=auth(owner))
    assert_problem(await client.get(f"/api/v1/reports/{report}", headers=auth(sharee)), 404, "no such report")
