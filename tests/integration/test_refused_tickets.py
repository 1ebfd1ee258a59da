"""A stream ticket refused by one process (429, 503, 400) is still good on the other, and still opens one stream only.

nginx retries a 503 on the other replica with the same URL, so the ticket
must survive the refusal; a browser retries a 429 later with it too.
"""

import asyncio
import contextlib
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.integration.helpers import process_bearer
from tests.support.processes import HeraldProcess, herald_process
from tests.support.streams import StreamReader

pytestmark = pytest.mark.needs("redis-server")

#: One process holds one stream (of anybody), one per user, or lets a user open one a minute.
LIMITS = {
    "process full": ("HERALD_SSE_MAX_STREAMS", 503),
    "user full": ("HERALD_SSE_MAX_STREAMS_PER_USER", 429),
    "opening too fast": ("HERALD_SSE_OPENS_PER_MINUTE", 429),
}


@contextlib.contextmanager
def processes(
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
    *,
    only_a: Mapping[str, str] | None = None,
    both: Mapping[str, str] | None = None,
) -> Iterator[tuple[HeraldProcess, HeraldProcess]]:
    """Two processes on one Redis, with settings ``both`` share and ``only_a`` has."""
    env = {"HERALD_REDIS_URL": redis_url, "HERALD_REDIS_PREFIX": redis_prefix, "HERALD_JWT_SECRET": TEST_SECRET}
    env |= both or {}
    with (
        herald_process({**env, **(only_a or {})}, tmp_path / "a.log") as a,
        herald_process(env, tmp_path / "b.log") as b,
    ):
        yield a, b


@pytest.mark.parametrize("redis_url", ["single"], indirect=True)  # the cluster's ticket store: the test below
@pytest.mark.parametrize("limit", LIMITS.values(), ids=LIMITS.keys())
async def test_a_ticket_refused_by_a_limit_on_one_process_opens_a_stream_on_the_other_once(
    redis_url: str, redis_prefix: str, tmp_path: Path, limit: tuple[str, int]
) -> None:
    setting, status = limit
    user = uuid.uuid4()
    with processes(redis_url, redis_prefix, tmp_path, only_a={setting: "1"}) as (a, b):
        async with (
            httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
            httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
            StreamReader(on_a, "/api/v1/events", headers=process_bearer(user)) as first,  # A is at its limit
        ):
            assert first.response is not None
            assert first.response.status_code == 200
            ticket = (await on_a.post("/api/v1/events/tickets", headers=process_bearer(user))).json()["ticket"]
            refused = await on_a.get(f"/api/v1/events?ticket={ticket}")
            assert refused.status_code == status, refused.text
            async with StreamReader(on_b, f"/api/v1/events?ticket={ticket}") as retried:  # as nginx retries
                assert retried.response is not None
                assert retried.response.status_code == 200
            for client in (on_a, on_b):
                assert (await client.get(f"/api/v1/events?ticket={ticket}")).status_code == 401  # now it is spent


#: Bad input refused before the ticket is looked at: the same ticket then opens a stream on the other process.
BAD_QUERIES = ["last_event_id=%20", "categories=nonsense", "categories=,"]


@pytest.mark.parametrize("redis_url", ["single"], indirect=True)  # the order of checks is the app's, not Redis's
async def test_a_ticket_sent_with_bad_input_is_refused_with_400_and_still_opens_a_stream(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    user = uuid.uuid4()
    with processes(redis_url, redis_prefix, tmp_path) as (a, b):
        async with (
            httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
            httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
        ):
            for bad_query in BAD_QUERIES:
                ticket = (await on_a.post("/api/v1/events/tickets", headers=process_bearer(user))).json()["ticket"]
                assert (await on_a.get(f"/api/v1/events?ticket={ticket}&{bad_query}")).status_code == 400, bad_query
                async with StreamReader(on_b, f"/api/v1/events?ticket={ticket}") as stream:
                    assert stream.response is not None
                    assert stream.response.status_code == 200, bad_query


async def test_concurrent_opens_with_one_ticket_on_both_processes_open_exactly_one_stream(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    user = uuid.uuid4()
    opens = 16  # half on each process: within its per-user cap, and all of its open rate
    with processes(redis_url, redis_prefix, tmp_path, both={"HERALD_SSE_OPENS_PER_MINUTE": str(opens // 2)}) as (a, b):
        async with (
            httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
            httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
            contextlib.AsyncExitStack() as streams,
        ):
            ticket = (await on_a.post("/api/v1/events/tickets", headers=process_bearer(user))).json()["ticket"]
            readers = [StreamReader((on_a, on_b)[n % 2], f"/api/v1/events?ticket={ticket}") for n in range(opens)]
            await asyncio.gather(*(streams.enter_async_context(reader) for reader in readers))
            statuses = sorted(reader.response.status_code for reader in readers if reader.response is not None)
            assert statuses == [200] + [401] * (opens - 1)
            # Whatever admission counted for the losers was given back: the user may still open a stream on each.
            for client in (on_a, on_b):
                async with StreamReader(client, "/api/v1/events", headers=process_bearer(user)) as stream:
                    assert stream.response is not None
                    assert stream.response.status_code == 200
