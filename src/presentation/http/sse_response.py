"""The response of ``GET /api/v1/events``: Litestar's ``Stream``, with one task per stream less.

Litestar's streaming response runs every body in an anyio task group of two
tasks (one writes, one listens for the disconnect). A Herald process holds
thousands of streams for hours, so that costs memory per stream and a task
switch per write (measured: docs/performance.md's git history). Here the request's own task writes,
and one small task waits for the disconnect and ends the stream, which makes
the writer finish.
"""

from __future__ import annotations  # Litestar's type aliases are only importable for annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from litestar import Request
from litestar.background_tasks import BackgroundTask, BackgroundTasks
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.response import Stream
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse
from litestar.types import HTTPResponseBodyEvent, Receive, Scope, Send, TypeEncodersMap
from litestar.utils.helpers import get_enum_string_value

from presentation.http.body_send import body_send

#: Headers every stream carries: no caching, no proxy buffering (nginx honours
#: X-Accel-Buffering), and no compression, which would hold events back.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


class ASGISSEResponse(ASGIStreamingResponse):
    """Writes the frames of an event stream until it ends or the client goes."""

    __slots__ = ("_frames", "_on_disconnect", "_preamble")

    def __init__(
        self,
        *,
        frames: AsyncIterator[bytes],
        preamble: bytes,
        on_disconnect: Callable[[], Awaitable[None]],
        **kwargs: Any,
    ) -> None:
        super().__init__(iterator=frames, **kwargs)
        self._frames = frames
        self._preamble = preamble
        self._on_disconnect = on_disconnect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.is_head_response:
            await super().__call__(scope, receive, send)
            return
        await self.start_response(send=send)  # the whole chain: headers, request id, hooks
        # The body below it, when the server's send was handed down (presentation.http.body_send).
        await self.send_body(send=body_send(scope, send), receive=receive)
        await self.after_response()

    async def send_body(self, send: Send, receive: Receive) -> None:
        watcher = asyncio.get_running_loop().create_task(self._until_disconnected(receive))
        try:
            await send({"type": "http.response.body", "body": self._preamble, "more_body": True})
            async for frame in self._frames:
                event: HTTPResponseBodyEvent = {"type": "http.response.body", "body": frame, "more_body": True}
                await send(event)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            # However the body ended (a failed or cancelled send included), release the stream now,
            # not when the garbage collector finalises its generator.
            await self._on_disconnect()

    async def _until_disconnected(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        await self._on_disconnect()  # ends the stream: the writer above stops


class SSEResponse(Stream):
    """An SSE response: ``preamble`` (the ``retry:`` hint), then ``frames``; ``on_disconnect`` ends the
    stream's subscription at once, however the body ends."""

    __slots__ = ("_frames", "_on_disconnect", "_preamble")

    def __init__(
        self,
        frames: AsyncIterator[bytes],
        *,
        preamble: bytes,
        on_disconnect: Callable[[], Awaitable[None]],
        **kwargs: Any,
    ) -> None:
        super().__init__(frames, media_type="text/event-stream", **kwargs)
        self._frames = frames
        self._preamble = preamble
        self._on_disconnect = on_disconnect

    def to_asgi_response(
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        return ASGISSEResponse(
            frames=self._frames,
            preamble=self._preamble,
            on_disconnect=self._on_disconnect,
            background=self.background or background,
            content_length=0,
            cookies=self.cookies if cookies is None else itertools.chain(self.cookies, cookies),
            encoded_headers=encoded_headers,
            encoding=self.encoding,
            headers={**headers, **self.headers} if headers is not None else self.headers,
            is_head_response=is_head_response,
            media_type=get_enum_string_value(media_type or self.media_type or MediaType.TEXT),
            status_code=self.status_code or status_code,
        )
