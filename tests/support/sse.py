"""What httpx-sse reports that browsers do not dispatch (the parser itself is ``herald_contracts.parse_sse``)."""

from httpx_sse import ServerSentEvent


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
