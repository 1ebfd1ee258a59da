"""A send timeout: a client that stops reading is disconnected instead of holding its stream for ever."""

import asyncio
import logging
from collections.abc import Callable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


class ClientStalledError(Exception):
    """The client has not taken a response chunk for longer than the send timeout."""


def send_timeout(seconds: float) -> Callable[[ASGIApp], ASGIApp]:
    """ASGI middleware: fail any ``send`` that does not complete within ``seconds``.

    uvicorn applies TCP back-pressure, so writing to a client that stopped
    reading (or whose connection is half-open) blocks forever. Failing the
    send ends the response; the server then drops the connection, and the
    stream's subscription is released. Heartbeats make sure even an idle
    stream writes often enough for this to notice.
    """

    def middleware(app: ASGIApp) -> ASGIApp:
        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return

            async def send_or_fail(message: Message) -> None:
                try:
                    async with asyncio.timeout(seconds):
                        await send(message)
                except TimeoutError:
                    raise ClientStalledError(f"the client took no data for {seconds:g} s") from None

            try:
                await app(scope, receive, send_or_fail)
            except ClientStalledError as error:
                logger.warning("%s: %s; disconnected", scope["path"], error)

        return timed

    return middleware
