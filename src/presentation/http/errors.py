"""Error responses: every error is an RFC 9457 problem document, never a traceback."""

import logging
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin
from litestar.types import ExceptionHandlersMap

from application.ports.unit_of_work import ConcurrentUpdateError, StorageUnavailableError
from domain.ports import SubscriberUnavailableError
from presentation.http.json_body import ClientGoneError

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


def unavailable(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, object]]:
    """The database or the broker cannot answer now: 503, and when to try again."""
    logger.warning("%s %s: %s", request.method, request.url.path, error)
    return _problem(503, "try again shortly", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def client_gone(request: Request[Any, Any, Any], _: Exception) -> Response[None]:
    """The client left while sending its body: nothing to answer, and not an error of the service."""
    logger.debug("%s %s: the client left before sending its whole body", request.method, request.url.path)
    return Response(None, status_code=400)


def concurrent_update(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, object]]:
    """Another request changed the same thing first (an optimistic lock lost): 409, reload and try again."""
    logger.info("%s %s: %s", request.method, request.url.path, error)
    return _problem(409, "it was changed by another request meanwhile; reload it and try again")


def exception_handlers() -> ExceptionHandlersMap:
    """What an error no use case turned into a refusal answers: the one table from errors to statuses.

    A use case refuses what it expects (``Refused``, see ``presentation.http.refusals``); these are the errors
    that reach the edge on their own. Anything else is a 500 that logs its traceback.
    """
    return {
        Exception: internal_error,
        ClientGoneError: client_gone,
        StorageUnavailableError: unavailable,
        SubscriberUnavailableError: unavailable,
        ConcurrentUpdateError: concurrent_update,
    }
