"""The stream, which the fuzzer leaves out because it never ends, answers as the OpenAPI document says."""

from typing import Any

import httpx
import jsonschema

from tests.api.conftest import TokenFactory


async def _operation(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    document = (await client.get("/schema/openapi.json")).json()
    return document, document["paths"]["/api/v1/events"]["get"]


async def test_the_stream_opens_as_documented_an_event_stream_with_its_headers(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    _, operation = await _operation(client)
    documented = operation["responses"]["200"]
    async with client.stream("GET", "/api/v1/events", headers=auth()) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].split(";")[0] in documented["content"]
        for name, header in documented["headers"].items():
            assert response.headers[name] == header["schema"]["const"]
    assert operation["externalDocs"]["url"] == "/schema/asyncapi.json"
    assert "last-event-id" in {p["name"].lower() for p in operation["parameters"] if p["in"] == "header"}


async def test_a_refused_stream_answers_a_documented_status_with_the_problem_schema(client: httpx.AsyncClient) -> None:
    document, operation = await _operation(client)
    for params, status in [({}, 401), ({"categories": "nonsense"}, 400), ({"last_event_id": "x" * 5000}, 414)]:
        refused = await client.get("/api/v1/events", params=params)
        assert refused.status_code == status, params
        assert str(status) in operation["responses"]
        documented = operation["responses"][str(status)]
        assert refused.headers["content-type"] in documented["content"]
        schema = {**document["components"]["schemas"]["Problem"], "components": document["components"]}
        jsonschema.validate(refused.json(), schema)
        for name in documented.get("headers", {}):
            assert name in refused.headers, (status, name)


async def test_every_credential_of_the_stream_is_a_documented_security_scheme(client: httpx.AsyncClient) -> None:
    document, operation = await _operation(client)
    schemes = document["components"]["securitySchemes"]
    assert {name for requirement in operation["security"] for name in requirement} == set(schemes)
    assert {(s["in"], s["name"]) for s in schemes.values() if s["type"] == "apiKey"} == {
        ("cookie", "herald_stream"),
        ("query", "ticket"),
    }
