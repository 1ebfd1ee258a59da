"""``GET /api/v1/events?watch=report:<id>`` over real HTTP: who may watch, what a watcher receives, and an unshare."""

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
from tests.support.reports import REPORT_SEQUENCE, report_sequence
from tests.support.server import serve
from tests.support.streams import StreamReader

Auth = Callable[..., dict[str, str]]


@contextlib.asynccontextmanager
async def served(make: Callable[..., Container], **settings: object) -> AsyncIterator[tuple[httpx.AsyncClient, Auth]]:
    """Herald (from ``make``, with short report steps and three watches at most), a client and its users' tokens."""
    container = make(**{"report_step_seconds": 0.3, "sse_max_watches": 3, **settings})
    tokens = container.token_service()

    def auth(user: uuid.UUID, roles: tuple[str, ...] = (), tenant: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens.issue(user, roles, tenant=tenant)}"}

    async with serve(container) as running, httpx.AsyncClient(base_url=running.base_url, timeout=10) as client:
        yield client, auth


@pytest.fixture
async def api(make_container: Callable[..., Container]) -> AsyncIterator[tuple[httpx.AsyncClient, Auth]]:
    async with served(make_container) as api:
        yield api


async def shared(client: httpx.AsyncClient, auth: Auth, owner: uuid.UUID, report: str, user: uuid.UUID) -> None:
    response = await share(client, auth, owner, report, user)
    assert response.status_code == 201, response.text


def data(event: ServerSentEvent) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(event.data)
    return loaded


def completed(events: list[ServerSentEvent]) -> bool:
    return any(event.event == "report.completed" for event in events)


async def test_a_watcher_gets_the_whole_report_from_its_snapshot_and_its_owner_each_event_once(
    api: tuple[httpx.AsyncClient, Auth],
) -> None:
    client, auth = api
    owner, sharee = uuid.uuid4(), uuid.uuid4()
    missing = await client.get(f"/api/v1/events?watch=report:{uuid.uuid4()}", headers=auth(owner))
    assert_problem(missing, 404, "no report")  # a report that does not exist cannot be watched either
    report = await a_report(client, auth, owner)
    await shared(client, auth, owner, report, sharee)
    snapshot = await client.get(f"/api/v1/reports/{report}", headers=auth(sharee))
    assert snapshot.status_code == 200, snapshot.text
    position = snapshot.json()["position"]
    watch = f"/api/v1/events?watch=report:{report}"
    async with (
        StreamReader(client, f"{watch}&last_event_id={position}", headers=auth(sharee)) as watcher,
        StreamReader(client, watch, headers=auth(owner)) as owner_watching,
    ):
        await watcher.wait_until(completed)
        await owner_watching.wait_until(completed)
    seen = {event.event for event in watcher.events}
    assert "stream.reset" not in seen
    assert {"presence.joined"} <= seen  # the watchers see each other come (the owner, or the sharee itself)
    reports = [event for event in watcher.events if event.event.startswith("report.")]
    # Everything after the snapshot's version, in order, once (report_sequence refuses a version twice);
    # an event the snapshot already holds may come too (its commit raced the read), and is known by its version.
    version = snapshot.json()["report"]["version"]
    report_sequence(reports)
    newer = [event for event in reports if isinstance(v := data(event)["version"], int) and v > version]
    assert report_sequence(newer) == REPORT_SEQUENCE[version:]
    # The owner is both the event's user and a watcher: each event once all the same.
    report_sequence(owner_watching.events)
    assert all(data(event)["report_id"] == report for event in reports)


async def test_watching_what_one_may_not_see_is_404_and_a_bad_watch_400(
    api: tuple[httpx.AsyncClient, Auth],
) -> None:
    client, auth = api
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    report = await a_report(client, auth, owner)
    cases = [
        (stranger, f"watch=report:{report}", 404, "no report"),
        (stranger, f"watch=report:{uuid.uuid4()}", 404, "no report"),
        (owner, "watch=report", 400, "<kind>:<id>"),
        (owner, "watch=invoice:1", 400, "kind of: tenant, report"),
        (owner, "watch=report:a%20b", 400, "group id"),
        (owner, "watch=tenant:acme", 400, "tenant groups cannot be watched"),
        (owner, "&".join(f"watch=report:{uuid.uuid4()}" for _ in range(4)), 400, "at most 3 groups"),
    ]
    for caller, query, status, words in cases:
        response = await client.get(f"/api/v1/events?{query}", headers=auth(caller))
        assert_problem(response, status, words)


async def test_an_unshared_watcher_is_told_and_gets_nothing_more_of_the_report(
    api: tuple[httpx.AsyncClient, Auth],
) -> None:
    client, auth = api
    owner, sharee, admin = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    report = await a_report(client, auth, owner)
    await shared(client, auth, owner, report, sharee)
    watch = f"/api/v1/events?watch=report:{report}"
    async with (
        StreamReader(client, watch, headers=auth(sharee)) as watcher,
        StreamReader(client, "/api/v1/events", headers=auth(owner)) as owners,
    ):
        await watcher.wait_until(lambda events: any(e.event.startswith("report.") for e in events))
        gone = await client.delete(f"/api/v1/reports/{report}/shares/{sharee}", headers=auth(owner))
        assert gone.status_code == 204
        await watcher.wait_until(lambda events: any(e.event == "stream.unwatched" for e in events))
        await owners.wait_until(completed)  # the report's last event has been published...
        fence = await client.post("/api/v1/announcements", json={"message": "fence"}, headers=auth(admin, ("admin",)))
        assert fence.status_code == 202
        await watcher.wait_until(lambda events: events[-1].event == "system.announcement")  # ...and is behind this
    kinds = [event.event for event in watcher.events]
    unwatched = kinds.index("stream.unwatched")
    assert kinds[unwatched + 1 :] == ["system.announcement"], kinds
    notice = watcher.events[unwatched]
    assert {key: data(notice)[key] for key in ("kind", "id")} == {"kind": "report", "id": report}
    assert notice.id is not None
    assert "." not in notice.id  # its id no longer names the report's group
    # Resuming with the old id and the old watch: the report is no longer there for this user.
    last_watching = next(event.id for event in reversed(watcher.events[:unwatched]) if event.id)
    again = await client.get(f"{watch}&last_event_id={last_watching}", headers=auth(sharee))
    assert_problem(again, 404, "no report")


async def test_a_tenant_announcement_reaches_the_announcers_tenant_only(
    make_container: Callable[..., Container],
) -> None:
    container = make_container()
    tokens = container.token_service()

    def auth(user: uuid.UUID, *, tenant: str | None, roles: tuple[str, ...] = ()) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens.issue(user, roles, tenant=tenant)}"}

    admin = auth(uuid.uuid4(), tenant="acme", roles=("admin",))
    async with (
        serve(container) as running,
        httpx.AsyncClient(base_url=running.base_url, timeout=10) as client,
        StreamReader(client, "/api/v1/events", headers=auth(uuid.uuid4(), tenant="acme")) as acme,
        StreamReader(client, "/api/v1/events", headers=auth(uuid.uuid4(), tenant="globex")) as globex,
        StreamReader(client, "/api/v1/events", headers=auth(uuid.uuid4(), tenant=None)) as nobody,
    ):
        scoped = await client.post(
            "/api/v1/announcements", json={"message": "acme only", "scope": "tenant"}, headers=admin
        )
        assert scoped.status_code == 202, scoped.text
        await acme.wait_until(lambda events: any(e.event == "tenant.announcement" for e in events))
        everyone = await client.post("/api/v1/announcements", json={"message": "fence"}, headers=admin)
        assert everyone.status_code == 202
        for reader in (acme, globex, nobody):
            await reader.wait_until(lambda events: any(e.event == "system.announcement" for e in events))
        assert [e.event for e in acme.events] == ["tenant.announcement", "system.announcement"]
        assert data(acme.events[0])["message"] == "acme only"
        assert data(acme.events[0])["tenant"] == "acme"
        assert [e.event for e in globex.events] == ["system.announcement"]
        assert [e.event for e in nobody.events] == ["system.announcement"]
        without_tenant = {"Authorization": f"Bearer {tokens.issue(uuid.uuid4(), ('admin',))}"}
        refused = await client.post(
            "/api/v1/announcements", json={"message": "x", "scope": "tenant"}, headers=without_tenant
        )
        assert_problem(refused, 403, "names a tenant")
        unknown = await client.post("/api/v1/announcements", json={"message": "x", "scope": "world"}, headers=admin)
        assert_problem(unknown, 400)


async def test_a_tenant_members_snapshot_position_resumes_its_stream_without_a_reset(
    make_container: Callable[..., Container],
) -> None:
    """The position a snapshot gives is for the caller's stream, tenant's group included."""
    container = make_container(report_step_seconds=0.05)
    tokens = container.token_service()
    member = uuid.uuid4()
    headers = {"Authorization": f"Bearer {tokens.issue(member, tenant='acme')}"}
    async with serve(container) as running, httpx.AsyncClient(base_url=running.base_url, timeout=10) as client:
        report = await a_report(client, lambda user, roles=(): headers, member)
        for path in ("/api/v1/reports", f"/api/v1/reports/{report}"):
            snapshot = await client.get(path, headers=headers)
            assert snapshot.status_code == 200, snapshot.text
            url = f"/api/v1/events?last_event_id={snapshot.json()['position']}"
            async with StreamReader(client, url, headers=headers) as stream:
                following = await a_report(client, lambda user, roles=(): headers, member)
                await stream.wait_until(
                    lambda events, following=following: any(
                        data(e).get("report_id") == following for e in events if e.event == "report.completed"
                    )
                )
            assert "stream.reset" not in [event.event for event in stream.events], path
