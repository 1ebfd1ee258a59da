"""``GET /api/v1/presence/{kind}/{id}`` and ``presence.joined``/``presence.left`` over real HTTP (embedded broker)."""

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from httpx_sse import ServerSentEvent

from infrastructure.container import Container
from tests.api.test_report_limits import assert_problem
from tests.api.test_report_shares import a_report, share
from tests.api.test_watches import Auth, served
from tests.support.streams import StreamReader

#: Long enough for a reconnect in a test, short enough to wait out.
GRACE = 0.5


@pytest.fixture
async def api(make_container: Callable[..., Container]) -> AsyncIterator[tuple[httpx.AsyncClient, Auth]]:
    async with served(make_container, presence_grace_seconds=GRACE) as api:
        yield api


def watching(report: str) -> str:
    """A stream of the report's group that receives presence and system events only (no report progress)."""
    return f"/api/v1/events?watch=report:{report}&categories=presence,system"


def changes(events: list[ServerSentEvent]) -> list[tuple[str, str]]:
    return [(e.event, json.loads(e.data)["user_id"]) for e in events if e.event.startswith("presence.")]


async def fence(client: httpx.AsyncClient, auth: Auth, *readers: StreamReader) -> None:
    """Publish an announcement and wait until every reader got it: whatever was published before it, came."""
    admin = auth(uuid.uuid4(), ("admin",))
    message = uuid.uuid4().hex
    response = await client.post("/api/v1/announcements", json={"message": message}, headers=admin)
    assert response.status_code == 202, response.text
    for reader in readers:
        await reader.wait_until(
            lambda events: any(e.event == "system.announcement" and message in e.data for e in events)
        )


async def presence(client: httpx.AsyncClient, headers: dict[str, str], path: str) -> dict[str, object]:
    response = await client.get(f"/api/v1/presence/{path}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_watchers_see_each_other_come_once_and_go_after_the_grace(api: tuple[httpx.AsyncClient, Auth]) -> None:
    client, auth = api
    owner, sharee = uuid.uuid4(), uuid.uuid4()
    report = await a_report(client, auth, owner)
    assert (await share(client, auth, owner, report, sharee)).status_code == 201
    async with StreamReader(client, watching(report), headers=auth(owner)) as owners:
        await owners.wait_until(lambda events: ("presence.joined", str(owner)) in changes(events))
        async with (
            StreamReader(client, watching(report), headers=auth(sharee)),
            StreamReader(client, watching(report), headers=auth(sharee)),
        ):
            await owners.wait_until(lambda events: ("presence.joined", str(sharee)) in changes(events))
            body = await presence(client, auth(sharee), f"report/{report}")
            assert body["count"] == 2
            listed = body["version"]
            members = {m["user_id"]: m for m in body["members"]}  # type: ignore[attr-defined]
            assert set(members) == {str(owner), str(sharee)}
            assert members[str(sharee)]["streams"] == 2
            assert body["next"] is None
        await owners.wait_until(lambda events: ("presence.left", str(sharee)) in changes(events))
        assert (await presence(client, auth(owner), f"report/{report}"))["count"] == 1
        # Two streams of the sharee: one join, one leave; the owner's own join came to its stream first.
        assert changes(owners.events) == [
            ("presence.joined", str(owner)),
            ("presence.joined", str(sharee)),
            ("presence.left", str(sharee)),
        ]
        left = next(e for e in owners.events if e.event == "presence.left")
        assert json.loads(left.data)["group_kind"] == "report"
        assert json.loads(left.data)["group_id"] == report
        # Each change makes a newer version; the list read between two changes sits between them.
        versions = [json.loads(e.data)["version"] for e in owners.events if e.event.startswith("presence.")]
        assert versions == sorted(set(versions))
        assert versions[1] <= listed < versions[2]


async def member(client: httpx.AsyncClient, headers: dict[str, str], report: str, user: uuid.UUID) -> object:
    body = await presence(client, headers, f"report/{report}")
    return next(m for m in body["members"] if m["user_id"] == str(user))  # type: ignore[attr-defined]


async def test_a_reconnect_within_the_grace_is_neither_a_leave_nor_a_join(api: tuple[httpx.AsyncClient, Auth]) -> None:
    client, auth = api
    owner, sharee = uuid.uuid4(), uuid.uuid4()
    report = await a_report(client, auth, owner)
    assert (await share(client, auth, owner, report, sharee)).status_code == 201
    async with StreamReader(client, watching(report), headers=auth(owner)) as owners:
        async with StreamReader(client, watching(report), headers=auth(sharee)):
            await owners.wait_until(lambda events: ("presence.joined", str(sharee)) in changes(events))
            before = await member(client, auth(owner), report, sharee)
        async with StreamReader(client, watching(report), headers=auth(sharee)):  # back at once
            await fence(client, auth, owners)
            assert await member(client, auth(owner), report, sharee) == before  # present since the first open
        assert changes(owners.events).count(("presence.joined", str(sharee))) == 1
        assert ("presence.left", str(sharee)) not in changes(owners.events)
        await owners.wait_until(lambda events: ("presence.left", str(sharee)) in changes(events))


async def test_a_non_member_learns_nothing_and_a_tenant_sees_its_own(api: tuple[httpx.AsyncClient, Auth]) -> None:
    client, auth = api
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    report = await a_report(client, auth, owner)
    async with (
        StreamReader(client, watching(report), headers=auth(owner, tenant="acme")) as owners,
        StreamReader(client, "/api/v1/events", headers=auth(uuid.uuid4(), tenant="acme")),
    ):
        await owners.wait_until(lambda events: ("presence.joined", str(owner)) in changes(events))
        for path in (f"report/{report}", f"report/{uuid.uuid4()}", "report/not-a-uuid", "tenant/acme", "team/x"):
            refused = await client.get(f"/api/v1/presence/{path}", headers=auth(stranger, tenant="globex"))
            assert_problem(refused, 404, "no such group")
        tenant = await presence(client, auth(stranger, tenant="acme"), "tenant/acme")
        assert tenant["count"] == 2
        count_only = await presence(client, auth(stranger, tenant="acme"), "tenant/acme?members=false")
        assert count_only == {"count": 2}
        unauthenticated = await client.get("/api/v1/presence/tenant/acme")
        assert unauthenticated.status_code == 401
        bad_cursor = await client.get("/api/v1/presence/tenant/acme?after=nope", headers=auth(owner, tenant="acme"))
        assert_problem(bad_cursor, 400, "after")


async def test_members_come_a_page_at_a_time_in_user_id_order(make_container: Callable[..., Container]) -> None:
    async with served(make_container, presence_grace_seconds=GRACE) as (client, auth):
        users = sorted((uuid.uuid4() for _ in range(5)), key=str)
        async with contextlib.AsyncExitStack() as stack:
            for user in users:
                await stack.enter_async_context(
                    StreamReader(client, "/api/v1/events", headers=auth(user, tenant="acme"))
                )
            member = auth(users[0], tenant="acme")
            seen: list[str] = []
            after = ""
            while True:
                body = await presence(client, member, f"tenant/acme?limit=2{after}")
                assert body["count"] == 5
                seen += [m["user_id"] for m in body["members"]]  # type: ignore[attr-defined]
                if body["next"] is None:
                    break
                after = f"&after={body['next']}"
            assert seen == [str(user) for user in users]
