"""How a client opens the stream, in the document: the operation's HTTP binding (the query) and request headers."""

from application.streams import MAX_LAST_EVENT_ID_LENGTH, MAX_TICKET_LENGTH, MAX_WATCHES_CEILING
from domain.sse import GroupKind, SSECategory
from domain.sse.groups import GROUP_ID_PATTERN
from infrastructure.asyncapi.schemas import JsonSchema

#: A ``watch`` value: ``<kind>:<id>``, as ``Group.parse`` reads it.
WATCH_PATTERN = f"^({'|'.join(kind.value for kind in GroupKind)}):{GROUP_ID_PATTERN.pattern}$"


def http_binding() -> JsonSchema:
    """The ``http`` binding of the operation: ``GET``, its query parameters and the ``Last-Event-ID`` header."""
    categories = ", ".join(f"`{c.value}`" for c in SSECategory)
    return {
        "method": "GET",
        "query": {
            "type": "object",
            "properties": {
                "categories": {
                    "type": "string",
                    "maxLength": 512,
                    "description": f"Comma-separated categories to receive ({categories}); all when absent. "
                    "An unknown category is a 400.",
                },
                "last_event_id": {
                    "type": "string",
                    "maxLength": MAX_LAST_EVENT_ID_LENGTH,
                    "description": "Resume after this id on a fresh connection; the `Last-Event-ID` header wins.",
                },
                "ticket": {
                    "type": "string",
                    "maxLength": MAX_TICKET_LENGTH,
                    "description": "A single-use stream ticket.",
                },
                "watch": {
                    "type": "array",
                    "items": {"type": "string", "pattern": WATCH_PATTERN},
                    "maxItems": MAX_WATCHES_CEILING,
                    "description": "Groups whose events the stream receives too, each as `<kind>:<id>` "
                    "(`watch=report:<uuid>`, repeated for several). The stream is in its caller's tenant's group "
                    "already; a kind that cannot be watched, or more than `HERALD_SSE_MAX_WATCHES` (at most "
                    f"{MAX_WATCHES_CEILING}), is a 400, and a group the caller may not see a 404. "
                    "After `stream.unwatched`, leave its group out.",
                },
            },
        },
        "x-request-headers": {
            "type": "object",
            "properties": {
                "Last-Event-ID": {
                    "type": "string",
                    "maxLength": MAX_LAST_EVENT_ID_LENGTH,
                    "description": "The `id:` of the last event received: the events after it are replayed.",
                },
            },
        },
        "bindingVersion": "0.3.0",
    }
