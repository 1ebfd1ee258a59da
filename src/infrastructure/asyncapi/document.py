"""The AsyncAPI 3 document of the event stream, generated from the registry.

Every payload is a named schema under ``components`` (``report.progress``:
``ReportProgressPayload``), so code generators give each event a type of
its own instead of ``AnonymousSchema_4``.
"""

import copy
import functools
from typing import Any
from urllib.parse import urlsplit

import orjson

from domain.events import ENVELOPE_FIELDS
from domain.registry import DomainToSSEMapping, EventRegistry
from domain.sse import GroupField, SSECategory
from infrastructure.asyncapi.frames import ENVELOPE_SCHEMA, payload_name, sse_fields
from infrastructure.asyncapi.request import http_binding
from infrastructure.asyncapi.schemas import JsonSchema, SchemaBuilder
from infrastructure.asyncapi.signals import STREAM_TAG, signal_messages
from infrastructure.service_name import SERVICE
from infrastructure.settings import server_url_problem

ASYNCAPI_VERSION = "3.0.0"
STREAM_ADDRESS = "/api/v1/events"
CHANNEL = "events"
OPERATION = "sendEvents"
SERVER = SERVICE.slug

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
        "name": SERVICE.stream_cookie,
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
last message of a stream the server ends.

Besides the user's own events and broadcasts, the stream receives the events
of its groups: its caller's tenant's, and each one it watches
(`?watch=report:<id>`, for a report shared with the caller). When the caller
may no longer see a watched group, `stream.unwatched` says so and nothing more
of that group follows."""


def asyncapi_document(
    registry: EventRegistry, *, server_url: str | None = None, title: str = SERVICE.title, version: str = "0.1.0"
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
    messages.update(signal_messages(schemas))
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
                "bindings": {"http": http_binding()},
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
        "headers": sse_fields(mapping.sse_event_type, resumable=True),
        "payload": schemas.named(
            payload_name(mapping.sse_event_type),
            {"description": mapping.description, **payload_schema(mapping, schemas)},
            where=f"SSE event {mapping.sse_event_type!r}",
        ),
        f"x-{SERVICE.slug}-category": mapping.category.value,
        f"x-{SERVICE.slug}-audience": _audience(mapping),
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
        "group": None if group is None else _group_audience(group),
    }


def _group_audience(group: GroupField) -> JsonSchema:
    """The group's kind, or the field naming it, and the field naming its id."""
    kind = {"kind": group.kind.value} if group.kind is not None else {"kind": None, "kind_field": group.kind_field}
    return {**kind, "field": group.field}


@functools.lru_cache(maxsize=4)
def asyncapi_json(registry: EventRegistry, *, server_url: str | None = None, indent: bool = False) -> bytes:
    """The document as JSON bytes; the registry never changes once built, so it is generated once per registry."""
    document = asyncapi_document(registry, server_url=server_url)
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 if indent else 0)
