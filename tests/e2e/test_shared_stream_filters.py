"""Tabs with different filters share one stream, and each sees only what its own filter asks for; a browser
without Web Locks gets a stream per tab.

The client's built bundle runs in a page the test serves on Herald's origin (so the tabs share its storage,
its locks and its BroadcastChannel); each tab names its own ``categories`` and ``watch`` in its address.
"""

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, Route

from infrastructure.container import Container
from tests.support.browser import BROWSER_TESTS, chromium
from tests.support.demo_page import TIMEOUT_SECONDS, client_of, wait_until
from tests.support.server import RunningHerald, serve

pytestmark = [*BROWSER_TESTS, pytest.mark.timeout(300)]

PAGE_PATH = "/__tabs/page.html"
#: Report steps slow enough that the tabs are open before the shared report completes.
STEP_SECONDS = 1.0
PAGE = """<!doctype html>
<title>a tab</title>
<script type="module">
import { EVENT_NAMES, HeraldStream } from '/static/herald-client.js';

const query = new URLSearchParams(location.search);
const headers = { Authorization: `Bearer ${query.get('token')}` };
const cookie = await fetch('/api/v1/events/cookie', { method: 'POST', headers });
if (!cookie.ok) throw new Error(`no stream cookie: ${cookie.status}`);
window.received = [];
const stream = window.stream = new HeraldStream({
  baseUrl: location.origin,
  user: query.get('user'),
  categories: query.get('categories')?.split(','),
  watch: query.getAll('watch'),
});
for (const name of EVENT_NAMES) {
  stream.on(name, (payload, meta) => window.received.push({ name, id: meta.id ?? null, payload }));
}
await stream.open();
window.opened = true;
</script>
"""
#: Makes the browser one without Web Locks, as some embedded ones are.
WITHOUT_LOCKS = "Object.defineProperty(Navigator.prototype, 'locks', { value: undefined })"


@pytest.fixture
async def service(make_container: Callable[..., Container]) -> AsyncIterator[RunningHerald]:
    async with serve(make_container(sse_retry_ms=300, report_step_seconds=STEP_SECONDS)) as running:
        yield running


async def answer_page(route: Route) -> None:
    await route.fulfill(body=PAGE, content_type="text/html")


async def open_tab(context: BrowserContext, service: RunningHerald, user: uuid.UUID, **query: Any) -> Page:
    page = await context.new_page()
    token = service.container.token_service().issue(user, ["admin"])
    await page.goto(f"{PAGE_PATH}?{urlencode({'token': token, 'user': str(user), **query}, doseq=True)}")
    await page.wait_for_function("window.opened === true", timeout=TIMEOUT_SECONDS * 1000)
    return page


async def received(page: Page) -> list[dict[str, Any]]:
    return await page.evaluate("window.received")  # type: ignore[no-any-return]


def messages(events: list[dict[str, Any]]) -> list[str]:
    return [event["payload"]["message"] for event in events if event["name"] == "system.announcement"]


def reports(events: list[dict[str, Any]]) -> set[str]:
    return {event["payload"]["report_id"] for event in events if event["name"].startswith("report.")}


async def fence(admin: httpx.AsyncClient, pages: list[Page], message: str) -> None:
    assert (await admin.post("/api/v1/announcements", json={"message": message})).status_code == 202
    for page in pages:
        await wait_until(lambda page=page: received(page), lambda got: message in messages(got), message)


async def test_each_tab_sees_what_its_own_filter_asks_for_from_the_one_shared_stream(service: RunningHerald) -> None:
    user, owner = uuid.uuid4(), uuid.uuid4()
    hub = service.container.stream_hub()
    async with client_of(service, owner) as as_owner, client_of(service, user) as as_user, chromium() as browser:
        # Another user's report, shared with this one.
        shared = (await as_owner.post("/api/v1/reports", json={"title": "shared"})).json()["report_id"]
        response = await as_owner.post(f"/api/v1/reports/{shared}/shares", json={"user_id": str(user)})
        assert response.status_code == 201

        context = await browser.new_context(base_url=service.base_url)
        await context.route(f"{service.base_url}{PAGE_PATH}*", answer_page)
        watching = await open_tab(context, service, user, watch=f"report:{shared}")
        system = await open_tab(context, service, user, categories="system")
        everything = await open_tab(context, service, user)
        tabs = [system, everything, watching]
        roles = sorted([await page.evaluate("window.stream.role") for page in tabs])
        assert roles == ["follower", "follower", "leader"]

        own = (await as_user.post("/api/v1/reports", json={"title": "own"})).json()["report_id"]
        for page, report_id in [(watching, shared), (everything, own), (watching, own)]:
            await wait_until(
                lambda page=page: received(page),
                lambda got, report_id=report_id: any(
                    e["name"] == "report.completed" and e["payload"]["report_id"] == report_id for e in got
                ),
                f"report {report_id} completed",
            )
        await fence(as_owner, tabs, "fence")
        assert len(hub.streams_of(user)) == 1
        assert [e["name"] for e in await received(system)] == ["system.announcement"]  # categories=system
        assert reports(await received(everything)) == {own}  # not the report another tab watches
        assert reports(await received(watching)) == {shared, own}
        for page in tabs:
            ids = [e["id"] for e in await received(page) if e["id"] is not None]
            assert len(ids) == len(set(ids))

        # The owner stops sharing it: the watching tab is told and stops watching; the shared stream goes on
        # without the watch (which would now be refused), still one stream.
        assert (await as_owner.delete(f"/api/v1/reports/{shared}/shares/{user}")).status_code == 204
        await wait_until(
            lambda: received(watching), lambda got: any(e["name"] == "stream.unwatched" for e in got), "unwatched"
        )
        assert await watching.evaluate("window.stream.watching") == []
        assert [e["name"] for e in await received(everything) if e["name"] == "stream.unwatched"] == []
        await fence(as_owner, tabs, "after the unshare")
        assert len(hub.streams_of(user)) == 1
        for page in tabs:
            assert messages(await received(page)) == ["fence", "after the unshare"]
        await context.close()


async def test_without_web_locks_each_tab_has_a_stream_of_its_own(service: RunningHerald) -> None:
    user = uuid.uuid4()
    hub = service.container.stream_hub()
    async with client_of(service, user) as admin, chromium() as browser:
        context = await browser.new_context(base_url=service.base_url)
        await context.add_init_script(WITHOUT_LOCKS)
        await context.route(f"{service.base_url}{PAGE_PATH}*", answer_page)
        tabs = [await open_tab(context, service, user) for _ in range(2)]
        assert [await page.evaluate("window.stream.role") for page in tabs] == ["alone", "alone"]
        await fence(admin, tabs, "to each tab")
        assert len(hub.streams_of(user)) == 2
        for page in tabs:
            assert messages(await received(page)) == ["to each tab"]
        assert urlsplit(tabs[0].url).path == PAGE_PATH
        await context.close()
