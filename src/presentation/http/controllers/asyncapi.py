"""``GET /schema/asyncapi.json``: the AsyncAPI 3 document of the event stream, beside Litestar's OpenAPI."""

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec

from infrastructure.container import Container
from presentation.http.from_container import from_container

ASYNCAPI_PATH = "/schema/asyncapi.json"


@get(
    ASYNCAPI_PATH,
    summary="AsyncAPI 3 document of the event stream",
    tags=["schema"],
    cache=False,
    responses={200: ResponseSpec(dict[str, Any], description="The AsyncAPI 3 document", generate_examples=False)},
    dependencies={"asyncapi_document": from_container(Container.asyncapi_document)},
)
async def asyncapi(asyncapi_document: NamedDependency[bytes]) -> Response[bytes]:
    """Every SSE event type with the JSON Schema of its ``data:`` object, the stream signals and the credentials."""
    return Response(asyncapi_document, media_type="application/json")
