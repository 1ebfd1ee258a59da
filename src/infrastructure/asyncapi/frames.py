"""What every message of the document shares: the SSE fields beside ``data:``, the envelope, the payload's name."""

import re

from application.streams import MAX_LAST_EVENT_ID_LENGTH
from infrastructure.asyncapi.schemas import JsonSchema

#: What the wire format adds to every ``data:`` object (see ``WireFormat.data_json``).
ENVELOPE_SCHEMA: dict[str, JsonSchema] = {
    "event_id": {"type": "string", "format": "uuid", "description": "UUIDv7 of this SSE event."},
    "occurred_at": {"type": "string", "format": "date-time", "description": "When the event was published."},
}


def payload_name(sse_event_type: str) -> str:
    """The component name of an event type's payload: ``report.progress`` is ``ReportProgressPayload``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", sse_event_type)) + "Payload"


def sse_fields(event_type: str, *, resumable: bool) -> JsonSchema:
    """The SSE fields of the frame beside ``data:``, as the message's headers."""
    properties: dict[str, JsonSchema] = {"event": {"type": "string", "const": event_type}}
    if resumable:
        properties["id"] = {
            "type": "string",
            "maxLength": MAX_LAST_EVENT_ID_LENGTH,
            "description": "The resumable position; send it back as `Last-Event-ID`.",
        }
    return {"type": "object", "properties": properties, "required": list(properties)}
