"""One pass over an app's routes that gives each operation what the document derives for it.

Run once every route is registered (:func:`presentation.http.app.create_app`
does): each operation gets its error responses (:mod:`.answers`) as problem
documents, its security requirement (:mod:`.security`), and links from what
it creates to the operations that take it (a response field named like a
path parameter of another operation). A route added later by a fork, or by
another branch, is covered without naming it anywhere.
"""

from typing import Any

import msgspec
from litestar import Litestar
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Link
from litestar.routes import HTTPRoute

from presentation.http.errors import PROBLEM_JSON
from presentation.http.openapi.answers import error_statuses
from presentation.http.openapi.operation import DocumentedOperation
from presentation.http.openapi.problem import Problem
from presentation.http.openapi.security import requirement


class _Operation(msgspec.Struct, frozen=True):
    route: HTTPRoute
    method: str
    handler: HTTPRouteHandler
    operation_id: str

    @property
    def path_parameters(self) -> tuple[str, ...]:
        return tuple(self.route.path_parameters)


def _operations(app: Litestar) -> list[_Operation]:
    assert app.openapi_config is not None
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, _) in route.route_handler_map.items():
            if not handler.resolve_include_in_schema():
                continue
            operation_id = handler.operation_id
            if callable(operation_id):
                operation_id = operation_id(handler, HttpMethod(method), route.path_components)
            elif operation_id is None:
                operation_id = app.openapi_config.operation_id_creator(
                    handler, HttpMethod(method), route.path_components
                )
            found.append(_Operation(route, method, handler, operation_id))
    return found


def _created_fields(handler: HTTPRouteHandler) -> frozenset[str]:
    """The fields of the struct a handler answers with (inside a ``Response[...]`` too)."""
    answered = handler.parsed_fn_signature.return_type
    if answered.inner_types and not answered.is_subclass_of(msgspec.Struct):
        answered = answered.inner_types[0]
    if not answered.is_subclass_of(msgspec.Struct):
        return frozenset()
    return frozenset(field.encode_name for field in msgspec.structs.fields(answered.annotation))


def _links(source: _Operation, operations: list[_Operation]) -> dict[str, Link]:
    """From a POST's answer to every operation with a path parameter named like one of its fields."""
    if source.method != "POST":
        return {}
    fields = _created_fields(source.handler)
    links = {}
    for target in operations:
        filled = {name: f"$response.body#/{name}" for name in target.path_parameters if name in fields}
        if filled:
            links[target.operation_id] = Link(operation_id=target.operation_id, parameters=filled)
    return links


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(Problem, generate_examples=False, description=description, media_type=PROBLEM_JSON)


def document_routes(app: Litestar) -> None:
    """Complete every operation's handler of ``app`` (each app holds copies of its own) before the schema is built."""
    operations = _operations(app)
    for operation in operations:
        handler = operation.handler
        errors = error_statuses(handler, operation.method, operation.path_parameters)
        declared: dict[int, Any] = dict(handler.responses or {})
        handler.responses = {**{status: _problem(why) for status, why in errors.items()}, **declared}
        security = requirement(handler)
        if security is not None:
            handler.security = security
        base = handler.operation_class
        if not issubclass(base, DocumentedOperation):
            base = DocumentedOperation
        links = _links(operation, operations)
        if links:
            base = type(f"{operation.operation_id}Operation", (base,), {"links": links})
        handler.operation_class = base
