"""The AsyncAPI 3 document of the event stream, generated from the registry.

Every payload is a named schema under ``components`` (``report.progress``:
``ReportProgressPayload``), so code generators give each event a type of
its own instead of ``AnonymousSchema_4``.
"""

import copy
import functools
import re
from typing import Any
from urllib.parse import urlsplit

import orjson

from domain.events import ENVELOPE_FIELDS
from domain.registry import DomainToSSEMapping, EventRegistry
from domain.sse import SSECategory
from infrastructure.asyncapi.schemas import JsonSchema, SchemaBuilder
from infrastructure.settings import server_url_problem
from infrastructure.streams.signals import END_EVENT_TYPE, RESET_EVENT_TYPE, EndNotice, ResetReason

ASYNCAPI_VERSION = "3.0.0"
STREAM_ADDRESS = "/api/v1/events"
CHANNEL = "events"
OPERATION = "sendEvents"
STREAM_TAG = "stream"
SERVER = "herald"

#: What the wire format adds to every ``data:`` object (see ``WireFormat.data_json``).
ENVELOPE_SCHEMA: dict[str, JsonSchema] = {
    "event_id": {"type": "string", "format": "uuid", "description": "UUIDv7 of this SSE event."},
    "occurred_at": {"type": "string", "format": "date-time", "description": "When the event was published."},
}

SECURITY_SCHEMES: dict[str, JsonSchema] = {
    "httpBearerToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "`Authorization: Bearer <jwt>`, for clients that can set headers.",
    },
    "streamTicket": {
        "type": "httpApiKey",
        "in": "query",
        "name": "ticket",
        "description": "A single-use ticket from `POST /api/v1/events/tickets`; it cannot serve a reconnect.",
    },
    "streamCookie": {
        "type": "httpApiKey",
        "in": "cookie",
        "name": "herald_stream",
        "description": "Set by `POST /api/v1/events/cookie`; `EventSource` reconnects carry it.",
    },
}

_STREAM_DESCRIPTION = """\
The Server-Sent Events stream of the authenticated user (`text/event-stream`).
Each message's SSE `event:` field is its name and its `data:` line is one JSON
object, the payload. The stream starts with a `retry:` hint and idle streams get
a `: ping` comment.

Every event has an `id:`. To resume after a disconnect, reconnect with the
`Last-Event-ID` request header (or `?last_event_id=` on a fresh connection; the
header wins): the events missed since are replayed. If the position cannot be
resumed exactly, the stream starts with `stream.reset`. `stream.end` is the
last message of a stream the server ends."""


def asyncapi_document(
    registry: EventRegistry, *, server_url: str | None = None, title: str = "Herald", version: str = "0.1.0"
) -> dict[str, Any]:
    """The AsyncAPI document: the stream channel, Herald's ``send`` operation, one message per event type.

    The document describes Herald, so its operation is ``send``: Herald sends
    these messages and a client of the stream receives them (AsyncAPI 3
    describes the application the document is about). ``server_url`` (the
    address clients reach, ``https://events.example.com``) becomes its server.
    Raises :class:`~infrastructure.asyncapi.schemas.PayloadSchemaError` naming
    the event and field when a payload type cannot be described, or when two
    payloads would get the same name.
    """
    schemas = SchemaBuilder()
    messages = {m.sse_event_type: _event_message(m, schemas) for m in registry}
    messages[RESET_EVENT_TYPE] = _signal_message(
        RESET_EVENT_TYPE,
        "The client may have missed events and should reload its state.",
        "The `Last-Event-ID` could not be resumed exactly; `reason` says why. "
        "It carries an `id:`, so the next reconnect resumes from here.",
        schemas.reference(ResetReason, RESET_EVENT_TYPE),
        schemas,
        resumable=True,
    )
    messages[END_EVENT_TYPE] = _signal_message(
        END_EVENT_TYPE,
        "The server is ending the stream.",
        "`credential_expired`: re-authenticate, then reconnect. `session_revoked`: do not reconnect "
        "with this session. `shutdown`: reconnect (to another instance) with the last id. "
        "It has no `id:`, so the last id stays that of the last event received.",
        schemas.reference(EndNotice, END_EVENT_TYPE),
        schemas,
        resumable=False,
    )
    refs = {name: {"$ref": f"#/components/messages/{name}"} for name in messages}
    document = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": "Domain events delivered as live, resumable Server-Sent Events.",
            "tags": [{"name": c.value, "description": f"Events of category `{c.value}`."} for c in SSECategory]
            + [{"name": STREAM_TAG, "description": "Signals of the stream itself, sent whatever the categories."}],
        },
        "defaultContentType": "application/json",
        **({"servers": {SERVER: server_object(server_url)}} if server_url is not None else {}),
        "channels": {
            CHANNEL: {
                "address": STREAM_ADDRESS,
                "title": "Event stream",
                "description": _STREAM_DESCRIPTION,
                "messages": refs,
            }
        },
        "operations": {
            OPERATION: {
                "action": "send",
                "channel": {"$ref": f"#/channels/{CHANNEL}"},
                "title": "Stream events",
                "summary": "Herald sends the authenticated user's events; the client opens the stream with GET.",
                "security": [{"$ref": f"#/components/securitySchemes/{name}"} for name in SECURITY_SCHEMES],
                "bindings": {"http": _http_binding()},
                "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/{name}"} for name in messages],
            }
        },
        "components": {
            "messages": messages,
            "schemas": schemas.components,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
    return copy.deepcopy(document)  # callers may edit it; the shared constants inside stay intact


def server_object(url: str) -> JsonSchema:
    """The AsyncAPI server of ``url``: its host (and port), protocol, and path prefix if it has one."""
    problem = server_url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    parts = urlsplit(url)
    server: JsonSchema = {
        "host": parts.netloc,
        "protocol": parts.scheme,
        "description": "Where clients open the stream: the channel's address follows the host and path prefix.",
    }
    if parts.path.rstrip("/"):
        server["pathname"] = parts.path.rstrip("/")
    return server


def payload_name(sse_event_type: str) -> str:
    """The component name of an event type's payload: ``report.progress`` is ``ReportProgressPayload``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", sse_event_type)) + "Payload"


def payload_schema(mapping: DomainToSSEMapping, schemas: SchemaBuilder) -> JsonSchema:
    """The ``data:`` object of ``mapping``'s events: its payload fields plus the envelope."""
    where = f"{mapping.domain_event.__name__} (SSE event {mapping.sse_event_type!r})"
    if mapping.payload_type is None:
        schema = schemas.object_schema(mapping.domain_event, where=where, exclude=ENVELOPE_FIELDS)
    else:
        schema = schemas.object_schema(mapping.payload_type, where=f"payload_type of {where}")
    schema["properties"].update(ENVELOPE_SCHEMA)
    schema["required"].extend(ENVELOPE_SCHEMA)
    return schema


def _event_message(mapping: DomainToSSEMapping, schemas: SchemaBuilder) -> JsonSchema:
    return {
        "name": mapping.sse_event_type,
        "title": mapping.sse_event_type,
        "summary": mapping.description,
        "description": f"Category `{mapping.category.value}`; sent to {mapping.receivers()}.",
        "contentType": "application/json",
        "tags": [{"name": mapping.category.value}],
        "headers": _sse_fields(mapping.sse_event_type, resumable=True),
        "payload": schemas.named(
            payload_name(mapping.sse_event_type),
            {"description": mapping.description, **payload_schema(mapping, schemas)},
            where=f"SSE event {mapping.sse_event_type!r}",
        ),
        "x-herald-category": mapping.category.value,
        "x-herald-audience": _audience(mapping),
    }


def _audience(mapping: DomainToSSEMapping) -> JsonSchema:
    """Who receives the event: everyone, or a user (the field naming them) and a group (its kind and field)."""
    if mapping.is_broadcast:
        return {"everyone": True, "user": None, "group": None}
    user = None if mapping.user_id_extractor is None else (mapping.audience_field() or "custom")
    group = mapping.group_extractor
    return {
        "everyone": False,
        "user": user,
        "group": None if group is None else {"kind": group.kind.value, "field": group.field},
    }


def _signal_message(
    name: str, summary: str, description: str, reason: JsonSchema, schemas: SchemaBuilder, *, resumable: bool
) -> JsonSchema:
    return {
        "name": name,
        "title": name,
        "summary": summary,
        "description": description,
        "contentType": "application/json",
        "tags": [{"name": STREAM_TAG}],
        "headers": _sse_fields(name, resumable=resumable),
        "payload": schemas.named(
            payload_name(name),
            {
                "description": summary,
                "type": "object",
                "properties": {"reason": reason, **ENVELOPE_SCHEMA},
                "required": ["reason", *ENVELOPE_SCHEMA],
                "additionalProperties": False,
            },
            where=f"SSE event {name!r}",
        ),
    }


def _sse_fields(event_type: str, *, resumable: bool) -> JsonSchema:
    """The SSE fields of the frame beside ``data:``, as the message's headers."""
    properties: dict[str, JsonSchema] = {"event": {"type": "string", "const": event_type}}
    if resumable:
        properties["id"] = {
            "type": "string",
            "maxLength": 128,
            "description": "The resumable position; send it back as `Last-Event-ID`.",
        }
    return {"type": "object", "properties": properties, "required": list(properties)}


def _http_binding() -> JsonSchema:
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
                    "maxLength": 128,
                    "description": "Resume after this id on a fresh connection; the `Last-Event-ID` header wins.",
                },
                "ticket": {"type": "string", "maxLength": 128, "description": "A single-use stream ticket."},
            },
        },
        "x-request-headers": {
            "type": "object",
            "properties": {
                "Last-Event-ID": {
                    "type": "string",
                    "maxLength": 128,
                    "description": "The `id:` of the last event received: the events after it are replayed.",
                },
            },
        },
        "bindingVersion": "0.3.0",
    }


@functools.lru_cache(maxsize=4)
def asyncapi_json(registry: EventRegistry, *, server_url: str | None = None, indent: bool = False) -> bytes:
    """The document as JSON bytes; the registry never changes once built, so it is generated once per registry."""
    document = asyncapi_document(registry, server_url=server_url)
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 if indent else 0)
