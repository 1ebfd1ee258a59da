"""Dropping a request's connection at once, through a means the server puts in the ASGI scope.

The process's protocol (``presentation.process.transport``) sets it in each request's scope; the send
timeout uses it for a client that stopped taking data. The key is the app's, so the app names no part
of the server: under a server that does not set it, the caller falls back to cancelling the response.
"""

from collections.abc import Callable
from typing import Any, cast

from litestar.types import Scope

#: The scope key under which the server offers to drop the connection.
DROP_CONNECTION = "herald.drop_connection"


def connection_dropper(scope: Scope) -> Callable[[], None] | None:
    """What drops the request's connection at once, unsent bytes and all, when the server offers it.

    uvicorn sees a dropped connection as the client leaving: a blocked
    ``send`` returns, ``receive`` says ``http.disconnect``, and a response
    left unfinished is not logged as the application's error.
    """
    return cast("Callable[[], None] | None", cast("dict[str, Any]", scope).get(DROP_CONNECTION))
