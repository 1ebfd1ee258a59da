"""The demo page in a real browser: a report arrives live, and a stream ended by the server resumes by itself.

Headless Chromium (Debian's, not a Playwright download) is driven with Playwright's
async API in the same event loop as the Herald that ``serve`` runs, so the test can
end streams and publish events server-side while the page stays open. Where the
server behind the page is stopped and another started, the page talks to a relay
(as to a load balancer), so its origin stays the same whichever server answers.
"""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Page, Request, expect

from infrastructure.container import Container
from infrastructure.streams.inbox import EndReason
from tests.support.browser import ARTIFACTS, BROWSER_TESTS, browse
from tests.support.demo_page import (
    TIMEOUT_SECONDS,
    LogItem,
    announcements,
    client_of,
    read_log,
    read_rows,
    signed_in_as,
    wait_for_log,
    wait_until,
)
from tests.support.relay import relay
from tests.support.server import RunningHerald, serve

SCREENSHOT = ARTIFACTS / "demo-page.png"
RESTART_SCREENSHOT = ARTIFACTS / "demo-page-restart.png"
#: Short, so the browser's own reconnect after the server ends the stream comes quickly.
RETRY_MS = 300
REPORT_SEQUENCE = ["report.requested", "report.progress", "report.progress", "report.progress", "report.completed"]
ANNOUNCEMENTS = [f"announcement {n}, published after the stream was ended" for n in range(1, 7)]
#: Report steps slow enough to watch a report move.
STEP_SECONDS = 0.4
FINAL = {"completed", "failed"}

pytestmark = BROWSER_TESTS


# -- a browser, clients and a relay --------------------------------------------


@asynccontextmanager
async def browse_as(base_url: str, screenshot: Path, *, user_id: uuid.UUID | None = None) -> AsyncIterator[Page]:
    """A fresh browser on ``base_url``; with ``user_id`` the page signs in as that user, so the test can make
    that user's reports through the API."""
    script = None if user_id is None else signed_in_as(user_id)
    async with browse(base_url, screenshot, init_script=script) as (page, _):
        yield page


# -- fixtures ------------------------------------------------------------------


@pytest.fixture
async def service(make_container: Callable[..., Container]) -> AsyncIterator[RunningHerald]:
    async with serve(make_container(sse_retry_ms=RETRY_MS)) as running:
        yield running


@pytest.fixture
async def page(service: RunningHerald) -> AsyncIterator[Page]:
    """A fresh browser on the served Herald."""
    async with browse_as(service.base_url, SCREENSHOT) as page:
        yield page


@pytest.fixture
async def admin(service: RunningHerald) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client with an administrator's token, to publish announcements from outside the page."""
    async with client_of(service, uuid.uuid4()) as client:
        yield client


# -- helpers -------------------------------------------------------------------


def rows_of(reports: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The rows the page should show for ``reports``, as ``GET /api/v1/reports`` lists them."""
    return [
        {"reportId": r["report_id"], "version": str(r["version"]), "status": r["status"], "percent": str(r["percent"])}
        for r in reports
    ]


async def wait_for_rows(page: Page, expected: list[dict[str, str]], what: str) -> None:
    await wait_until(lambda: read_rows(page), lambda rows: rows == expected, what)


async def wait_for_row(page: Page, report_id: str, done: Callable[[dict[str, str]], bool], what: str) -> None:
    """Poll the report's row until ``done`` holds of its ``data-*`` attributes."""

    def row_done(rows: list[dict[str, str]]) -> bool:
        return any(row["reportId"] == report_id and done(row) for row in rows)

    await wait_until(lambda: read_rows(page), row_done, what)


async def request_report(client: httpx.AsyncClient, title: str) -> str:
    response = await client.post("/api/v1/reports", json={"title": title})
    assert response.status_code == 202, response.text
    return str(response.json()["report_id"])


async def stored_reports(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The user's reports as the server has them, newest first."""
    response = await client.get("/api/v1/reports")
    assert response.status_code == 200, response.text
    return response.json()["reports"]  # type: ignore[no-any-return]


def all_finished(count: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda reports: len(reports) == count and all(r["status"] in FINAL for r in reports)


def report_events(log: list[LogItem], report_id: str) -> list[LogItem]:
    """The events of one report, in the order the page received them."""
    return [i for i in log if i.type.startswith("report.") and i.json().get("report_id") == report_id]


def by_version(events: list[LogItem]) -> list[LogItem]:
    """A report's events in the order of its changes, which is not always the order they arrive in."""
    return sorted(events, key=lambda i: cast("int", i.json()["version"]))


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
    service: RunningHerald, page: Page, admin: httpx.AsyncClient
) -> None:
    status = page.locator("#status")
    await page.goto("/")
    await expect(status).to_have_text("open", timeout=TIMEOUT_SECONDS * 1000)

    # 1. A report requested with the button arrives live, every step once. In order of version:
    #    report.progress is published as soon as it is saved, the others through the outbox,
    #    so a progress may arrive before the report.requested.
    await page.click("#request-report")
    log = await wait_for_log(page, lambda log: has_finished(requested_report(log)), "the requested report finishing")
    report = by_version(requested_report(log))
    assert [i.type for i in report] == REPORT_SEQUENCE
    assert [i.json()["percent"] for i in report if i.type == "report.progress"] == [25, 50, 75]
    last_seen_id = [i.id for i in log if i.id is not None][-1]

    # 2. The server ends the stream (as on shutdown) and announcements are published while the
    #    browser is away: two before it reconnects, two while it does, two once it is back.
    #    Wherever each one falls, it must show once.
    before, during, after = ANNOUNCEMENTS[:2], ANNOUNCEMENTS[2:4], ANNOUNCEMENTS[4:]
    async with page.expect_request(is_stream_request, timeout=TIMEOUT_SECONDS * 1000) as reconnect:
        service.container.stream_hub().end_all(EndReason.SHUTDOWN)
        for message in before:
            await announce(admin, message)
    request = await reconnect.value
    for message in during:
        await announce(admin, message)
    # The client reconnected by itself and asked to resume after the last event it had.
    assert parse_qs(urlsplit(request.url).query)["last_event_id"] == [last_seen_id]
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
    streamed = [i for i in log if i.id is not None]
    assert streamed[: len(REPORT_SEQUENCE)] == requested_report(log)
    assert [i.type for i in streamed[len(REPORT_SEQUENCE) :]] == ["system.announcement"] * (len(ANNOUNCEMENTS) + 1)
    await expect(status).to_have_text("open")


async def test_the_demo_page_signs_in_again_when_its_session_is_revoked_and_misses_nothing(
    service: RunningHerald, page: Page, admin: httpx.AsyncClient
) -> None:
    status = page.locator("#status")
    await page.goto("/")
    await expect(status).to_have_text("open", timeout=TIMEOUT_SECONDS * 1000)
    await announce(admin, "before the revocation")
    await wait_for_log(page, lambda log: "before the revocation" in announcements(log), "the first announcement")

    # Log the page's session out from outside, as an administrator would.
    page_token = await page.evaluate("accessToken")
    session_id = service.container.token_service().verify(page_token).session_id
    response = await admin.delete(f"/api/v1/sessions/{session_id}")
    assert response.status_code == 204
    await announce(admin, "while signing in again")

    log = await wait_for_log(page, lambda log: "while signing in again" in announcements(log), "the second one")
    ends = [i.json()["reason"] for i in log if i.type == "stream.end"]
    assert ends == ["session_revoked"]  # the page was told why, and signed in again with a new session
    assert announcements(log) == ["before the revocation", "while signing in again"]
    await expect(status).to_have_text("open")
    assert await page.evaluate("accessToken") != page_token


async def test_the_demo_page_shows_the_stored_reports_follows_them_live_and_reloads_them_after_a_restart(
    make_container: Callable[..., Container], tmp_path: Path
) -> None:
    settings = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'herald.sqlite3'}",
        "report_step_seconds": STEP_SECONDS,
        "sse_retry_ms": RETRY_MS,
    }
    user_id = uuid.uuid4()
    async with relay() as gateway, browse_as(gateway.base_url, RESTART_SCREENSHOT, user_id=user_id) as page:
        status = page.locator("#status")
        async with serve(make_container(**settings)) as first, client_of(first, user_id) as api:
            gateway.upstream = first

            # 1. A report that finished before the page opened is listed as stored.
            await request_report(api, "made before the page opened")
            stored = await wait_until(lambda: stored_reports(api), all_finished(1), "the first report finished")
            await page.goto("/")
            await expect(status).to_have_text("open", timeout=TIMEOUT_SECONDS * 1000)
            await wait_for_rows(page, rows_of(stored), "the stored report listed")

            # 2. A report requested with the button shows its progress live, then its completion.
            await page.click("#request-report")
            log = await wait_for_log(page, lambda log: any(i.type == "request sent" for i in log), "the request sent")
            live = next(i.data.removeprefix("report ") for i in log if i.type == "request sent")
            await wait_for_row(page, live, lambda row: 0 < int(row["percent"]) < 100, "the new report in progress")
            await wait_for_row(page, live, lambda row: row["status"] == "completed", "the new report completed")

            # 3. With the outbox relay stopped, report.requested and report.completed wait in the
            #    database while report.progress goes out at once: the page gets a report's progress
            #    before its report.requested, takes the report from the API and follows it from there.
            #    The report is completed, but the page cannot know: what it shows is out of date.
            relay_stopped = first.container.outbox_relay_lifetime.shutdown()
            assert relay_stopped is not None
            await relay_stopped
            overtaken = await request_report(api, "its progress overtakes its request")
            await wait_for_row(page, overtaken, lambda row: row["version"] == "4", "the third report's last progress")
            await wait_until(lambda: stored_reports(api), all_finished(3), "the third report finished")
            await expect(page.locator(f'#reports li[data-report-id="{overtaken}"] .title')).to_have_text(
                "its progress overtakes its request"
            )
            assert [i.type for i in report_events(await read_log(page), overtaken)] == ["report.progress"] * 3
            gateway.upstream = None
        await expect(status).to_have_text("reconnecting…", timeout=TIMEOUT_SECONDS * 1000)
        shown_while_down = await read_rows(page)
        assert {"reportId": overtaken, "version": "4", "status": "in_progress", "percent": "75"} in shown_while_down

        # 4. A new server on the same database (it relays what the stopped one left in the outbox).
        #    Before the page can reach it, one more report is made and finished there.
        async with serve(make_container(**settings)) as second, client_of(second, user_id) as api:
            made_meanwhile = await request_report(api, "made while the page cannot reach the server")
            stored = await wait_until(lambda: stored_reports(api), all_finished(4), "four reports finished")
            assert await read_rows(page) == shown_while_down
            assert made_meanwhile not in {row["reportId"] for row in shown_while_down}

            # 5. The page's position means nothing to the new server: it says so (stream.reset),
            #    and the page loads the reports again and streams on from the new position.
            gateway.upstream = second
            log = await wait_for_log(page, lambda log: any(i.type == "stream.reset" for i in log), "a stream.reset")
            assert [i.json()["reason"] for i in log if i.type == "stream.reset"] == ["unknown_position"]
            await wait_for_rows(page, rows_of(stored), "the stored reports, reloaded")
            await expect(status).to_have_text("open", timeout=TIMEOUT_SECONDS * 1000)

            # 6. It streams on live from there: a report requested now shows up, finished, once.
            await page.click("#request-report")
            stored = await wait_until(lambda: stored_reports(api), all_finished(5), "five reports finished")
            await wait_for_rows(page, rows_of(stored), "the stored reports, the new one finished")
