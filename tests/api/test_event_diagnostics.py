"""``GET /api/v1/admin/events/{event_id}``: what happened to one event, over real HTTP on the embedded broker."""

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from infrastructure.container import Container
from tests.api.conftest import TokenFactory
from tests.integration.helpers import eventually
from tests.support.server import serve
from tests.support.streams import StreamReader

ADMIN = ("admin",)


async def announce(client: httpx.AsyncClient, auth: TokenFactory, message: str) -> str:
    response = await client.post("/api/v1/announcements", json={"message": message}, headers=auth(roles=ADMIN))
    assert response.status_code == 202, response.text
    return str(response.json()["event_id"])


async def diagnosis_once(client: httpx.AsyncClient, auth: TokenFactory, event_id: str, holds: Any) -> dict[str, Any]:
    """The answer, once ``holds(answer)`` (the relay and the writer get there a moment after the stream does)."""
    answer: dict[str, Any] = {}

    async def ready() -> bool:
        nonlocal answer
        response = await client.get(f"/api/v1/admin/events/{event_id}", headers=auth(roles=ADMIN))
        assert response.status_code == 200, response.text
        answer = response.json()
        return bool(holds(answer))

    await eventually(ready)
    return answer


async def test_a_durable_event_delivered_to_an_open_stream_is_told_from_commit_to_socket(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    user = uuid.uuid4()
    async with StreamReader(client, "/api/v1/events", headers=auth(user)) as stream:
        event_id = await announce(client, auth, "maintenance at noon")
        await stream.wait_for_count(1)
        answer = await diagnosis_once(
            client,
            auth,
            event_id,
            lambda a: a["outbox"]["published_at"] and a["deliveries"] and a["deliveries"][0]["written"] == 1,
        )

    outbox = answer["outbox"]
    assert outbox["domain_event"] == "AnnouncementPublished"
    assert outbox["attempts"] == 1
    assert outbox["committed_at"] <= outbox["first_tried_at"] <= outbox["published_at"]
    [audience] = answer["audience"]
    assert audience["event_type"] == "system.announcement"
    assert audience["broadcast"] is True
    [place] = audience["logs"]
    assert place["log"] == "broadcast"
    assert place["position"] is not None  # retained: a resume replays it
    [delivery] = answer["deliveries"]
    assert delivery["queued"] == delivery["written"] == 1
    assert delivery["skipped"] == {}
    assert answer["window_seconds"] > 0


async def test_a_stream_that_filters_the_category_out_is_named_with_the_reason(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    reader, filtering = uuid.uuid4(), uuid.uuid4()
    async with (
        StreamReader(client, "/api/v1/events", headers=auth(reader)) as stream,
        StreamReader(client, "/api/v1/events?categories=reports", headers=auth(filtering)),
    ):
        event_id = await announce(client, auth, "only for the unfiltered")
        await stream.wait_for_count(1)
        answer = await diagnosis_once(client, auth, event_id, lambda a: a["deliveries"][0]["written"] == 1)

    [delivery] = answer["deliveries"]
    assert delivery["written"] == 1
    assert delivery["skipped"] == {"filtered_by_category": 1}
    assert delivery["skipped_streams"] == [{"reason": "filtered_by_category", "user_id": str(filtering)}]


async def test_an_unknown_event_is_a_404_problem_and_a_malformed_id_a_400(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    unknown = await client.get(f"/api/v1/admin/events/{uuid.uuid4()}", headers=auth(roles=ADMIN))
    malformed = await client.get("/api/v1/admin/events/not-an-id", headers=auth(roles=ADMIN))

    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert "no event" in unknown.json()["detail"]
    assert malformed.status_code == 400
    assert malformed.headers["content-type"].startswith("application/problem+json")


async def test_only_administrators_may_ask(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    event_id = await announce(client, auth, "who may look")

    forbidden = await client.get(f"/api/v1/admin/events/{event_id}", headers=auth())
    anonymous = await client.get(f"/api/v1/admin/events/{event_id}")

    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("application/problem+json")
    assert anonymous.status_code == 401


async def test_an_event_retention_has_dropped_is_said_to_be_so(make_container: Callable[..., Container]) -> None:
    async with (
        serve(make_container(sse_retention=1)) as running,
        httpx.AsyncClient(base_url=running.base_url) as client,
    ):

        def auth(roles: tuple[str, ...] = ()) -> dict[str, str]:
            return {"Authorization": f"Bearer {running.container.token_service().issue(uuid.uuid4(), roles)}"}

        first = await announce(client, lambda **_: auth(ADMIN), "first")
        await announce(client, lambda **_: auth(ADMIN), "second")  # the broadcast history keeps one
        answer = await diagnosis_once(  # once both are published (the logs are looked into after that)
            client,
            lambda **_: auth(ADMIN),
            first,
            lambda a: [p["position"] for p in a["audience"][0]["logs"]] == [None],
        )

    [place] = answer["audience"][0]["logs"]
    assert place["position"] is None
    assert place["note"].startswith("not retained: dropped by retention")
