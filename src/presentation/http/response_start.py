"""One ``before_send`` hook for everything added to a response's start line and headers.

Litestar calls every ``before_send`` hook for every message a response sends,
and a stream sends one per event: one hook that returns at once for body
messages costs one call per event, however many edits the start message gets.
It is asynchronous on purpose: Litestar runs synchronous hooks in a worker
thread, where the request's context (its log fields) would not be reached.
"""

from collections.abc import Awaitable, Callable

from litestar.types import Message, Scope

StartEdit = Callable[[Message, Scope], None]


def on_response_start(*edits: StartEdit) -> Callable[[Message, Scope], Awaitable[None]]:
    """A ``before_send`` hook applying ``edits`` to each ``http.response.start`` message, in order."""

    async def hook(message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            for edit in edits:
                edit(message, scope)

    return hook
