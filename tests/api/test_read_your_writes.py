"""Read-your-writes over real HTTP: each write that records stream events answers with their event ids, and
the stream then delivers exactly those ids; the OpenAPI document says so."""

import json
import uuid

import httpx

from tests.api.conftest import TokenFactory
from tests.support.streams import StreamReader


def event_ids(events: list[object], event_type: str) -> list[str]:
    return [str(json.loads(e.data)["event_id"]) for e in events if e.event == event_type]  # type: ignore[attr-defined]


async def test_a_report_request_answers_with_the_event_id_its_stream_then_carries(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    owner = uuid.uuid4()
    async with StreamReader(client, "/api/v1/events", headers=auth(owner)) as stream:
        response = await client.post("/api/v1/reports", json={"title": "Q3"}, headers=auth(owner))
        assert response.status_code == 202
        answer = response.json()
        await stream.wait_until(lambda events: bool(event_ids(events, "report.requested")))
        assert answer["event_ids"] == event_ids(stream.events, "report.requested")


async def test_an_announcement_answers_with_the_event_id_every_stream_then_carries(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    async with StreamReader(client, "/api/v1/events", headers=auth()) as stream:
        response = await client.post("/api/v1/announcements", json={"message": "hi"}, headers=auth(roles=["admin"]))
        assert response.status_code == 202
        answer = response.json()
        [delivered] = await stream.wait_for_count(1)
        assert answer["event_ids"] == [str(json.loads(delivered.data)["event_id"])] == [answer["event_id"]]


async def test_the_openapi_document_describes_the_event_ids_of_each_write(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
    for name in ("ReportAccepted", "AnnouncementAccepted"):
        event_ids_schema = schemas[name]["properties"]["event_ids"]
        assert event_ids_schema["type"] == "array", name
        assert "read-your-writes" in event_ids_schema["description"], name
        assert "event_ids" in schemas[name]["required"], name
