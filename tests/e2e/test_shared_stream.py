"""One stream per browser profile: the demo page's tabs of one user share one connection to Herald.

Tabs in one browser context are one profile (one ``localStorage``, one stream cookie, one demo user): the
client elects one of them (a Web Lock) to hold the stream and passes its events to the others (a
BroadcastChannel). The server sees one open stream for the user, every tab sees every event once, and when
the tab holding it closes, another takes over and resumes after the last id any tab saw. Two profiles are
two users, each with a stream of their own.
"""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from infrastructure.container import Container
from tests.integration.helpers import eventually
from tests.support.browser import ARTIFACTS, BROWSER_TESTS, chromium
from tests.support.demo_page import (
    TIMEOUT_SECONDS,
    announcements,
    client_of,
    read_log,
    signed_in_as,
    wait_for_log,
    wait_until,
)
from tests.support.server import RunningHerald, serve

pytestmark = [*BROWSER_TESTS, pytest.mark.timeout(300)]

TABS = 6
WAIT_MS = TIMEOUT_SECONDS * 1000
#: How soon another tab must hold the stream after the one holding it closed.
TAKEOVER_SECONDS = 2.0


@pytest.fixture
async def service(make_container: Callable[..., Container]) -> AsyncIterator[RunningHerald]:
    async with serve(make_container(sse_retry_ms=300, report_step_seconds=0.1)) as running:
        yield running


@pytest.fixture
async def admin(service: RunningHerald) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(service, uuid.uuid4()) as client:
        yield client


@asynccontextmanager
async def profile(browser: Browser, service: RunningHerald, user_id: uuid.UUID) -> AsyncIterator[BrowserContext]:
    """A browser profile signed in to the demo page as ``user_id``; an uncaught page error fails the test."""
    context = await browser.new_context(base_url=service.base_url)
    await context.add_init_script(signed_in_as(user_id))
    errors: list[str] = []
    context.on("page", lambda page: page.on("pageerror", lambda error: errors.append(str(error))))
    try:
        yield context
    finally:
        await context.close()
    assert errors == [], f"a page raised uncaught errors: {errors}"


async def open_tabs(context: BrowserContext, count: int) -> list[Page]:
    pages = []
    for _ in range(count):
        page = await context.new_page()
        await page.goto("/")
        await expect(page.locator("#status")).to_have_text("open", timeout=WAIT_MS)
        pages.append(page)
    return pages


async def role(page: Page) -> str:
    return await page.evaluate("window.heraldStream.role")  # type: ignore[no-any-return]


async def open_streams_metric(service: RunningHerald) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(service.metrics_url)).text
    [line] = [line for line in text.splitlines() if line.startswith("herald_open_streams ")]
    return float(line.split()[1])


async def replayed_after(service: RunningHerald, user: uuid.UUID, position: str, *, until: str) -> list[str]:
    """The announcements the server sends a stream of ``user`` resuming after ``position``, up to ``until``."""
    token = service.container.token_service().issue(user)
    headers = {"Authorization": f"Bearer {token}", "Last-Event-ID": position}
    messages: list[str] = []
    async with (
        httpx.AsyncClient(base_url=service.base_url, timeout=TIMEOUT_SECONDS) as client,
        client.stream("GET", "/api/v1/events?categories=system", headers=headers) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                messages.append(json.loads(line.removeprefix("data:"))["message"])
                if messages[-1] == until:
                    return messages
    return messages


async def announce(admin: httpx.AsyncClient, message: str) -> None:
    response = await admin.post("/api/v1/announcements", json={"message": message})
    assert response.status_code == 202, response.text


async def fence(admin: httpx.AsyncClient, pages: list[Page], message: str) -> None:
    """Announce ``message`` and wait for every page to show it: the stream is ordered, so by then anything
    announced before it has shown too, and a repeat of it would have."""
    await announce(admin, message)
    for page in pages:
        await wait_for_log(page, lambda log: message in announcements(log), f"{message!r}")


async def test_six_tabs_of_one_user_share_one_stream_and_each_sees_every_event_once(
    service: RunningHerald, admin: httpx.AsyncClient
) -> None:
    user = uuid.uuid4()
    async with chromium() as browser, profile(browser, service, user) as context:
        pages = await open_tabs(context, TABS)
        roles = sorted([await role(page) for page in pages])
        assert roles == ["follower"] * (TABS - 1) + ["leader"]
        await wait_until(lambda: open_streams_metric(service), lambda count: count == 1, "one stream open")
        assert len(service.container.stream_hub().streams_of(user)) == 1

        sent = [f"to six tabs {n}" for n in range(20)]
        for message in sent:
            await announce(admin, message)
        await fence(admin, pages, "fence")
        for page in pages:
            log = await read_log(page)
            assert announcements(log) == [*sent, "fence"]
            ids = [item.id for item in log if item.id is not None]
            assert len(ids) == len(set(ids)), "an event showed twice in a tab"
        assert await open_streams_metric(service) == 1
        await pages[0].screenshot(path=ARTIFACTS / "shared-stream-tab.png", full_page=True)


@pytest.mark.parametrize("leaves", ["closes", "crashes"])
async def test_when_the_tab_holding_the_stream_goes_another_takes_over_and_no_tab_misses_or_repeats(
    service: RunningHerald, admin: httpx.AsyncClient, leaves: str
) -> None:
    user = uuid.uuid4()
    hub = service.container.stream_hub()
    async with chromium() as browser, profile(browser, service, user) as context:
        pages = await open_tabs(context, TABS)
        [leader] = [page for page in pages if await role(page) == "leader"]
        others = [page for page in pages if page is not leader]
        [old_stream] = hub.streams_of(user)

        # Announcements keep coming while the leader tab closes, every few milliseconds.
        sent: list[str] = []
        publishing = True

        async def publish() -> None:
            while publishing:
                message = f"steady {len(sent)}"
                await announce(admin, message)
                sent.append(message)
                await asyncio.sleep(0.02)

        publisher = asyncio.create_task(publish())
        await wait_for_log(others[0], lambda log: len(announcements(log)) >= 10, "the first announcements")

        closed = time.monotonic()
        if leaves == "closes":
            await leader.close()
        else:  # its renderer dies: no page event runs, the browser releases its lock and its connection
            session = await context.new_cdp_session(leader)
            crash = asyncio.ensure_future(session.send("Page.crash"))  # answered never: the page is gone
            crash.add_done_callback(lambda done: done.cancelled() or done.exception())

        def taken_over() -> bool:
            streams = hub.streams_of(user)
            return len(streams) == 1 and streams[0] is not old_stream

        async with asyncio.timeout(TIMEOUT_SECONDS):
            while not taken_over():
                await asyncio.sleep(0.005)
        takeover = time.monotonic() - closed
        count_at_takeover = len(sent)
        await eventually(lambda: len(sent) >= count_at_takeover + 20, timeout=TIMEOUT_SECONDS)
        publishing = False
        await publisher

        roles = sorted([await role(page) for page in others])
        assert roles == ["follower"] * (len(others) - 1) + ["leader"]
        await fence(admin, others, "fence")
        for page in others:
            assert announcements(await read_log(page)) == [*sent, "fence"], "a tab missed or repeated an event"
        assert len(hub.streams_of(user)) == 1
        print(f"takeover in Chromium: {takeover * 1000:.0f} ms from the leader tab's end ({leaves}) to the new stream")
        assert takeover < TAKEOVER_SECONDS


async def test_two_users_in_two_profiles_each_have_one_stream_and_only_their_own_events(
    service: RunningHerald, admin: httpx.AsyncClient
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    async with chromium() as browser, AsyncExitStack() as stack:
        alice_pages = await open_tabs(await stack.enter_async_context(profile(browser, service, alice)), 2)
        bob_pages = await open_tabs(await stack.enter_async_context(profile(browser, service, bob)), 2)
        for page, user in [(alice_pages[0], alice), (bob_pages[0], bob)]:
            assert await page.locator("#user").text_content() == str(user)
        hub = service.container.stream_hub()
        assert (len(hub.streams_of(alice)), len(hub.streams_of(bob))) == (1, 1)

        # Alice requests a report from her second tab: both her tabs follow it, and it is seen (read-your-writes).
        await alice_pages[1].click("#request-report")
        log = await wait_for_log(
            alice_pages[1], lambda log: any(i.type == "request seen" for i in log), "the request seen on the stream"
        )
        [note] = [i.data for i in log if i.type == "request seen"]
        report_id = note.removeprefix("report ")
        requested = [i for i in log if i.type == "report.requested" and i.json()["report_id"] == report_id]
        assert requested, "seen() resolved before the report's event had shown"
        assert log.index(requested[0]) < log.index(next(i for i in log if i.type == "request seen"))
        for page in alice_pages:
            await wait_for_log(
                page, lambda log: any(i.type == "report.completed" for i in log), "Alice's report completed"
            )

        await fence(admin, [*alice_pages, *bob_pages], "fence")
        for page in bob_pages:
            assert [i.type for i in await read_log(page) if i.type.startswith("report.")] == []
        assert (len(hub.streams_of(alice)), len(hub.streams_of(bob))) == (1, 1)


async def test_seen_resolves_for_the_events_of_a_post_at_once_when_already_seen_and_rejects_on_timeout(
    service: RunningHerald,
) -> None:
    user = uuid.uuid4()
    async with chromium() as browser, profile(browser, service, user) as context:
        [leader, follower] = await open_tabs(context, 2)
        assert await role(follower) == "follower"
        # In the follower tab: POST a report, then wait for its events by the ids the POST returned.
        outcome = await follower.evaluate(
            """async () => {
              const response = await fetch('/api/v1/reports', {method: 'POST', headers: {
                'Content-Type': 'application/json', Authorization: `Bearer ${window.accessToken}`},
                body: JSON.stringify({title: 'read your writes'})});
              const {event_ids} = await response.json();
              await Promise.all(event_ids.map((id) => window.heraldStream.seen(id, {timeout: 10000})));
              const shown = [...document.querySelectorAll('#log li')].map((li) => li.lastElementChild.textContent);
              const again = await Promise.race([window.heraldStream.seen(event_ids[0], {timeout: 10000})
                .then(() => 'at once'), new Promise((resolve) => setTimeout(() => resolve('late'), 0))]);
              const never = await window.heraldStream.seen(crypto.randomUUID(), {timeout: 100})
                .then(() => 'seen', (error) => error.message);
              return {event_ids, shown, again, never};
            }"""
        )
        assert len(outcome["event_ids"]) == 1
        assert any(outcome["event_ids"][0] in text for text in outcome["shown"]), "seen() before the page showed it"
        assert outcome["again"] == "at once"
        assert "was not seen within 100 ms" in outcome["never"]
        # The leader tab saw it too: the write's events reach every tab of the user.
        await wait_until(
            lambda: leader.evaluate(f"window.heraldStream.seen('{outcome['event_ids'][0]}', {{timeout: 5000}})"),
            lambda _: True,
            "the leader tab seeing it",
        )


async def test_a_tab_that_opens_while_events_flow_sees_them_in_order_from_its_position_none_twice(
    service: RunningHerald, admin: httpx.AsyncClient
) -> None:
    user = uuid.uuid4()
    async with chromium() as browser, profile(browser, service, user) as context:
        [first] = await open_tabs(context, 1)
        sent: list[str] = []
        publishing = True

        async def publish() -> None:
            while publishing:
                message = f"flowing {len(sent)}"
                await announce(admin, message)
                sent.append(message)
                await asyncio.sleep(0.01)

        publisher = asyncio.create_task(publish())
        await eventually(lambda: len(sent) >= 20, timeout=TIMEOUT_SECONDS)
        [late] = await open_tabs(context, 1)  # joins the first tab's stream from its own snapshot's position
        joined_at = len(sent)
        await eventually(lambda: len(sent) >= joined_at + 20, timeout=TIMEOUT_SECONDS)
        publishing = False
        await publisher
        await fence(admin, [first, late], "fence")

        assert await role(late) == "follower"
        assert announcements(await read_log(first)) == [*sent, "fence"]
        shown = announcements(await read_log(late))
        # A tail of what was sent, in order, none twice: from the position the late tab loaded its reports at.
        assert shown == [*sent, "fence"][len(sent) + 1 - len(shown) :], shown
        # ... and no gap: exactly what the server itself replays after the position the tab's snapshot gave.
        [loaded] = [i.data for i in await read_log(late) if i.type == "reports loaded"]
        position = loaded.rsplit("streaming on from ", 1)[1]
        assert shown == await replayed_after(service, user, position, until="fence")
