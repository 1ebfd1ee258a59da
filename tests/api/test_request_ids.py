"""Every response returns an ``X-Request-ID``, and what is logged while handling a request carries it."""

import json
import logging
import uuid
from collections.abc import Iterator

import httpx
import pytest
import structlog

from tests.api.conftest import TokenFactory


class ContextCapture(logging.Handler):
    """Remembers each record with the structlog context variables bound when it was logged."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[logging.LogRecord, dict[str, object]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record, structlog.contextvars.get_contextvars()))


@pytest.fixture
def captured() -> Iterator[ContextCapture]:
    handler = ContextCapture()
    logger = logging.getLogger("infrastructure.sse.handler")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_a_well_formed_incoming_id_is_returned(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "edge-7f3a:01.b_c"})
    assert response.headers["x-request-id"] == "edge-7f3a:01.b_c"


@pytest.mark.parametrize(
    "incoming",
    ["", "has spaces", "x" * 129, 'quote"d', "new\\nline", "ümlaut"],
    ids=["empty", "spaces", "too-long", "quote", "backslash", "non-ascii"],
)
async def test_a_malformed_incoming_id_is_replaced(client: httpx.AsyncClient, incoming: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": incoming.encode()})
    assert response.headers["x-request-id"] != incoming
    assert len(response.headers["x-request-id"]) == 32
    int(response.headers["x-request-id"], 16)


async def test_each_request_gets_its_own_id(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/health")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no/such/route", 404),
        ("DELETE", "/health", 405),
        ("GET", "/api/v1/events", 401),
        ("GET", "/api/v1/events?ticket=not-a-ticket", 401),
    ],
)
async def test_errors_carry_the_id_too(client: httpx.AsyncClient, method: str, path: str, status: int) -> None:
    response = await client.request(method, path, headers={"X-Request-ID": "err-1"})
    assert response.status_code == status
    assert response.headers["x-request-id"] == "err-1"


async def test_the_stream_response_carries_the_id(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    async with client.stream("GET", "/api/v1/events", headers={**auth(), "X-Request-ID": "stream-1"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-request-id"] == "stream-1"


async def test_publications_caused_by_a_request_are_logged_with_its_id_and_the_sse_event_ids(
    client: httpx.AsyncClient, auth: TokenFactory, captured: ContextCapture
) -> None:
    user = uuid.uuid4()
    async with client.stream("GET", "/api/v1/events", headers=auth(user)) as stream:
        response = await client.post(
            "/api/v1/reports", json={"title": "Q3"}, headers={**auth(user), "X-Request-ID": "report-1"}
        )
        assert response.status_code == 202
        ids: list[str] = []
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                ids.append(json.loads(line.removeprefix("data:"))["event_id"])
            if line == "event: report.completed":
                break
    published = [(record, context) for record, context in captured.seen if record.levelno == logging.DEBUG]
    assert published
    assert {context.get("request_id") for _, context in published} == {"report-1"}
    assert [record.__dict__["event_id"] for record, _ in published][: len(ids)] == ids
