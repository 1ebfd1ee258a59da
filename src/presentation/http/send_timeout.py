"""A send timeout: a client that stops reading is disconnected instead of holding its stream for ever."""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from presentation.http.body_send import offer_body_send, server_send
from presentation.http.connection_drop import connection_dropper

logger = logging.getLogger(__name__)


class SendTimeout:
    """ASGI middleware: end any response whose ``send`` has not completed within ``seconds``.

    uvicorn applies TCP back-pressure, so writing to a client that stopped
    reading (or whose connection is half-open) blocks forever. The connection
    is dropped at once (:func:`~presentation.http.connection_drop.connection_dropper`):
    its unsent bytes could never be delivered, and the server and the response
    see a client that left, so the stream's subscription is released and the
    cut-off is one warning of Herald's, not an application error of the
    server's. Served by another server, the request is cancelled instead.
    Heartbeats make sure even an idle stream writes often enough for this to
    notice.

    A timer per send would cost more than the send on a busy stream, so a
    send only records when it started; one watchdog task per process looks
    every ``seconds / 4`` for sends blocked longer than ``seconds`` and
    cuts their clients off. A client is therefore cut off between ``seconds``
    and ``1.25 * seconds`` after it stopped taking data.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._blocked: dict[asyncio.Task[Any], float] = {}
        self._stalled: set[asyncio.Task[Any]] = set()
        self._droppers: dict[asyncio.Task[Any], Callable[[], object]] = {}
        self._watchdog: asyncio.Task[None] | None = None

    def __call__(self, app: ASGIApp) -> ASGIApp:
        blocked, stalled, droppers = self._blocked, self._stalled, self._droppers

        async def with_send_timeout(scope: Scope, receive: Receive, send: Send) -> None:
            task = asyncio.current_task()
            if scope["type"] != ScopeType.HTTP or task is None:
                await app(scope, receive, send)
                return
            self._ensure_watchdog()

            def timed(send: Send) -> Send:
                async def send_or_fail(message: Message) -> None:
                    blocked[task] = time.monotonic()
                    try:
                        await send(message)
                    finally:
                        del blocked[task]

                return send_or_fail

            raw = server_send(scope)
            if raw is not None:
                offer_body_send(scope, timed(raw))
            # Herald's own server drops the connection (the client is gone, nothing logged); another, cancel.
            droppers[task] = connection_dropper(scope) or task.cancel

            try:
                await app(scope, receive, timed(send))
            except asyncio.CancelledError:
                if task not in stalled or task.uncancel() > 0:
                    raise  # not (only) ours: a shutdown or another cancellation goes on
            finally:
                droppers.pop(task, None)
                if task in stalled:
                    stalled.discard(task)
                    logger.warning("%s: the client took no data for %g s; disconnected", scope["path"], self._seconds)

        return with_send_timeout

    async def aclose(self) -> None:
        """Stop the watchdog (on application shutdown)."""
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and not watchdog.done():
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)

    def _ensure_watchdog(self) -> None:
        watchdog = self._watchdog
        if watchdog is None or watchdog.done() or watchdog.get_loop() is not asyncio.get_running_loop():
            self._watchdog = asyncio.get_running_loop().create_task(self._watch(), name="herald-send-timeout")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._seconds / 4)
            deadline = time.monotonic() - self._seconds
            for task, since in list(self._blocked.items()):
                if since < deadline and task not in self._stalled:
                    self._stalled.add(task)
                    self._droppers[task]()
