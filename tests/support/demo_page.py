"""Reading the demo page in a browser test: its log, its report rows, and waiting for either to show something."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import attrs
import httpx
import pytest
from playwright.async_api import Page

from tests.support.server import RunningHerald

#: Generous, because a cold browser on a busy machine is slow; never a measurement.
TIMEOUT_SECONDS = 20.0

T = TypeVar("T")


@attrs.frozen
class LogItem:
    """One ``<li>`` of the page's ``#log``: what the page showed for an event (or a note of its own)."""

    type: str
    id: str | None
    data: str

    def json(self) -> dict[str, object]:
        return json.loads(self.data)  # type: ignore[no-any-return]


def signed_in_as(user_id: uuid.UUID) -> str:
    """An init script after which the page signs in as ``user_id`` (a browser profile keeps its demo user in
    ``localStorage``: its tabs are one user). A new tab's ``about:blank`` has no storage: it is left alone."""
    return f"if (location.protocol.startsWith('http')) localStorage.setItem('herald.user', '{user_id}')"


@asynccontextmanager
async def client_of(service: RunningHerald, user_id: uuid.UUID) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of ``herald`` with a token of ``user_id``, an administrator (as the page's user is)."""
    token = service.container.token_service().issue(user_id, ["admin"])
    async with httpx.AsyncClient(
        base_url=service.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_SECONDS
    ) as client:
        yield client


async def read_log(page: Page) -> list[LogItem]:
    """The log oldest first: the page prepends each item, so the DOM order is newest first."""
    items = await page.locator("#log li").evaluate_all(
        "items => items.map(li => ({type: li.dataset.type, id: li.dataset.id ?? null,"
        " data: li.lastElementChild.textContent}))"
    )
    return [LogItem(**item) for item in reversed(items)]


async def wait_until(read: Callable[[], Awaitable[T]], done: Callable[[T], bool], what: str) -> T:
    """Poll ``read`` until ``done`` holds of what it returns; on timeout fail with what it returned last."""
    value: T | None = None
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            while True:
                value = await read()
                if done(value):
                    return value
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"never saw {what}; last saw {value!r}")


async def wait_for_log(page: Page, done: Callable[[list[LogItem]], bool], what: str) -> list[LogItem]:
    """Poll the log until ``done`` holds; on timeout fail with what the log did show."""
    return await wait_until(lambda: read_log(page), done, f"the log showing {what}")


async def read_rows(page: Page, where: str = "#reports") -> list[dict[str, str]]:
    """The reports a list of the page shows (its own: ``#reports``), top to bottom: each row's ``data-*``."""
    return await page.locator(f"{where} li").evaluate_all("rows => rows.map(row => ({...row.dataset}))")  # type: ignore[no-any-return]


async def read_watchers(page: Page, report_id: str) -> list[tuple[str, str]]:
    """Who the row of a watched report shows watching it, in its order: each user's id and what the page
    shows for them (``you`` for its own user, a short id for the others)."""
    chips = page.locator(f'li[data-report-id="{report_id}"] .watchers code')
    shown = await chips.evaluate_all("chips => chips.map(chip => [chip.dataset.userId, chip.textContent])")
    return [(user_id, text) for user_id, text in shown]


def announcements(log: list[LogItem], event_type: str = "system.announcement") -> list[str]:
    """The announced messages, in the order the page received them."""
    return [str(i.json()["message"]) for i in log if i.type == event_type]
