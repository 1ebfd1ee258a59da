"""The generated TypeScript client in a real browser, against a real Herald: typed events arrive, and when the
server ends the stream the client reconnects by itself with a fresh ticket, resuming after the last id; a
report shared with the user is watched until its owner stops sharing it, and then left out of the reconnect.

The client is compiled with its own ``tsc`` and served to Chromium from Herald's origin (the test answers
those requests itself), so the stream and the API are the server's own, same-origin, as for an application.
"""

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import Page, Request, Route

from infrastructure.container import Container
from infrastructure.streams.inbox import EndReason
from infrastructure.streams.signals import EndNotice, end_frame
from tests.integration.helpers import eventually
from tests.support.browser import ARTIFACTS, BROWSER_TESTS, browse
from tests.support.node import CLIENT, install_client_packages, tsc
from tests.support.server import RunningHerald, serve

pytestmark = [*BROWSER_TESTS, pytest.mark.needs("node"), pytest.mark.timeout(300)]

#: Where the test serves the compiled client and its page, on Herald's origin.
MOUNT = "/__client"
TIMEOUT_SECONDS = 20.0
#: The client's own reconnect delay (ticket authentication), short for the test.
RETRY_MS = 100

#: The client's one runtime dependency, served from its node_modules (what a bundler would resolve it to).
OPENAPI_FETCH = "/node_modules/openapi-fetch/dist/index.mjs"

PAGE = f"""<!doctype html>
<title>Herald TypeScript client</title>
<script type="importmap">{{"imports": {{"openapi-fetch": "{MOUNT}{OPENAPI_FETCH}"}}}}</script>
<script type="module">
import {{ EVENT_NAMES, HeraldStream }} from '{MOUNT}/src/stream.js';

const query = new URLSearchParams(location.search);
const headers = {{ Authorization: `Bearer ${{query.get('token')}}` }};
window.received = [];
window.failures = [];
// ?auth=cookie: the stream cookie, and EventSource's own reconnects; otherwise a ticket per connection.
const cookie = query.get('auth') === 'cookie';
if (cookie) {{
  const set = await fetch('/api/v1/events/cookie', {{ method: 'POST', headers }});
  if (!set.ok) throw new Error(`no stream cookie: ${{set.status}}`);
}}
const ticket = async () => {{
  const response = await fetch('/api/v1/events/tickets', {{ method: 'POST', headers }});
  if (!response.ok) throw new Error(`no ticket: ${{response.status}}`);
  return (await response.json()).ticket;
}};
const stream = window.stream = new HeraldStream({{
  baseUrl: location.origin,
  lastEventId: query.get('position'),
  watch: query.getAll('watch'),
  retryMs: {RETRY_MS},
  ...(cookie ? {{}} : {{ ticket }}),
}});
for (const name of EVENT_NAMES) {{
  stream.on(name, (payload, meta) => window.received.push({{ name: meta.name, id: meta.id ?? null, payload }}));
}}
stream.onError((error) => window.failures.push(error.message));
await stream.open();
</script>
"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The client compiled to JavaScript modules, as a bundler would see its sources."""
    install_client_packages()
    out = tmp_path_factory.mktemp("client-js")
    tsc("-p", str(CLIENT), "--noEmit", "false", "--outDir", str(out))
    return out


@pytest.fixture
async def service(make_container: Callable[..., Container]) -> AsyncIterator[RunningHerald]:
    # Report steps slow enough that a report is shared, and its sharee's position read, before it finishes.
    async with serve(make_container(report_step_seconds=0.2)) as running:
        yield running


def serve_client(compiled: Path) -> Callable[[Route], Any]:
    async def answer(route: Route) -> None:
        path = urlsplit(route.request.url).path.removeprefix(MOUNT)
        if path == "/page.html":
            await route.fulfill(body=PAGE, content_type="text/html")
            return
        if path == OPENAPI_FETCH:
            await route.fulfill(body=(CLIENT / path.lstrip("/")).read_bytes(), content_type="text/javascript")
            return
        file = compiled / path.lstrip("/")
        if file.suffix != ".js":  # the sources import without extensions, as for a bundler
            file = file.with_name(file.name + ".js")
        if not file.resolve().is_relative_to(compiled) or not file.is_file():
            await route.fulfill(status=404)
            return
        await route.fulfill(body=file.read_bytes(), content_type="text/javascript")

    return answer


async def received(page: Page) -> list[dict[str, Any]]:
    return await page.evaluate("window.received")  # type: ignore[no-any-return]


async def wait_for(page: Page, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    async def check() -> bool:
        return done(await received(page))

    await eventually(check, timeout=TIMEOUT_SECONDS)
    return await received(page)


def announcements(events: list[dict[str, Any]]) -> list[str]:
    return [event["payload"]["message"] for event in events if event["name"] == "system.announcement"]


def stream_requests(requests: list[Request]) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(r.url).query) for r in requests if urlsplit(r.url).path == "/api/v1/events"]


async def test_the_client_delivers_typed_events_and_resumes_with_a_new_ticket_after_the_server_ends_its_stream(
    service: RunningHerald, compiled: Path
) -> None:
    user = uuid.uuid4()
    token = service.container.token_service().issue(user, ["admin"])
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=service.base_url, headers=headers, timeout=TIMEOUT_SECONDS) as api:
        position = (await api.get("/api/v1/reports")).json()["position"]
        async with browse(service.base_url, ARTIFACTS / "typescript-client.png") as (page, context):
            await context.route(f"{service.base_url}{MOUNT}/**", serve_client(compiled))
            requests: list[Request] = []
            page.on("request", lambda request: requests.append(request))  # noqa: PLW0108 (Playwright wraps handlers)
            await page.goto(f"{MOUNT}/page.html?token={token}&position={position}")

            # 1. A report's events arrive typed and in order (the stream resumes from the snapshot's position,
            #    so nothing is lost however late the browser connects).
            report_id = (await api.post("/api/v1/reports", json={"title": "Q3"})).json()["report_id"]
            events = await wait_for(page, lambda got: any(e["name"] == "report.completed" for e in got))
            report = sorted(
                (e for e in events if e["name"].startswith("report.")), key=lambda e: e["payload"]["version"]
            )
            assert [e["name"] for e in report] == ["report.requested"] + ["report.progress"] * 3 + ["report.completed"]
            assert {e["payload"]["report_id"] for e in report} == {report_id}
            assert [e["payload"]["percent"] for e in report if e["name"] == "report.progress"] == [25, 50, 75]
            last_id = [e["id"] for e in events if e["id"] is not None][-1]

            # 2. The server ends the stream, as on shutdown; announcements published meanwhile are not lost.
            service.container.stream_hub().end_all(EndReason.SHUTDOWN, end_frame(EndNotice.SHUTDOWN))
            for n in range(3):
                assert (await api.post("/api/v1/announcements", json={"message": f"during {n}"})).status_code == 202
            events = await wait_for(page, lambda got: announcements(got) == ["during 0", "during 1", "during 2"])
            end = [e for e in events if e["name"] == "stream.end"]
            assert [(e["payload"]["reason"], e["id"]) for e in end] == [("shutdown", None)]  # stream.end has no id

            # The client reconnected by itself, with a new ticket, resuming after the last event it had.
            first, again = stream_requests(requests)
            assert first["last_event_id"] == [position]
            assert again["last_event_id"] == [last_id]
            assert again["ticket"] != first["ticket"]

            # 3. A fence: the stream is ordered, so a duplicate of anything before it would show by now.
            assert (await api.post("/api/v1/announcements", json={"message": "fence"})).status_code == 202
            events = await wait_for(page, lambda got: "fence" in announcements(got))
            assert announcements(events) == ["during 0", "during 1", "during 2", "fence"]
            ids = [e["id"] for e in events if e["id"] is not None]
            assert len(ids) == len(set(ids))
            assert await page.evaluate("window.failures") == []  # the end was expected: no failure reported


@pytest.mark.parametrize("auth", ["ticket", "cookie"])
async def test_the_client_watches_a_shared_report_until_it_is_unshared_then_reconnects_without_it(
    service: RunningHerald, compiled: Path, auth: str
) -> None:
    owner, sharee = uuid.uuid4(), uuid.uuid4()
    tokens = service.container.token_service()
    as_owner = {"Authorization": f"Bearer {tokens.issue(owner, ['admin'])}"}
    sharee_token = tokens.issue(sharee)
    async with httpx.AsyncClient(base_url=service.base_url, headers=as_owner, timeout=TIMEOUT_SECONDS) as api:
        report_id = (await api.post("/api/v1/reports", json={"title": "shared"})).json()["report_id"]
        shared = await api.post(f"/api/v1/reports/{report_id}/shares", json={"user_id": str(sharee)})
        assert shared.status_code == 201, shared.text
        # The sharee's snapshot of the report, and the position of a stream that watches it.
        snapshot = await api.get(f"/api/v1/reports/{report_id}", headers={"Authorization": f"Bearer {sharee_token}"})
        position = snapshot.json()["position"]
        async with browse(service.base_url, ARTIFACTS / f"typescript-client-watch-{auth}.png") as (page, context):
            await context.route(f"{service.base_url}{MOUNT}/**", serve_client(compiled))
            requests: list[Request] = []
            page.on("request", lambda request: requests.append(request))  # noqa: PLW0108 (Playwright wraps handlers)
            query = urlencode({"token": sharee_token, "position": position, "watch": f"report:{report_id}"})
            await page.goto(f"{MOUNT}/page.html?{query}&auth={auth}")

            # 1. The report's events reach the sharee as they reach its owner, typed.
            events = await wait_for(page, lambda got: any(e["name"] == "report.completed" for e in got))
            assert {e["payload"]["report_id"] for e in events if e["name"].startswith("report.")} == {report_id}
            assert await page.evaluate("window.stream.watching") == [f"report:{report_id}"]

            # 2. The owner stops sharing it: the client is told, with an id, and stops watching it.
            assert (await api.delete(f"/api/v1/reports/{report_id}/shares/{sharee}")).status_code == 204
            events = await wait_for(page, lambda got: any(e["name"] == "stream.unwatched" for e in got))
            [unwatched] = [e for e in events if e["name"] == "stream.unwatched"]
            assert unwatched["payload"] | {"event_id": None, "occurred_at": None} == {
                "kind": "report",
                "id": report_id,
                "user_id": str(sharee),
                "event_id": None,
                "occurred_at": None,
            }
            assert unwatched["id"] is not None
            assert await page.evaluate("window.stream.watching") == []
            assert await page.evaluate("window.stream.lastEventId") == unwatched["id"]

            # 3. The server ends the stream: the client comes back without the watch (a watch of it would be
            #    refused with 404), from the unwatched's id, and misses nothing published meanwhile.
            service.container.stream_hub().end_all(EndReason.SHUTDOWN, end_frame(EndNotice.SHUTDOWN))
            assert (await api.post("/api/v1/announcements", json={"message": "fence"})).status_code == 202
            events = await wait_for(page, lambda got: "fence" in announcements(got))
            first, *again = stream_requests(requests)
            assert first["watch"] == [f"report:{report_id}"]
            assert again
            assert all("watch" not in query for query in again)
            assert await page.evaluate("window.failures") == []  # nothing was refused
