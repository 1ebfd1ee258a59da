"""``GET /schema/asyncapi.json``: the AsyncAPI 3 document of the event stream, beside Litestar's OpenAPI."""

import functools

import orjson
from litestar import Response, get
from litestar.di import NamedDependency

from domain.registry import EventRegistry
from infrastructure.asyncapi import asyncapi_document

ASYNCAPI_PATH = "/schema/asyncapi.json"


@functools.lru_cache(maxsize=4)
def asyncapi_json(registry: EventRegistry, *, indent: bool = False) -> bytes:
    """The document as JSON bytes; the registry never changes once built, so it is generated once per registry."""
    return orjson.dumps(asyncapi_document(registry), option=orjson.OPT_INDENT_2 if indent else 0)


@get(ASYNCAPI_PATH, summary="AsyncAPI 3 document of the event stream", tags=["schema"], cache=False)
async def asyncapi(registry: NamedDependency[EventRegistry]) -> Response[bytes]:
    """Every SSE event type with the JSON Schema of its ``data:`` object, the stream signals and the credentials."""
    return Response(asyncapi_json(registry), media_type="application/json")
