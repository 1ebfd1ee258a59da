"""Any ``Last-Event-ID`` Herald could not have issued is a ``stream.reset`` or a 400: never a 5xx, never an outage."""

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infrastructure.container import Container
from tests.integration.helpers import bearer
from tests.support.server import RunningHerald, serve

pytestmark = pytest.mark.needs("redis-server")

#: Redis Stream ids are two unsigned 64-bit integers; these are the edges and beyond.
EDGES = ["0", "1", str(2**63), str(2**64 - 1), str(2**64), "9" * 20]
CURSOR_LIKE = st.builds(
    "{}-{}_{}-{}".format,
    *[st.one_of(st.sampled_from(EDGES), st.integers(0, 10**20).map(str)) for _ in range(4)],
)
PRINTABLE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=128)


@pytest.fixture
async def herald_on_redis(make_redis_container: Callable[..., Container]) -> AsyncIterator[RunningHerald]:
    async with serve(make_redis_container(sse_opens_per_minute=100_000)) as running:
        yield running


@pytest.mark.parametrize(
    "last_event_id",
    [
        "99999999999999999999-0_0-0",  # the one the review sent
        f"{2**64}-0_0-0",
        f"0-0_0-{2**64}",
        f"{2**64 - 1}-{2**64 - 1}_{2**64 - 1}-{2**64 - 1}",  # valid ids, far beyond anything written
    ],
)
async def test_ids_beyond_64_bits_are_a_reset(
    herald_on_redis: RunningHerald, last_event_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    container = herald_on_redis.container
    headers = {**bearer(container), "Last-Event-ID": last_event_id}
    async with (
        httpx.AsyncClient(base_url=herald_on_redis.base_url, timeout=10) as client,
        client.stream("GET", "/api/v1/events", headers=headers) as response,
    ):
        assert response.status_code == 200
        frames = response.aiter_lines()
        lines = [await anext(frames) for _ in range(4)]
    assert "event: stream.reset" in lines
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], "an id was taken for an outage"


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(last_event_id=st.one_of(CURSOR_LIKE, PRINTABLE))
async def test_no_resume_id_gives_a_server_error(herald_on_redis: RunningHerald, last_event_id: str) -> None:
    container = herald_on_redis.container
    headers = {**bearer(container, uuid.uuid4()), "Last-Event-ID": last_event_id}
    async with (
        httpx.AsyncClient(base_url=herald_on_redis.base_url, timeout=10) as client,
        client.stream("GET", "/api/v1/events", headers=headers) as response,
    ):
        assert response.status_code in (200, 400), last_event_id
        if response.status_code == 400:
            assert json.loads(await response.aread())["status"] == 400
