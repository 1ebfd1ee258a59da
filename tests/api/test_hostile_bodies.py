"""Hostile request bodies on every route that takes one: a 4xx problem document, never a 5xx, no traceback logged.

Protected routes authenticate before they read the body, so an anonymous caller
gets 401 whatever it sends; an authenticated one gets the status naming what is
wrong with the body.
"""

import logging
import re
import uuid

import httpx
import msgspec
import pytest

from infrastructure.container import Container
from presentation.http.app import create_app
from presentation.http.auth import authenticated
from tests.support.server import RunningHerald

JSON = "application/json"

#: name -> (body, Content-Type or None, expected status for a caller allowed on the route)
BODIES: dict[str, tuple[bytes, str | None, int]] = {
    "invalid UTF-8": (b'{"FIELD": "\xff\xfe"}', JSON, 400),
    "overlong UTF-8 encoding": (b'{"FIELD": "\xc0\xaf"}', JSON, 400),
    "charset=latin-1": ('{"FIELD": "caf\u00e9"}'.encode("latin-1"), f"{JSON}; charset=latin-1", 415),
    "charset=utf-16": ('{"FIELD": "x"}'.encode("utf-16"), f"{JSON}; charset=utf-16", 415),
    "UTF-16 labelled as UTF-8": ('{"FIELD": "x"}'.encode("utf-16"), JSON, 400),
    "UTF-32": ('{"FIELD": "x"}'.encode("utf-32"), JSON, 400),
    "byte order mark": (b'\xef\xbb\xbf{"FIELD": "x"}', JSON, 400),
    "nested 30,000 deep": (b"[" * 30_000 + b"]" * 30_000, JSON, 400),
    "objects nested 10,000 deep": (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, JSON, 400),
    "nested in a field": (b'{"FIELD": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", JSON, 400),
    "raw NUL after the JSON": (b'{"FIELD": "x"}\x00', JSON, 400),
    "raw NUL inside a string": (b'{"FIELD": "a\x00b"}', JSON, 400),
    "escaped NUL in the text": (b'{"FIELD": "a\\u0000b"}', JSON, 400),
    "escaped control character": (b'{"FIELD": "a\\u001bb"}', JSON, 400),
    "lone surrogate escape": (b'{"FIELD": "a\\ud800b"}', JSON, 400),
    "overlong number": (b'{"FIELD": 1' + b"0" * 5_000 + b"}", JSON, 400),
    "huge exponent": (b'{"FIELD": 1e999999}', JSON, 400),
    "NaN": (b'{"FIELD": NaN}', JSON, 400),
    "truncated JSON": (b'{"FIELD": "x', JSON, 400),
    "empty body": (b"", JSON, 400),
    "JSON null": (b"null", JSON, 400),
    "a bare string": (b'"x"', JSON, 400),
    "wrong field type": (b'{"FIELD": ["x"]}', JSON, 400),
    "unknown field": (b'{"FIELD": "x", "admin": true}', JSON, 400),
    "100 KB body": (b'{"FIELD": "' + b"x" * 100_000 + b'"}', JSON, 413),
    "text/plain": (b'{"FIELD": "x"}', "text/plain", 415),
    "form encoded": (b"FIELD=x", "application/x-www-form-urlencoded", 415),
    "multipart": (b"--b\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b", 415),
    "no Content-Type": (b'{"FIELD": "x"}', None, 415),
}


def routes_with_a_body() -> dict[str, tuple[str, str, bool, bytes]]:
    """Every route of the app that reads a body, found in the app itself: a new one is covered without a word here.

    route -> (its path with the parameters filled in, its method, whether it is protected, its body's first
    field; FIELD in a body stands for it).
    """
    found = {}
    for route in create_app(Container()).routes:
        for handler in getattr(route, "route_handlers", ()):
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is None:
                continue
            path = re.sub(r"\{[^:}]+:([^}]+)\}", lambda m: str(uuid.uuid4()) if m[1] == "uuid" else "x", route.path)
            (method,) = handler.http_methods
            protected = authenticated in handler.resolve_guards()
            found[route.path] = (path, method, protected, msgspec.structs.fields(data.annotation)[0].name.encode())
    return found


ROUTES = routes_with_a_body()


def test_every_route_with_a_body_is_found() -> None:
    expected = {"/api/v1/reports", "/api/v1/reports/{report_id:uuid}/shares", "/api/v1/announcements"}
    assert expected | {"/api/v1/dev/tokens"} <= set(ROUTES)


def admin_headers(service: RunningHerald) -> dict[str, str]:
    token = service.container.token_service().issue(uuid.uuid4(), ["admin"])
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("authenticated", [False, True], ids=["anonymous", "authenticated"])
async def test_hostile_bodies_are_4xx_problems(
    service: RunningHerald, route: str, authenticated: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    results = {}
    async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
        for name, (body, content_type, status) in BODIES.items():
            headers = admin_headers(service) if authenticated else {}
            if content_type is not None:
                headers["content-type"] = content_type
            path, method, protected, field = ROUTES[route]
            response = await client.request(method, path, content=body.replace(b"FIELD", field), headers=headers)
            expected = 401 if protected and not authenticated else status
            results[name] = response.status_code
            assert response.status_code == expected, f"{name}: {response.status_code} {response.text[:200]}"
            assert response.headers["content-type"] == "application/problem+json", name
            assert response.json()["status"] == expected
            assert len(response.content) < 1000, name
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], "a body was logged as an error"
    print(f"\n{route} ({'authenticated' if authenticated else 'anonymous'}): {results}")


@pytest.mark.parametrize(
    ("route", "body", "status"),
    [
        ("/api/v1/reports", {"title": "Q3"}, 202),
        ("/api/v1/announcements", {"message": "hello\nworld"}, 202),
        ("/api/v1/dev/tokens", {"user_id": str(uuid.uuid4())}, 200),
    ],
)
@pytest.mark.parametrize(
    "content_type", [JSON, f"{JSON}; charset=utf-8", f"{JSON}; charset=UTF-8", "application/problem+json"]
)
async def test_well_formed_bodies_are_accepted(
    service: RunningHerald, route: str, body: object, status: int, content_type: str
) -> None:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        response = await client.post(
            route,
            content=httpx.Request("POST", "/", json=body).content,
            headers={**admin_headers(service), "content-type": content_type},
        )
    assert response.status_code == status, response.text
