"""An independent SSE parser for the tests: httpx-sse's decoder, fed by its spec line splitter."""

from httpx_sse import ServerSentEvent
from httpx_sse._decoders import SSEDecoder, SSELineDecoder


def parse_sse(raw: bytes | str) -> list[ServerSentEvent]:
    """Every dispatched message in ``raw``; a trailing incomplete message is dropped, as browsers do."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    lines = SSELineDecoder().decode(text)
    decoder = SSEDecoder()
    return [event for event in map(decoder.decode, lines) if event is not None]


def is_retry_hint(event: ServerSentEvent) -> bool:
    """httpx-sse reports a ``retry:``-only block as a message; browsers dispatch nothing for it."""
    return event.retry is not None and event.data == "" and event.event == "message"


def is_undispatched(event: ServerSentEvent) -> bool:
    """A block browsers do not dispatch (no ``data:``), which httpx-sse still reports once an id was seen.

    After a heartbeat comment the blank line makes httpx-sse emit an empty
    ``message`` carrying the last id; the standard dispatches nothing there.
    Herald always sends JSON data, so an empty ``message`` is never its own event.
    """
    return event.data == "" and event.event == "message"
