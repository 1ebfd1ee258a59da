"""Read an ``EventStream`` (the broker's side of a stream, without HTTP) message by message."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import attrs

from domain.ports import EventStream
from herald_contracts import parse_sse


@attrs.frozen
class Message:
    """One SSE message: its type, its id and its data."""

    event: str
    id: str
    data: dict[str, object]


async def messages(stream: EventStream) -> AsyncIterator[Message]:
    """Every message of ``stream`` as it arrives (heartbeats left out)."""
    async for frame in stream:
        for message in parse_sse(frame):
            if message.data:
                yield Message(message.event, message.id, json.loads(message.data))


async def take_until(stream: EventStream, done: Callable[[Message], bool], *, within: float = 5.0) -> list[Message]:
    """Messages up to and including the first for which ``done`` is true."""
    taken: list[Message] = []
    async with asyncio.timeout(within):
        async for message in messages(stream):
            taken.append(message)
            if done(message):
                return taken
    raise AssertionError(f"the stream ended before the awaited message; it had {taken}")
