"""``GET /schema/asyncapi.json`` serves the registry's AsyncAPI document beside Litestar's OpenAPI."""

from collections.abc import Callable

import httpx
import pytest

from domain.registry import REGISTRY
from infrastructure.asyncapi import asyncapi_document
from infrastructure.container import Container
from presentation.http.controllers.asyncapi import ASYNCAPI_PATH
from tests.support.asyncapi import asyncapi_errors
from tests.support.server import RunningHerald, serve


async def test_the_document_is_served_as_json(client: httpx.AsyncClient, service: RunningHerald) -> None:
    response = await client.get(ASYNCAPI_PATH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document == asyncapi_document(REGISTRY, server_url=service.container.settings().server_url)
    assert asyncapi_errors(document) == []


@pytest.mark.parametrize("path", ["/schema/openapi.json", "/schema"])
async def test_litestars_openapi_routes_still_answer(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    if path.endswith(".json"):
        assert response.json()["openapi"].startswith("3.")


async def test_the_document_is_served_in_production_naming_the_public_address(
    make_container: Callable[..., Container],
) -> None:
    container = make_container(env="production", public_url="https://events.example.com")
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url) as client:
        response = await client.get(ASYNCAPI_PATH)
        assert response.status_code == 200
        assert response.json()["asyncapi"] == "3.0.0"
        assert response.json()["servers"]["herald"]["host"] == "events.example.com"
        assert (await client.post("/api/v1/dev/tokens", json={})).status_code in (404, 405)  # production it is
