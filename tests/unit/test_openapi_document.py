"""The OpenAPI document is derived: every operation tells its credential and its errors, a new route included."""

import re
from typing import Annotated, Any

import msgspec
import pytest
from litestar import Controller, Litestar, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter
from litestar.testing import TestClient

from application.reports import RequestReport
from infrastructure.container import Container
from presentation.http.app import create_app
from presentation.http.auth import authenticated
from presentation.http.from_container import from_container
from presentation.http.openapi.document import document_routes
from tests.conftest import fast_settings

PROBLEM = {"$ref": "#/components/schemas/Problem"}


class ProbeRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class ProbeAccepted(msgspec.Struct):
    probe_id: str


class ProbeController(Controller):
    """A route as a fork (or another branch) would add it: it names none of its answers."""

    path = "/api/v1/probes"
    guards = [authenticated]
    dependencies = {"request_report": from_container(Container.request_report)}

    @post("/{probe_id:str}", status_code=202)
    async def probe(
        self,
        probe_id: Annotated[str, PathParameter()],
        data: JSONBody[ProbeRequest],
        request_report: NamedDependency[RequestReport],
    ) -> ProbeAccepted:
        raise NotImplementedError


@pytest.fixture
def app() -> Litestar:
    container = Container()
    container.settings.override(fast_settings())
    return create_app(container)


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in document["paths"].items() for method, op in item.items()]


def test_every_error_of_every_operation_is_a_problem_document_and_429_and_503_say_when_to_retry(app: Litestar) -> None:
    document = app.openapi_schema.to_schema()
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            where = f"{method} {path} {status}"
            if status == "204":
                assert "content" not in response, where
            if int(status) < 400 or path == "/health":
                continue
            assert response["content"] == {"application/problem+json": {"schema": PROBLEM}}, where
            if status in {"429", "503"}:
                assert "Retry-After" in response["headers"], where
        assert "431" in operation["responses"], f"{method} {path}: the transport's limit"


def test_every_route_behind_the_guard_requires_the_bearer_token_and_documents_401(app: Litestar) -> None:
    document = app.openapi_schema.to_schema()
    assert set(document["components"]["securitySchemes"]) == {"bearer", "streamCookie", "streamTicket"}
    guarded = {
        (method, route.path_format)
        for route in app.routes
        for method, handler in getattr(route, "route_handler_map", {}).items()
        if authenticated in handler[0].resolve_guards() and method != "OPTIONS"
    }
    assert guarded
    for method, path, operation in _operations(document):
        if (method, path) in guarded:
            assert operation["security"] == [{"bearer": []}], f"{method} {path}"
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]


def test_a_new_route_gets_its_credential_errors_and_closed_body_without_naming_them(app: Litestar) -> None:
    app.register(ProbeController)
    document_routes(app)
    app.update_openapi_schema()
    document = app.openapi_schema.to_schema()
    operation = document["paths"]["/api/v1/probes/{probe_id}"]["post"]
    assert operation["security"] == [{"bearer": []}]
    # shape (400, 404, 413, 415), guard (401, 503), the use case's refusals (429) and ANSWERS (409, 503), transport
    assert set(operation["responses"]) == {"202", "400", "401", "404", "408", "409", "413", "415", "429", "431", "503"}
    assert document["components"]["schemas"]["ProbeRequest"]["additionalProperties"] is False


def test_a_created_report_links_to_the_operations_that_take_its_id(app: Litestar) -> None:
    document = app.openapi_schema.to_schema()
    links = document["paths"]["/api/v1/reports"]["post"]["responses"]["202"]["links"]
    targets = {link["operationId"] for link in links.values()}
    by_id = {op["operationId"]: (method, path) for method, path, op in _operations(document)}
    assert {by_id[target] for target in targets} >= {
        ("GET", "/api/v1/reports/{report_id}"),
        ("GET", "/api/v1/reports/{report_id}/shares"),
        ("POST", "/api/v1/reports/{report_id}/shares"),
    }
    assert all(link["parameters"] == {"report_id": "$response.body#/report_id"} for link in links.values())


def test_options_answers_every_path_alike_without_a_credential_naming_every_method(app: Litestar) -> None:
    document = app.openapi_schema.to_schema()
    with TestClient(app) as client:
        for path, item in document["paths"].items():
            concrete = re.sub(r"\{[^}]*\}", "0190a6c4-3d6e-7000-8000-000000000000", path)
            answer = client.options(concrete)
            assert answer.status_code == 204, path
            allowed = set(answer.headers["allow"].split(", "))
            assert allowed == {method.upper() for method in item} | {"OPTIONS"}, path
