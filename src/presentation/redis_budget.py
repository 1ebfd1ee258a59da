"""Every HTTP request gets one Redis budget (``HERALD_REDIS_TIMEOUT_SECONDS``) for all its Redis steps."""

from collections.abc import Callable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from infrastructure.redis_deadline import end_redis_budget, start_redis_budget


def redis_budget_middleware(seconds: float) -> Callable[[ASGIApp], ASGIApp]:
    """ASGI middleware: open the request's budget before any handler, guard or dependency runs."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def within_budget(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            token = start_redis_budget(seconds)
            try:
                await app(scope, receive, send)
            finally:
                end_redis_budget(token)

        return within_budget

    return middleware
