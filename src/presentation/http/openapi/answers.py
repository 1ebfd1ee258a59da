"""The errors an operation may answer, derived from what produces them, so a new route lists none itself.

Each source below is the place the behaviour comes from:

- the transport (``presentation.process.transport``): any request may meet its limits;
- the route's shape: parameters may be malformed (400), a path may name nothing (404), a body may be too
  large (``request_max_body_size``: 413), not JSON (``check_json_body``: 415) or invalid (400);
- its guards and its before-request hook (:data:`CHECK_REFUSALS`);
- the use cases it calls: each declares the kinds of refusal it may answer (``refuses``; one that does not is
  taken to answer any), and the errors of
  :data:`~presentation.http.errors.ANSWERS` reach the edge from any of them (a conflict only where the method
  changes something); their statuses are :data:`~presentation.http.refusals.STATUS`;
- the exceptions the handler itself raises, declared with Litestar's ``raises=``.
"""

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from litestar.handlers import HTTPRouteHandler

from application.refusals import RefusalKind
from presentation.http.auth import authenticated
from presentation.http.controllers.events import bounded_query
from presentation.http.errors import ANSWERS
from presentation.http.from_container import container_dependencies
from presentation.http.refusals import STATUS
from presentation.process.transport import TRANSPORT_REFUSALS

#: Why a refusal of each kind happens, as the document tells a client.
REASONS = {
    RefusalKind.INVALID: "the request is not one the service can act on (the detail says why)",
    RefusalKind.UNAUTHENTICATED: "a valid credential is required",
    RefusalKind.FORBIDDEN: "the caller may not do this",
    RefusalKind.NOT_FOUND: "no such resource, or one the caller may not see",
    RefusalKind.CONFLICT: "the resource's state does not allow it now",
    RefusalKind.TOO_MANY: "too many requests: retry later (after Retry-After seconds when given)",
    RefusalKind.UNAVAILABLE: "the service cannot do it right now: retry after Retry-After seconds",
}

#: What each guard or before-request hook refuses. A new one is a line here; every route behind it is then documented.
CHECK_REFUSALS: dict[Any, tuple[tuple[int, str], ...]] = {
    authenticated: (
        (STATUS[RefusalKind.UNAUTHENTICATED], REASONS[RefusalKind.UNAUTHENTICATED]),
        (STATUS[RefusalKind.UNAVAILABLE], "the credential cannot be checked right now (keys or revocations)"),
    ),
    bounded_query: ((414, "the query string is too long"),),
}

#: Names Litestar fills in itself: never a parameter of the request.
_RESERVED = frozenset({"request", "data", "state", "scope", "socket", "headers", "cookies", "query", "body"})
#: Methods that change nothing, so nothing of theirs conflicts with another change.
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def _shape(handler: HTTPRouteHandler, path_parameters: tuple[str, ...]) -> Iterator[tuple[int, str]]:
    dependencies = handler.resolve_dependencies()
    signature = handler.parsed_fn_signature.parameters
    parameters = [name for name in signature if name not in dependencies and name not in _RESERVED]
    if path_parameters:
        yield 404, "nothing is at this path (a path parameter of the wrong form)"
    if parameters or path_parameters:
        yield 400, "a parameter is malformed"
    if "data" in signature:
        yield 400, "the body is not valid JSON of the request's schema"
        yield 413, "the body is larger than the service takes (HERALD_HTTP_MAX_BODY_BYTES)"
        yield 415, "the body is not sent as JSON in UTF-8 (Content-Type: application/json)"


def _refusals(provided: Any) -> frozenset[RefusalKind] | None:
    """What a dependency may refuse: a use case's ``refuses``; any kind for a use case that does not say;
    None for the rest (adapters and values refuse nothing themselves)."""
    kinds = getattr(provided, "refuses", None)
    if isinstance(kinds, frozenset):
        return kinds
    if isinstance(provided, type) and provided.__module__.partition(".")[0] == "application":
        return frozenset(RefusalKind)
    return None


def _use_cases(handler: HTTPRouteHandler, method: str) -> Iterator[tuple[int, str]]:
    declared = [kinds for provided in container_dependencies(handler) if (kinds := _refusals(provided)) is not None]
    for kinds in declared:
        for kind in kinds:
            yield STATUS[kind], REASONS[kind]
    if declared:
        for answer in ANSWERS.values():
            if answer.kind is not RefusalKind.CONFLICT or method not in _SAFE:
                yield STATUS[answer.kind], REASONS[answer.kind]


def _checks(handler: HTTPRouteHandler) -> list[Any]:
    """What runs before the handler and may refuse: its guards, then its before-request hook."""
    hook = handler.resolve_before_request()
    return [*handler.resolve_guards(), *([] if hook is None else [hook])]


def error_statuses(handler: HTTPRouteHandler, method: str, path_parameters: tuple[str, ...]) -> dict[int, str]:
    """Every error status ``handler`` may answer for ``method``, each with why (several reasons joined)."""
    found: dict[int, list[str]] = {}
    sources = [
        iter(TRANSPORT_REFUSALS.items()),
        _shape(handler, path_parameters),
        (refusal for check in _checks(handler) for refusal in CHECK_REFUSALS.get(check, ())),
        _use_cases(handler, method),
        ((error.status_code, HTTPStatus(error.status_code).description) for error in handler.raises or ()),
    ]
    for source in sources:
        for status, reason in source:
            reasons = found.setdefault(status, [])
            if reason not in reasons:
                reasons.append(reason)
    return {status: "; ".join(reasons) for status, reasons in sorted(found.items())}
