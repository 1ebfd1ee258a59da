"""Headless Chromium for browser tests: Debian's binary driven by Playwright's async API (no browser download)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.support.prerequisites import require

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
#: Where screenshots go, to look at after a run.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

#: The marks of a module of browser tests: Debian's Chromium, installed before the run (or the test fails naming it).
BROWSER_TESTS = [pytest.mark.needs("chromium")]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless Chromium, closed when the block ends; open a tab in it for each user with :func:`tab`."""
    require("chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def tab(
    browser: Browser, base_url: str, screenshot: Path, *, init_script: str | None = None
) -> AsyncIterator[tuple[Page, BrowserContext]]:
    """A page on ``base_url`` in a context of its own (its own cookies and storage, as another person's
    browser); its screenshot is saved whatever the outcome (unless the test closed the page, as a person
    closes a tab), and an uncaught error in the page fails the test."""
    context = await browser.new_context(base_url=base_url)
    try:
        if init_script is not None:
            await context.add_init_script(init_script)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            yield page, context
        finally:
            if not page.is_closed():
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=screenshot, full_page=True)
        assert errors == [], f"the page raised uncaught errors: {errors}"
    finally:
        await context.close()


@asynccontextmanager
async def browse(
    base_url: str, screenshot: Path, *, init_script: str | None = None
) -> AsyncIterator[tuple[Page, BrowserContext]]:
    """A fresh browser on ``base_url``, its page and context (see :func:`tab`)."""
    async with chromium() as browser, tab(browser, base_url, screenshot, init_script=init_script) as opened:
        yield opened
