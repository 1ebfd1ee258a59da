"""The demo page with groups, two people at once: a report shared from one page is watched live in the other
until it is unshared, a watched report shows who watches it (a page that closes leaves it after the grace),
and an administrator's tenant announcement reaches their tenant's pages only.

Each person has a browser context of their own (their own cookies and tab storage) in one headless Chromium.
"""

import uuid
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Page, Request, expect

from infrastructure.container import Container
from tests.support.browser import ARTIFACTS, BROWSER_TESTS, chromium, tab
from tests.support.demo_page import (
    TIMEOUT_SECONDS,
    LogItem,
    announcements,
    read_log,
    read_rows,
    read_watchers,
    signed_in_as,
    wait_for_log,
    wait_until,
)
from tests.support.server import RunningHerald, serve

pytestmark = BROWSER_TESTS

#: Report steps slow enough that the sharee starts watching while the report is still being made.
STEP_SECONDS = 1.0
#: How long a user whose page closed stays among a report's watchers: short, so the test need not wait long.
GRACE_SECONDS = 0.5
WAIT_MS = TIMEOUT_SECONDS * 1000


@pytest.fixture
async def service(make_container: Callable[..., Container]) -> AsyncIterator[RunningHerald]:
    container = make_container(report_step_seconds=STEP_SECONDS, sse_retry_ms=300, presence_grace_seconds=GRACE_SECONDS)
    async with serve(container) as running:
        yield running


async def opened(page: Page) -> None:
    await page.goto("/")
    await expect(page.locator("#status")).to_have_text("open", timeout=WAIT_MS)


def of_report(log: list[LogItem], report_id: str) -> list[LogItem]:
    return [i for i in log if i.type.startswith("report.") and i.json().get("report_id") == report_id]


def notes(log: list[LogItem], kind: str) -> list[str]:
    """What the page noted of its own doings of ``kind`` (``request sent``, ``shared``, ...)."""
    return [i.data for i in log if i.type == kind]


def presence_changes(log: list[LogItem], report_id: str) -> list[tuple[str, str]]:
    """The joins and leaves of the report's watchers the page received: each event's type and user id."""
    return [
        (i.type, str(i.json()["user_id"]))
        for i in log
        if i.type.startswith("presence.") and i.json()["group_kind"] == "report" and i.json()["group_id"] == report_id
    ]


async def share_a_report(owner: Page, sharee: Page, title: str) -> str:
    """The owner's page requests a report and shares it with the user id the sharee's page shows; its id."""
    await owner.fill("#title", title)
    await owner.click("#request-report")
    log = await wait_for_log(owner, lambda log: bool(notes(log, "request sent")), "the report requested")
    report_id = notes(log, "request sent")[0].removeprefix("report ")
    sharee_id = await sharee.locator("#user").text_content()
    assert sharee_id
    await owner.fill("#share-report", report_id)
    await owner.fill("#share-user", sharee_id)
    await owner.click("#share")
    await wait_for_log(owner, lambda log: notes(log, "shared") == [f"report {report_id} with {sharee_id}"], "the share")
    return report_id


def stream_queries(requests: list[Request]) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(r.url).query) for r in requests if urlsplit(r.url).path == "/api/v1/events"]


async def test_a_report_shared_on_the_page_is_watched_live_by_the_sharee_until_it_is_unshared(
    service: RunningHerald,
) -> None:
    owner, sharee = uuid.uuid4(), uuid.uuid4()
    async with (
        chromium() as browser,
        tab(browser, service.base_url, ARTIFACTS / "demo-page-owner.png", init_script=signed_in_as(owner)) as (a, _),
        tab(browser, service.base_url, ARTIFACTS / "demo-page-sharee.png", init_script=signed_in_as(sharee)) as (b, _),
    ):
        await opened(a)
        await opened(b)
        requests: list[Request] = []
        b.on("request", lambda request: requests.append(request))  # noqa: PLW0108 (Playwright wraps handlers)

        # 1. The owner requests a report and shares it with the user id the sharee's page shows.
        assert await b.locator("#user").text_content() == str(sharee)
        report_id = await share_a_report(a, b, "Shared numbers")

        # 2. The sharee watches it: the page streams on with ?watch=report:<id> and the report's events
        #    arrive live, as on the owner's page, the report's row following them under "Shared with you".
        await b.fill("#watch-report", report_id)
        await b.click("#watch")
        log = await wait_for_log(
            b, lambda log: any(i.type == "report.completed" for i in of_report(log, report_id)), "the report live"
        )
        assert of_report(log, report_id), "the sharee's page got the report's events"
        assert [i.json()["reason"] for i in log if i.type == "stream.reset"] == ["groups_changed"]
        assert len(notes(log, "reports loaded")) == 1  # its own reports went on exactly: not loaded again
        await wait_until(
            lambda: read_rows(b, "#watched"),
            lambda rows: [(r["reportId"], r["status"]) for r in rows] == [(report_id, "completed")],
            "the watched report completed",
        )
        assert await read_rows(b) == []  # not among the sharee's own reports
        assert stream_queries(requests)[-1]["watch"] == [f"report:{report_id}"]
        owner_rows = await read_rows(a)
        assert [(r["reportId"], r["status"]) for r in owner_rows] == [(report_id, "completed")]

        # 3. The owner stops sharing it: the sharee's page is told, the watch ends, and its stream goes on
        #    without it (a watch of it would be refused).
        watching_requests = len(stream_queries(requests))
        await a.click("#unshare")
        log = await wait_for_log(b, lambda log: any(i.type == "stream.unwatched" for i in log), "the watch ending")
        [unwatched] = [i for i in log if i.type == "stream.unwatched"]
        assert {k: unwatched.json()[k] for k in ("kind", "id", "user_id")} == {
            "kind": "report",
            "id": report_id,
            "user_id": str(sharee),
        }
        assert unwatched.id is not None
        await wait_until(lambda: read_rows(b, "#watched"), lambda rows: rows == [], "the watched report gone")
        await expect(b.locator("#no-watched")).to_be_visible()
        await expect(b.locator("#status")).to_have_text("open", timeout=WAIT_MS)
        after = stream_queries(requests)[watching_requests:]
        assert after
        assert all("watch" not in query for query in after)
        assert after[0]["last_event_id"] == [unwatched.id]

        # 4. A fence: a broadcast from the owner's page reaches the sharee's stream, reopened without the watch.
        await a.fill("#message", "after the unshare")
        await a.click("#announce")
        log = await wait_for_log(b, lambda log: "after the unshare" in announcements(log), "the fence")
        assert [i for i in log if i.type == "error"] == []


async def test_a_watched_report_shows_who_watches_it_and_a_page_that_closes_leaves_it(service: RunningHerald) -> None:
    owner, sharee = uuid.uuid4(), uuid.uuid4()
    owner_page, sharee_page = ARTIFACTS / "demo-page-watchers-owner.png", ARTIFACTS / "demo-page-watchers-sharee.png"
    async with (
        chromium() as browser,
        tab(browser, service.base_url, owner_page, init_script=signed_in_as(owner)) as (a, _),
        tab(browser, service.base_url, sharee_page, init_script=signed_in_as(sharee)) as (b, _),
    ):
        await opened(a)
        await opened(b)
        report_id = await share_a_report(a, b, "Watched numbers")

        # 1. The owner watches their own report: it stays among their reports, and its row shows them alone.
        await a.locator(f'#reports li[data-report-id="{report_id}"]').get_by_role("button", name="watch").click()
        alone = [(str(owner), "you")]
        await wait_until(lambda: read_watchers(a, report_id), lambda shown: shown == alone, "the owner watching")
        assert [r["reportId"] for r in await read_rows(a)] == [report_id]
        assert await read_rows(a, "#watched") == []

        # 2. The sharee watches it: they appear in the owner's list (a short id), and each page marks its own user.
        await b.fill("#watch-report", report_id)
        await b.click("#watch")
        both = [(str(owner), "you"), (str(sharee), str(sharee)[:8])]
        await wait_until(lambda: read_watchers(a, report_id), lambda shown: shown == both, "the sharee arriving")
        as_sharee = [(str(sharee), "you"), (str(owner), str(owner)[:8])]
        await wait_until(lambda: read_watchers(b, report_id), lambda shown: shown == as_sharee, "the sharee's list")
        await a.screenshot(path=ARTIFACTS / "demo-page-watchers.png", full_page=True)

        # 3. The sharee closes their page: one grace later they leave the owner's list.
        await b.close()
        await wait_until(lambda: read_watchers(a, report_id), lambda shown: shown == alone, "the sharee gone")
        log = await read_log(a)
        assert presence_changes(log, report_id) == [
            ("presence.joined", str(owner)),
            ("presence.joined", str(sharee)),
            ("presence.left", str(sharee)),
        ]
        assert [i for i in log if i.type == "error"] == []


async def signed_in_to(page: Page, tenant: str) -> None:
    """Sign the page in again as a member of ``tenant``; its stream goes on in the tenant's group."""
    await page.fill("#tenant", tenant)
    await page.click("#sign-in")
    await expect(page.locator("#tenant-now")).to_have_text(tenant, timeout=WAIT_MS)
    await expect(page.locator("#status")).to_have_text("open", timeout=WAIT_MS)


async def test_an_announcement_to_the_admins_tenant_reaches_its_members_pages_only(service: RunningHerald) -> None:
    async with (
        chromium() as browser,
        tab(browser, service.base_url, ARTIFACTS / "demo-page-acme.png") as (acme, _),
        tab(browser, service.base_url, ARTIFACTS / "demo-page-globex.png") as (globex, _),
    ):
        for page, tenant in ((acme, "acme"), (globex, "globex")):
            await opened(page)
            await signed_in_to(page, tenant)

        # The acme administrator announces to their tenant; their own page, an acme member's, shows it.
        await acme.fill("#message", "to acme only")
        await acme.click("#announce-tenant")
        await wait_for_log(acme, lambda log: announcements(log, "tenant.announcement") == ["to acme only"], "it")

        # A later marker both pages see: by the time globex shows it, the tenant's announcement would have too.
        await acme.fill("#message", "to everyone")
        await acme.click("#announce")
        for page in (acme, globex):
            await wait_for_log(page, lambda log: "to everyone" in announcements(log), "the broadcast")
        acme_log, globex_log = await read_log(acme), await read_log(globex)
        assert announcements(acme_log, "tenant.announcement") == ["to acme only"]
        assert announcements(globex_log, "tenant.announcement") == []
        assert announcements(acme_log) == announcements(globex_log) == ["to everyone"]
        for log in (acme_log, globex_log):
            # Joining the tenant's group on a signed-in stream resumed the user's own events exactly.
            assert [i.json()["reason"] for i in log if i.type == "stream.reset"] == ["groups_changed"]
            assert len(notes(log, "reports loaded")) == 1
            assert [i for i in log if i.type == "error"] == []
