"""The operations of the document as the server answers them: error headers, bodiless 204s, links, the stream.

Litestar builds each operation with its handler's ``operation_class``; these
classes finish what Litestar's responses leave out: the headers a refusal
carries (``Retry-After`` on 429 and 503, the challenge on 401), no body on a
204, the links the stateful reader of the document follows, and the stream's
media type.
"""

from dataclasses import dataclass
from typing import ClassVar

from litestar.openapi.spec import (
    ExternalDocumentation,
    Link,
    OpenAPIHeader,
    OpenAPIMediaType,
    Operation,
    Reference,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIType
from litestar.openapi.spec.response import OpenAPIResponse

from application.refusals import RefusalKind
from presentation.http.controllers.asyncapi import ASYNCAPI_PATH
from presentation.http.refusals import STATUS
from presentation.http.sse_response import STREAM_HEADERS

_RETRY_AFTER = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.INTEGER, minimum=0), description="Seconds to wait before trying again."
)
_CHALLENGE = OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), description="The scheme to authenticate with.")
#: Headers of error responses, by status: what the refusal tells the client to do.
ERROR_HEADERS = {
    str(STATUS[RefusalKind.TOO_MANY]): {"Retry-After": _RETRY_AFTER},
    str(STATUS[RefusalKind.UNAVAILABLE]): {"Retry-After": _RETRY_AFTER},
    str(STATUS[RefusalKind.UNAUTHENTICATED]): {"WWW-Authenticate": _CHALLENGE},
}


@dataclass  # a dataclass again, so that its __init__ calls __post_init__
class DocumentedOperation(Operation):
    """An operation whose responses carry their headers, whose 204s have no body, and whose success links on."""

    links: ClassVar[dict[str, Link]] = {}
    """Operations a successful answer leads to, with the parameters it fills (set per handler)."""

    def __post_init__(self) -> None:
        for status, response in (self.responses or {}).items():
            if not isinstance(response, OpenAPIResponse):
                continue
            if status == "204":
                response.content = None
            if status in ERROR_HEADERS:
                response.headers = {**(response.headers or {}), **ERROR_HEADERS[status]}
            if status.startswith("2") and self.links:
                response.links = dict(self.links)


@dataclass
class StreamOperation(DocumentedOperation):
    """``GET /api/v1/events``: an endless ``text/event-stream`` whose events the AsyncAPI document describes."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.external_docs = ExternalDocumentation(
            url=ASYNCAPI_PATH, description="The stream's events and signals, with the JSON Schema of each data: object"
        )
        header: dict[str, OpenAPIHeader | Reference] = {
            name: OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING, const=value))
            for name, value in STREAM_HEADERS.items()
            if name != "Connection"  # hop-by-hop: a proxy or HTTP/2 drops it, so a client cannot count on it
        }
        (self.responses or {})["200"] = OpenAPIResponse(
            description="The stream: a retry: hint, then SSE messages (id:, event:, one JSON data: line) and ': ping' "
            "comments, until either side closes; a stream.end event says why the service ends it. Events and "
            f"signals: {ASYNCAPI_PATH}.",
            content={"text/event-stream": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))},
            headers=header,
        )
