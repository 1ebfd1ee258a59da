"""Error responses: every error is an RFC 9457 problem document, never a traceback."""

import logging
from http import HTTPStatus
from typing import Any

import attrs
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin
from litestar.types import ExceptionHandlersMap

from application.ports.unit_of_work import ConcurrentUpdateError, StorageUnavailableError
from application.refusals import RefusalKind
from domain.ports import SubscriberUnavailableError
from presentation.http.json_body import ClientGoneError
from presentation.http.refusals import STATUS

logger = logging.getLogger(__name__)


PROBLEM_JSON = "application/problem+json"


def _as_problem(error: HTTPException) -> ProblemDetailsException:
    # The title is the status phrase; the detail says what was wrong with this request.
    return ProblemDetailsException(
        status_code=error.status_code,
        title=HTTPStatus(error.status_code).phrase,
        detail=error.detail,
        extra=error.extra,
        headers=error.headers,
    )


def problem_details_plugin() -> ProblemDetailsPlugin:
    """Litestar's problem-details plugin, applied to every HTTP error (401, 400, 404, 405 …)."""
    return ProblemDetailsPlugin(ProblemDetailsConfig(exception_to_problem_detail_map={HTTPException: _as_problem}))


def _problem(
    status: int, detail: str | None = None, headers: dict[str, str] | None = None
) -> Response[dict[str, object]]:
    """A bare problem document: the status phrase as its title, and what to do in ``detail`` when there is any."""
    body: dict[str, object] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    if detail is not None:
        body["detail"] = detail
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def internal_error(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, object]]:
    """An unexpected error: logged with its traceback, answered with a bare problem document."""
    logger.exception("unhandled %s on %s %s", type(error).__name__, request.method, request.url.path)
    return _problem(500)


#: What a 503 tells the client: a database or a broker that is away usually returns within seconds.
RETRY_AFTER_SECONDS = 5


@attrs.frozen
class Answer:
    """How an error that reaches the edge is answered: what the caller can do about it, and a safe detail."""

    kind: RefusalKind
    detail: str


#: The errors that reach the edge on their own, by what the caller can do about them; their statuses are
#: those of a use case's refusals (``presentation.http.refusals.STATUS``). A fork's own error is one line here.
ANSWERS: dict[type[Exception], Answer] = {
    ConcurrentUpdateError: Answer(
        RefusalKind.CONFLICT, "it was changed by another request meanwhile; reload it and try again"
    ),
    StorageUnavailableError: Answer(RefusalKind.UNAVAILABLE, "try again shortly"),
    SubscriberUnavailableError: Answer(RefusalKind.UNAVAILABLE, "try again shortly"),
}


def _answer(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, object]]:
    """An error of :data:`ANSWERS`: its status and detail; what went wrong inside stays in the log."""
    answer = next(ANSWERS[kind] for kind in type(error).__mro__ if kind in ANSWERS)
    unavailable = answer.kind is RefusalKind.UNAVAILABLE
    logger.log(logging.WARNING if unavailable else logging.INFO, "%s %s: %s", request.method, request.url.path, error)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if unavailable else None
    return _problem(STATUS[answer.kind], answer.detail, headers=headers)


def client_gone(request: Request[Any, Any, Any], _: Exception) -> Response[None]:
    """The client left while sending its body: nothing to answer, and not an error of the service."""
    logger.debug("%s %s: the client left before sending its whole body", request.method, request.url.path)
    return Response(None, status_code=400)


def exception_handlers() -> ExceptionHandlersMap:
    """What an error no use case turned into a refusal answers.

    A use case refuses what it expects (``Refused``, see ``presentation.http.refusals``); the errors of
    :data:`ANSWERS` reach the edge on their own. Anything else is a 500 that logs its traceback.
    """
    handlers: ExceptionHandlersMap = {Exception: internal_error, ClientGoneError: client_gone}
    handlers.update(dict.fromkeys(ANSWERS, _answer))
    return handlers
