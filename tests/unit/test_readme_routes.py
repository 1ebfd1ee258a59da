"""README's route table and the OpenAPI document name the same routes: neither gains one the other lacks."""

import re
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from infrastructure.container import Container
from presentation.http.app import create_app
from tests.conftest import fast_settings

README = Path(__file__).resolve().parents[2] / "README.md"
#: A row of the table: methods (`POST`/`DELETE /path` names two) and the path.
_ROW = re.compile(r"^\| ((?:`[A-Z]+`/)*`[A-Z]+ /[^`]*`) \|", re.MULTILINE)
#: Served on the metrics listener, not by the app: its own port, never in the public document.
METRICS_LISTENER = {("GET", "/metrics")}


def _shape(path: str) -> str:
    """A path with its parameters unnamed: ``{id}`` and ``{report_id:uuid}`` are one route."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def readme_routes() -> set[tuple[str, str]]:
    routes = set()
    for row in _ROW.findall(README.read_text(encoding="utf-8")):
        path = row[row.index(" /") + 1 :].rstrip("`")
        routes.update((method, _shape(path)) for method in re.findall(r"`([A-Z]+)", row))
    return routes


@pytest.fixture
def app() -> Litestar:
    container = Container()
    container.settings.override(fast_settings())
    return create_app(container)


def documented_routes(app: Litestar) -> set[tuple[str, str]]:
    paths = app.openapi_schema.to_schema()["paths"]
    return {(method.upper(), _shape(path)) for path, item in paths.items() for method in item}


def undocumented_routes(app: Litestar) -> set[tuple[str, str]]:
    """What the app serves outside the document: the demo page and the document itself (the ``/schema`` router)."""
    return {
        (method, _shape(route.path))
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for method, (handler, _) in route.route_handler_map.items()
        if method != "OPTIONS" and not handler.resolve_include_in_schema() and "{" not in route.path
    }


def test_every_documented_route_is_in_the_readme(app: Litestar) -> None:
    missing = documented_routes(app) - readme_routes()
    assert not missing, f"in the OpenAPI document, not in README's route table: {sorted(missing)}"


def test_every_route_in_the_readme_is_documented_or_served_outside_the_document(app: Litestar) -> None:
    served = documented_routes(app) | undocumented_routes(app) | METRICS_LISTENER
    extra = readme_routes() - served
    assert not extra, f"in README's route table, not served by the app (nor its metrics listener): {sorted(extra)}"


def test_the_table_is_read() -> None:
    assert ("POST", "/api/v1/events/cookie") in readme_routes()
    assert ("DELETE", "/api/v1/events/cookie") in readme_routes()
