"""The stream over real HTTP: delivery, isolation, filters, resume and release."""

import asyncio
import json
import uuid
from collections.abc import Callable

import httpx

from infrastructure.container import Container
from tests.api.conftest import TokenFactory
from tests.support.reports import REPORT_SEQUENCE, report_sequence
from tests.support.server import RunningHerald, serve
from tests.support.streams import StreamReader, finished_report


def data(event: object) -> dict[str, object]:
    return json.loads(event.data)  # type: ignore[attr-defined,no-any-return]


async def test_a_report_reaches_its_owner_in_order_and_nobody_else(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    owner, other = uuid.uuid4(), uuid.uuid4()
    async with (
        StreamReader(client, "/api/v1/events", headers=auth(owner)) as mine,
        StreamReader(client, "/api/v1/events", headers=auth(other)) as theirs,
    ):
        response = await client.post("/api/v1/reports", json={"title": "Q3"}, headers=auth(owner))
        assert response.status_code == 202
        report_id = response.json()["report_id"]
        await mine.wait_until(lambda events: len(events) >= len(REPORT_SEQUENCE))
        assert report_sequence(mine.events) == REPORT_SEQUENCE
        assert {data(e)["report_id"] for e in mine.events} == {report_id}
        assert [data(e)["percent"] for e in mine.of_type("report.progress")] == [25, 50, 75]
        ids = [tuple(int(part) for part in e.id.split("-")[1].split("_")) for e in mine.events]
        assert ids == sorted(set(ids))
        # An announcement is a fence: once it arrives, anything of the report would have arrived too.
        await client.post("/api/v1/announcements", json={"message": "fence"}, headers=auth(roles=["admin"]))
        await theirs.wait_until(lambda events: any(e.event == "system.announcement" for e in events))
        assert [e.event for e in theirs.events] == ["system.announcement"]


async def test_an_announcement_reaches_every_user(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    readers = [StreamReader(client, "/api/v1/events", headers=auth()) for _ in range(3)]
    for reader in readers:
        await reader.__aenter__()
    try:
        response = await client.post(
            "/api/v1/announcements", json={"message": "maintenance at 18:00"}, headers=auth(roles=["admin"])
        )
        assert response.status_code == 202
        event_ids = set()
        for reader in readers:
            [event] = await reader.wait_for_count(1)
            assert event.event == "system.announcement"
            assert data(event)["message"] == "maintenance at 18:00"
            event_ids.add(str(data(event)["event_id"]))
        [event_id] = event_ids  # one broadcast: the same SSE event for everyone
        assert uuid.UUID(event_id).version == 7
    finally:
        for reader in readers:
            await reader.close()


async def test_the_categories_filter(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    user = uuid.uuid4()
    async with StreamReader(client, "/api/v1/events?categories=system", headers=auth(user)) as system_only:
        await finished_report(client, auth(user), "filtered out")
        await client.post("/api/v1/announcements", json={"message": "in"}, headers=auth(roles=["admin"]))
        await system_only.wait_for_count(1)
        # A stream delivers in publish order: a report event let through would have come first.
        assert [e.event for e in system_only.events] == ["system.announcement"]


async def test_stream_headers_and_retry_hint(service: RunningHerald, auth: TokenFactory) -> None:
    async with (
        httpx.AsyncClient(base_url=service.base_url) as raw,
        raw.stream("GET", "/api/v1/events", headers=auth()) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        assert "content-length" not in response.headers
        assert "content-encoding" not in response.headers
        first = await anext(response.aiter_raw())
        assert first == b"retry: 3000\n\n"


async def test_idle_streams_get_heartbeat_comments(service: RunningHerald, auth: TokenFactory) -> None:
    async with (
        httpx.AsyncClient(base_url=service.base_url) as raw,
        raw.stream("GET", "/api/v1/events", headers=auth()) as response,
    ):
        chunks = response.aiter_raw()
        assert await anext(chunks) == b"retry: 3000\n\n"
        async with asyncio.timeout(2):
            assert await anext(chunks) == b": ping\n\n"


async def test_resume_delivers_exactly_the_missed_events(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    user = uuid.uuid4()
    headers = auth(user)
    admin = auth(roles=["admin"])
    async with StreamReader(client, "/api/v1/events", headers=headers) as first:
        await client.post("/api/v1/announcements", json={"message": "1"}, headers=admin)
        [seen] = await first.wait_for_count(1)
    for n in (2, 3, 4):
        await client.post("/api/v1/announcements", json={"message": str(n)}, headers=admin)
    async with StreamReader(client, "/api/v1/events", headers={**headers, "Last-Event-ID": seen.id}) as resumed:
        for n in (5, 6):  # 6 is a marker: once it is in, a repeated or extra event would be too
            await client.post("/api/v1/announcements", json={"message": str(n)}, headers=admin)
        events = await resumed.wait_for_count(5)
        assert [data(e)["message"] for e in resumed.events] == ["2", "3", "4", "5", "6"]
        assert len({e.id for e in events}) == 5


async def test_the_query_fallback_resumes_and_the_header_wins(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    user = uuid.uuid4()
    admin = auth(roles=["admin"])
    async with StreamReader(client, "/api/v1/events", headers=auth(user)) as first:
        for n in (1, 2):
            await client.post("/api/v1/announcements", json={"message": str(n)}, headers=admin)
        one, two = await first.wait_for_count(2)
    await client.post("/api/v1/announcements", json={"message": "3"}, headers=admin)
    async with StreamReader(client, f"/api/v1/events?last_event_id={one.id}", headers=auth(user)) as by_query:
        await by_query.wait_for_count(2)
        assert [data(e)["message"] for e in by_query.events] == ["2", "3"]
    async with StreamReader(
        client, f"/api/v1/events?last_event_id={one.id}", headers={**auth(user), "Last-Event-ID": two.id}
    ) as header_wins:
        await client.post("/api/v1/announcements", json={"message": "marker"}, headers=admin)
        await header_wins.wait_for_count(2)
        assert [data(e)["message"] for e in header_wins.events] == ["3", "marker"]


async def test_a_disconnected_client_is_released_within_a_second(
    service: RunningHerald, client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    hub = service.container.stream_hub()
    async with StreamReader(client, "/api/v1/events", headers=auth()):
        assert hub.open_streams == 1
    async with asyncio.timeout(1):
        while hub.open_streams:
            await asyncio.sleep(0.02)
    assert hub.users() == frozenset()


async def test_shutdown_ends_open_streams_cleanly(make_container: Callable[..., Container]) -> None:
    container = make_container()
    async with serve(container) as running, httpx.AsyncClient(base_url=running.base_url, timeout=10) as client:
        token = container.token_service().issue(uuid.uuid4(), ["admin"])
        headers = {"Authorization": f"Bearer {token}"}
        reader = StreamReader(client, "/api/v1/events", headers=headers)
        await reader.__aenter__()
        await client.post("/api/v1/announcements", json={"message": "last"}, headers=headers)
        await reader.wait_for_count(1)
        running.server.should_exit = True
        async with asyncio.timeout(5):
            await reader.ended.wait()
        assert reader.error is None
        assert [e.event for e in reader.events] == ["system.announcement", "stream.end"]
        assert data(reader.events[0])["message"] == "last"
        assert data(reader.events[1])["reason"] == "shutdown"
        assert reader.events[1].id == reader.events[0].id  # the notice has no id: the last id stays the event's
