"""``Allow`` on the answer to ``OPTIONS``: every method the path has.

Litestar's own ``OPTIONS`` answer names the methods of the route as it stood
when its first handler was registered, so a path whose methods come from
several handlers (``POST`` and ``DELETE /api/v1/events/cookie``) loses some.
This edit of the response's start names them all, from the app's routes as
they are. A CORS preflight is the CORS middleware's answer and is left as it is.
"""

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope


def list_every_method(message: Message, scope: Scope) -> None:
    """A start edit (``presentation.http.response_start``) for ``OPTIONS`` answers that carry ``Allow``."""
    if scope.get("method") != "OPTIONS":
        return
    headers = MutableScopeHeaders.from_message(message)
    if "allow" not in headers:
        return
    method_map = scope["app"].route_handler_method_map
    methods = {method for path in scope["route_handler"].paths for method in method_map.get(path, ())}
    if methods:
        headers["allow"] = ", ".join(sorted(methods))
