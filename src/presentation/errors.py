"""Error responses: every error is an RFC 9457 problem document, never a traceback."""

import logging
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin

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


def internal_error(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, object]]:
    """An unexpected error: logged with its traceback, answered with a bare problem document."""
    logger.exception("unhandled %s on %s %s", type(error).__name__, request.method, request.url.path)
    return Response(
        {"type": "about:blank", "title": "Internal Server Error", "status": 500},
        status_code=500,
        media_type=PROBLEM_JSON,
    )


#: What a 503 tells the client: a database or a broker that is away usually returns within seconds.
RETRY_AFTER_SECONDS = 5


def unavailable(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, object]]:
    """The database or the broker cannot answer now: 503, and when to try again."""
    logger.warning("%s %s: %s", request.method, request.url.path, error)
    return Response(
        {"type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": "try again shortly"},
        status_code=503,
        media_type=PROBLEM_JSON,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def client_gone(request: Request[Any, Any, Any], _: Exception) -> Response[None]:
    """The client left while sending its body: nothing to answer, and not an error of the service."""
    logger.debug("%s %s: the client left before sending its whole body", request.method, request.url.path)
    return Response(None, status_code=400)
