"""After a server restart its clients come back spread over the retry window, not all in one second.

Fifty clients in Chromium (the built bundle, each connecting alone with a ticket) stream from a Herald behind
relays, as behind a load balancer; ten relays on ports of their own are ten origins, so Chromium's limit of
six connections to one origin never queues a client. The server stops (its streams end with `stream.end`)
and another starts on the same database; each client waits a random time of up to the server's `retry:`
(full jitter; doubled after each failed attempt) before it connects again. The test records when each
client tried and when it was back, and prints the spread.
"""

import statistics
import time
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, Route

from infrastructure.container import Container
from tests.support.browser import ARTIFACTS, BROWSER_TESTS, chromium, tab
from tests.support.demo_page import TIMEOUT_SECONDS, wait_until
from tests.support.relay import Relay, relay
from tests.support.server import serve

pytestmark = [*BROWSER_TESTS, pytest.mark.timeout(300)]

ORIGINS = 10
CLIENTS_PER_ORIGIN = 5
CLIENTS = ORIGINS * CLIENTS_PER_ORIGIN
#: The server's `retry:` hint (its default): the window the first reconnects spread over.
RETRY_MS = 3000
#: Where on each relay's origin the test serves its page (Chromium asks the test, not the server, for it).
PAGE_PATH = "/__spread/page.html"

PAGE = f"""<!doctype html>
<title>fifty clients</title>
<script type="module">
import {{ HeraldStream }} from '/static/herald-client.js';

const query = new URLSearchParams(location.search);
const headers = {{ Authorization: `Bearer ${{query.get('token')}}` }};
const ticket = (client) => async () => {{
  window.attempts.push([client, Date.now()]);  // each attempt starts with a ticket
  const response = await fetch('/api/v1/events/tickets', {{ method: 'POST', headers }});
  if (!response.ok) throw new Error(`no ticket: ${{response.status}}`);
  return (await response.json()).ticket;
}};
window.attempts = [];
window.opens = [];
window.heard = [];
window.ends = [];
for (let client = 0; client < {CLIENTS_PER_ORIGIN}; client++) {{
  const stream = new HeraldStream({{
    baseUrl: location.origin,
    ticket: ticket(client),
  }});
  stream.onStatus((status) => status === 'open' && window.opens.push([client, Date.now()]));
  stream.on('system.announcement', ({{ message }}) => window.heard.push([client, message]));
  stream.on('stream.end', () => window.ends.push([client, Date.now()]));
  void stream.open();
}}
</script>
"""


async def answer_page(route: Route) -> None:
    await route.fulfill(body=PAGE, content_type="text/html")


async def times(page: Page, name: str) -> list[tuple[int, float]]:
    return [(client, at) for client, at in await page.evaluate(f"window.{name}")]


def opened_since(since_ms: float) -> Callable[[list[tuple[int, float]]], bool]:
    return lambda opens: len({client for client, at in opens if at > since_ms}) == CLIENTS_PER_ORIGIN


def spread(label: str, delays_ms: list[float]) -> str:
    ordered = sorted(delays_ms)
    deciles = statistics.quantiles(ordered, n=10)
    return (
        f"{label}: min {ordered[0]:.0f} ms, p10 {deciles[0]:.0f}, median {statistics.median(ordered):.0f}, "
        f"p90 {deciles[-1]:.0f}, max {ordered[-1]:.0f} ms"
    )


def busiest_second(delays_ms: list[float]) -> int:
    """The most clients in any one-second window."""
    ordered = sorted(delays_ms)
    return max(sum(1 for other in ordered if start <= other < start + 1000) for start in ordered)


async def test_fifty_clients_of_a_restarted_server_come_back_spread_over_the_retry_window(
    make_container: Callable[..., Container], tmp_path: Path
) -> None:
    settings: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'herald.sqlite3'}",
        "sse_retry_ms": RETRY_MS,
    }
    async with AsyncExitStack() as stack:
        relays: list[Relay] = [await stack.enter_async_context(relay()) for _ in range(ORIGINS)]
        browser = await stack.enter_async_context(chromium())
        pages: list[Page] = []
        async with serve(make_container(**settings)) as first:
            tokens = first.container.token_service()
            for n, gateway in enumerate(relays):
                gateway.upstream = first
                page, context = await stack.enter_async_context(
                    tab(browser, gateway.base_url, ARTIFACTS / f"reconnect-spread-{n}.png")
                )
                await context.route(f"{gateway.base_url}{PAGE_PATH}*", answer_page)
                await page.goto(f"{PAGE_PATH}?token={tokens.issue(uuid.uuid4(), ['admin'])}")
                pages.append(page)
            for page in pages:
                await wait_until(lambda page=page: times(page, "opens"), opened_since(0), "every client open")
            # The server stops as this block ends: every stream ends with stream.end, and new connections are
            # refused until the next server is up.
            for gateway in relays:
                gateway.upstream = None
            ended_ms = time.time() * 1000
        async with serve(make_container(**settings)) as second:
            up_ms = time.time() * 1000
            for gateway in relays:
                gateway.upstream = second
            for page in pages:
                await wait_until(lambda page=page: times(page, "opens"), opened_since(ended_ms), "every client back")

            async with httpx.AsyncClient(base_url=second.base_url, timeout=TIMEOUT_SECONDS) as api:
                token = second.container.token_service().issue(uuid.uuid4(), ["admin"])
                response = await api.post(
                    "/api/v1/announcements", json={"message": "fence"}, headers={"Authorization": f"Bearer {token}"}
                )
                assert response.status_code == 202
            for page in pages:
                await wait_until(
                    lambda page=page: page.evaluate("window.heard"),
                    lambda heard: (
                        {client for client, message in heard if message == "fence"} == set(range(CLIENTS_PER_ORIGIN))
                    ),
                    "every client hearing the new server",
                )

            first_tries, backs = [], []
            for page in pages:
                attempts, opens = await times(page, "attempts"), await times(page, "opens")
                ends = dict(await times(page, "ends"))
                assert sorted(ends) == list(range(CLIENTS_PER_ORIGIN)), "every stream was ended with stream.end"
                for client, ended in ends.items():
                    first_tries.append(min(at for c, at in attempts if c == client and at >= ended) - ended)
                    backs.append(min(at for c, at in opens if c == client and at >= ended) - ended_ms)

    print(f"server restart with {CLIENTS} clients (retry: {RETRY_MS} ms; the next server up {up_ms - ended_ms:.0f} ms)")
    print(spread("first reconnect attempt after its stream.end", first_tries))
    print(spread("stream open again, after the restart began", backs))
    print(f"most first attempts in one second: {busiest_second(first_tries)} of {CLIENTS}")
    assert len(first_tries) == len(backs) == CLIENTS
    # Spread over the window: anywhere in [0, retry) for a client whose stream ended cleanly, so the first
    # attempts cover most of it and no one second holds most of them.
    assert max(first_tries) - min(first_tries) > RETRY_MS / 2
    assert busiest_second(first_tries) <= CLIENTS * 3 // 5
