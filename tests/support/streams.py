"""Read SSE streams in the background and wait for what they deliver."""

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Self

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse

from tests.support.sse import is_retry_hint, is_undispatched


class StreamReader:
    """One open stream: ``events`` grows as messages arrive (retry hints left out).

    Entering returns once the response headers are in, which is when Herald
    has registered the subscription.
    """

    def __init__(self, client: httpx.AsyncClient, url: str, *, headers: dict[str, str] | None = None) -> None:
        self._client = client
        self._url = url
        self._headers = headers or {}
        self.events: list[ServerSentEvent] = []
        self.retry: int | None = None
        self.response: httpx.Response | None = None
        self.ended = asyncio.Event()
        self._opened = asyncio.Event()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._read())
        opened = asyncio.create_task(self._opened.wait())
        # Generous: hundreds of streams may be opened at once on a busy machine.
        await asyncio.wait({opened, self._task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        opened.cancel()
        if not self._opened.is_set():
            if self._task.done():
                self._task.result()
            raise TimeoutError("the stream did not open")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Drop the connection, as a closed browser tab would."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _read(self) -> None:
        try:
            async with aconnect_sse(self._client, "GET", self._url, headers=self._headers) as source:
                self.response = source.response
                self._opened.set()
                if source.response.status_code != 200:
                    return
                async for event in source.aiter_sse():
                    if is_retry_hint(event):
                        self.retry = event.retry
                        continue
                    if is_undispatched(event):
                        continue
                    async with self._changed:
                        self.events.append(event)
                        self._changed.notify_all()
        except httpx.HTTPError as error:
            self.error = error
        finally:
            self._opened.set()
            self.ended.set()
            async with self._changed:
                self._changed.notify_all()

    def of_type(self, event_type: str) -> list[ServerSentEvent]:
        """The events received so far with this ``event:`` name."""
        return [event for event in self.events if event.event == event_type]

    async def wait_until(self, done: Callable[[list[ServerSentEvent]], bool], timeout: float = 10) -> None:
        """Wait until ``done(events)`` holds; fail the test on timeout."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: done(self.events) or self.ended.is_set())
        if not done(self.events):
            recent = [(e.event, e.id) for e in self.events[-5:]]
            raise AssertionError(f"the stream ended first ({self.error!r}); {len(self.events)} events, last: {recent}")

    async def wait_for_count(self, count: int, timeout: float = 10) -> list[ServerSentEvent]:
        """Wait for at least ``count`` events and return them."""
        await self.wait_until(lambda events: len(events) >= count, timeout)
        return list(self.events)


async def finished_report(client: httpx.AsyncClient, headers: dict[str, str], title: str = "report") -> None:
    """Request a report and return once its last event has been published.

    A stream of the owner's watches for it, so events published afterwards are
    known to come later on every stream.
    """
    async with StreamReader(client, "/api/v1/events", headers=headers) as watcher:
        response = await client.post("/api/v1/reports", json={"title": title}, headers=headers)
        assert response.status_code == 202, response.text
        await watcher.wait_until(lambda events: any(e.event == "report.completed" for e in events))
