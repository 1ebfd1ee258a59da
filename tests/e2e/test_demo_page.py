"""The demo page in a real browser: a report arrives live, and a stream ended by the server resumes by itself.

Headless Chromium (Debian's, not a Playwright download) is driven with Playwright's
async API in the same event loop as the Herald that ``serve`` runs, so the test can
end streams and publish events server-side while the page stays open.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import attrs
import httpx
import pytest

from infrastructure.container import Container
from infrastructure.streams.inbox import EndReason
from tests.support.server import RunningHerald, serve

CHROMIUM = Path("/usr/bin/chromium")
#: Headless in a container: no sandbox, no GPU, and nothing that phones home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "test-artifacts" / "demo-page.png"
#: Generous, because a cold browser on a busy machine is slow; never a measurement.
TIMEOUT_SECONDS = 20.0
#: Short, so the browser's own reconnect after the server ends the stream comes quickly.
RETRY_MS = 300
REPORT_SEQUENCE = ["report.requested", "report.progress", "report.progress", "report.progress", "report.completed"]
ANNOUNCEMENTS = [f"announcement {n}, published after the stream was ended" for n in range(1, 7)]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]
pytest.importorskip("playwright", reason="needs the playwright package (pip install playwright)")

from playwright.async_api import Page, Request, async_playwright, expect  # noqa: E402


@attrs.frozen
class LogItem:
    """One ``<li>`` of the page's ``#log``: what the page showed for an event (or a note of its own)."""

    type: str
    id: str | None
    data: str

    def json(self) -> dict[str, object]:
        return json.loads(self.data)  # type: ignore[no-any-return]


# -- fixtures ------------------------------------------------------------------


@pytest.fixture
async def herald(make_container: Callable[..., Container]) -> AsyncIterator[RunningHerald]:
    async with serve(make_container(sse_retry_ms=RETRY_MS)) as running:
        yield running


@pytest.fixture
async def page(herald: RunningHerald) -> AsyncIterator[Page]:
    """A fresh browser on the served Herald; its screenshot is saved whatever the outcome, to look at later."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(base_url=herald.base_url)
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=SCREENSHOT, full_page=True)
            assert errors == [], "the page raised uncaught errors"
        finally:
            await browser.close()


@pytest.fixture
async def admin(herald: RunningHerald) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client with an administrator's token, to publish announcements from outside the page."""
    token = herald.container.token_service().issue(uuid.uuid4(), ["admin"])
    async with httpx.AsyncClient(
        base_url=herald.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_SECONDS
    ) as client:
        yield client


# -- helpers -------------------------------------------------------------------


async def read_log(page: Page) -> list[LogItem]:
    """The log oldest first: the page prepends each item, so the DOM order is newest first."""
    items = await page.locator("#log li").evaluate_all(
        "items => items.map(li => ({type: li.dataset.type, id: li.dataset.id ?? null,"
        " data: li.lastElementChild.textContent}))"
    )
    return [LogItem(**item) for item in reversed(items)]


async def wait_for_log(page: Page, done: Callable[[list[LogItem]], bool], what: str) -> list[LogItem]:
    """Poll the log until ``done`` holds; on timeout fail with what the log did show."""
    log: list[LogItem] = []
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            while not done(log := await read_log(page)):
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"the log never showed {what}; it shows {[(i.type, i.id, i.data) for i in log]}")
    return log


def report_events(log: list[LogItem], report_id: str) -> list[LogItem]:
    """The events of one report, in the order the page received them."""
    return [i for i in log if i.type.startswith("report.") and i.json().get("report_id") == report_id]


def announcements(log: list[LogItem]) -> list[str]:
    """The announced messages, in the order the page received them."""
    return [str(i.json()["message"]) for i in log if i.type == "system.announcement"]


def requested_report(log: list[LogItem]) -> list[LogItem]:
    """The events of the report the button asked for; none until its POST has answered.

    The page notes ``report <id>`` when POST /api/v1/reports answers, which may
    come before or after the report's first events: the id is what ties them.
    """
    notes = [i.data.removeprefix("report ") for i in log if i.type == "request sent"]
    return report_events(log, notes[-1]) if notes else []


def has_finished(report: list[LogItem]) -> bool:
    return any(i.type in {"report.completed", "report.failed"} for i in report)


def is_stream_request(request: Request) -> bool:
    return request.url.split("?")[0].endswith("/api/v1/events")


async def announce(admin: httpx.AsyncClient, message: str) -> None:
    response = await admin.post("/api/v1/announcements", json={"message": message})
    assert response.status_code == 202, response.text


# -- the test ------------------------------------------------------------------


async def test_the_demo_page_shows_a_report_live_and_resumes_by_itself_after_the_server_ends_its_stream(
    herald: RunningHerald, page: Page, admin: httpx.AsyncClient
) -> None:
    status = page.locator("#status")
    await page.goto("/")
    await expect(status).to_have_text("open", timeout=TIMEOUT_SECONDS * 1000)

    # 1. A report requested with the button arrives live, every step once and in order.
    await page.click("#request-report")
    log = await wait_for_log(page, lambda log: has_finished(requested_report(log)), "the requested report finishing")
    report = requested_report(log)
    assert [i.type for i in report] == REPORT_SEQUENCE
    assert [i.json()["percent"] for i in report if i.type == "report.progress"] == [25, 50, 75]
    last_seen_id = report[-1].id
    assert last_seen_id is not None

    # 2. The server ends the stream (as on shutdown) and announcements are published while the
    #    browser is away: two before it reconnects, two while it does, two once it is back.
    #    Wherever each one falls, it must show once.
    before, during, after = ANNOUNCEMENTS[:2], ANNOUNCEMENTS[2:4], ANNOUNCEMENTS[4:]
    async with page.expect_request(is_stream_request, timeout=TIMEOUT_SECONDS * 1000) as reconnect:
        herald.container.stream_hub().end_all(EndReason.SHUTDOWN)
        for message in before:
            await announce(admin, message)
    request = await reconnect.value
    for message in during:
        await announce(admin, message)
    # EventSource reconnected by itself and asked to resume after the last event it had.
    assert await request.header_value("last-event-id") == last_seen_id
    await expect(status).to_have_text("open", timeout=TIMEOUT_SECONDS * 1000)
    for message in after:
        await announce(admin, message)

    # 3. A fence: the stream is ordered, so once the last announcement shows, any duplicate
    #    or straggler of the earlier ones would already be in the log.
    fence = "the fence, published once the stream is back"
    await announce(admin, fence)
    log = await wait_for_log(page, lambda log: fence in announcements(log), "the fence announcement")

    assert announcements(log) == [*ANNOUNCEMENTS, fence]
    ids = [i.id for i in log if i.id is not None]
    assert len(ids) == len(set(ids)), f"an event id shows twice: {ids}"
    assert [i.type for i in log if i.id is not None] == REPORT_SEQUENCE + ["system.announcement"] * (
        len(ANNOUNCEMENTS) + 1
    )
    await expect(status).to_have_text("open")


async def test_the_demo_page_signs_in_again_when_its_session_is_revoked_and_misses_nothing(
    herald: RunningHerald, page: Page, admin: httpx.AsyncClient
) -> None:
    status = page.locator("#status")
    await page.goto("/")
    await expect(status).to_have_text("open", timeout=TIMEOUT_SECONDS * 1000)
    await announce(admin, "before the revocation")
    await wait_for_log(page, lambda log: "before the revocation" in announcements(log), "the first announcement")

    # Log the page's session out from outside, as an administrator would.
    page_token = await page.evaluate("accessToken")
    session_id = herald.container.token_service().verify(page_token).session_id
    response = await admin.delete(f"/api/v1/sessions/{session_id}")
    assert response.status_code == 204
    await announce(admin, "while signing in again")

    log = await wait_for_log(page, lambda log: "while signing in again" in announcements(log), "the second one")
    ends = [i.json()["reason"] for i in log if i.type == "stream.end"]
    assert ends == ["session_revoked"]  # the page was told why, and signed in again with a new session
    assert announcements(log) == ["before the revocation", "while signing in again"]
    await expect(status).to_have_text("open")
    assert await page.evaluate("accessToken") != page_token
