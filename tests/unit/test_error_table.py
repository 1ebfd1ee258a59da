"""The one table from the errors that reach the edge to their statuses: each a problem document."""

from typing import Annotated

import pytest
from litestar import Litestar, get
from litestar.params import PathParameter
from litestar.testing import AsyncTestClient

from application.ports.unit_of_work import ConcurrentUpdateError, StorageUnavailableError
from application.refusals import RefusalKind
from domain.ports import SubscriberUnavailableError
from presentation.http.errors import ANSWERS, Answer, exception_handlers, problem_details_plugin

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


class InvoiceAlreadyPaidError(ValueError):
    """A fork's own domain error."""


class NotYourInvoiceError(InvoiceAlreadyPaidError):
    """A narrower error, answered by its own line before its base's."""


@get("/invoice/{which:str}", sync_to_thread=False)
def paying(which: Annotated[str, PathParameter()]) -> None:
    raise NotYourInvoiceError("invoice 7") if which == "theirs" else InvoiceAlreadyPaidError("invoice 7")


async def test_a_forks_own_error_is_one_line_of_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ANSWERS, InvoiceAlreadyPaidError, Answer(RefusalKind.CONFLICT, "the invoice is paid"))
    monkeypatch.setitem(ANSWERS, NotYourInvoiceError, Answer(RefusalKind.FORBIDDEN, "not your invoice"))
    app = Litestar([paying], exception_handlers=exception_handlers(), plugins=[problem_details_plugin()])
    async with AsyncTestClient(app) as client:
        paid, theirs = await client.get("/invoice/mine"), await client.get("/invoice/theirs")
    assert (paid.status_code, paid.json()["detail"]) == (409, "the invoice is paid")
    assert (theirs.status_code, theirs.json()["detail"]) == (403, "not your invoice")
    assert paid.headers["content-type"] == theirs.headers["content-type"] == "application/problem+json"
