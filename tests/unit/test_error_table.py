"""The one table from the errors that reach the edge to their statuses: each a problem document."""

from typing import Annotated

import pytest
from litestar import Litestar, get
from litestar.params import PathParameter
from litestar.testing import AsyncTestClient

from application.ports.unit_of_work import ConcurrentUpdateError, StorageUnavailableError
from domain.ports import SubscriberUnavailableError
from presentation.http.errors import exception_handlers, problem_details_plugin

RAISED: dict[str, Exception] = {
    "conflict": ConcurrentUpdateError("report 1 is at version 3, not 2"),
    "storage": StorageUnavailableError("the database is away"),
    "broker": SubscriberUnavailableError("Redis is away"),
    "bug": RuntimeError("a bug"),
}


@get("/{name:str}", sync_to_thread=False)
def raising(name: Annotated[str, PathParameter()]) -> None:
    raise RAISED[name]


@pytest.mark.parametrize(
    ("name", "status", "retry_after"),
    [("conflict", 409, None), ("storage", 503, "5"), ("broker", 503, "5"), ("bug", 500, None)],
)
async def test_an_error_that_reaches_the_edge_answers_its_status_as_a_problem(
    name: str, status: int, retry_after: str | None
) -> None:
    app = Litestar([raising], exception_handlers=exception_handlers(), plugins=[problem_details_plugin()])
    async with AsyncTestClient(app) as client:
        response = await client.get(f"/{name}")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert response.headers.get("retry-after") == retry_after
    assert str(RAISED[name]) not in response.text  # what went wrong inside stays in the log
