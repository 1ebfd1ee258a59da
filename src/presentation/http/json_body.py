"""Request bodies: JSON in UTF-8, checked before Litestar parses them, so no body can cause a 500.

Litestar decodes a ``data`` parameter with msgspec, which raises
``UnicodeDecodeError`` for invalid UTF-8 and ``RecursionError`` for deep
nesting; neither is a client error to Litestar. This ``before_request`` hook
runs after the guards (an anonymous caller is refused before its body is
read) and before the parameters are parsed, on every route that takes a body,
and refuses what the parser cannot take: 415 for another media type or
charset, 400 for bytes that are not UTF-8 JSON or are nested too deeply.
"""

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ClientException, InternalServerException, ValidationException

_JSON_CHARSETS = frozenset({"utf-8", "utf8"})


class ClientGoneError(Exception):
    """The client closed the connection before it had sent its whole body; nobody is left to answer."""


def _takes_body(request: Request[Any, Any, Any]) -> bool:
    return "data" in request.route_handler.parsed_fn_signature.parameters


async def check_json_body(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: refuse a body that is not UTF-8 JSON of bounded depth (a no-op elsewhere)."""
    if not _takes_body(request):
        return
    media_type, options = request.content_type
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ClientException(status_code=415, detail="the body must be JSON, sent as 'Content-Type: application/json'")
    if options.get("charset", "utf-8").lower() not in _JSON_CHARSETS:
        raise ClientException(status_code=415, detail="the body must be JSON in UTF-8 (charset=utf-8)")
    try:
        raw = await request.body()
    except InternalServerException:  # Litestar's word for "the client disconnected while sending"
        raise ClientGoneError from None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationException(detail="the body is not valid UTF-8") from None
    try:
        msgspec.json.decode(raw)
    except RecursionError:
        raise ValidationException(detail="the body's JSON is nested too deeply") from None
    except msgspec.DecodeError as error:
        raise ValidationException(detail=f"the body is not valid JSON: {str(error)[:200]}") from None
