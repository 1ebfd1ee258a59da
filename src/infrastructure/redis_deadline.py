"""How long the current request may still wait on Redis: one budget shared by all of its Redis steps.

A request can touch Redis several times (the revocation check, then a ticket,
a subscription, a publish). Bounding each step separately would let a hung
Redis hold the request for the sum of the bounds, so the edge opens one
budget per request (:func:`start_redis_budget`) and every adapter waits only for
what is left of it (:func:`redis_wait`). Work outside a request (a publish
retried in the background, a catch-up after an outage) has no budget and
waits for its own bound.
"""

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar, Token
from typing import Any

#: A plain ASGI application (typed loosely: this module depends on no web framework).
ASGIApp = Callable[..., Awaitable[None]]

_deadline: ContextVar[float | None] = ContextVar("herald_redis_deadline", default=None)


def start_redis_budget(seconds: float) -> Token[float | None]:
    """From now on, in this context (one request), all Redis waits together last at most ``seconds``.

    A token rather than a context manager: a generator would stay alive beside every open stream.
    """
    return _deadline.set(asyncio.get_running_loop().time() + seconds)


def end_redis_budget(token: Token[float | None]) -> None:
    """Close the budget opened by :func:`start_redis_budget`."""
    _deadline.reset(token)


def outside_requests() -> None:
    """In this context (background work a request started), no request's budget applies."""
    _deadline.set(None)


def redis_deadline(default_seconds: float) -> float:
    """The loop time by which the current Redis step must be over."""
    now = asyncio.get_running_loop().time()
    deadline = _deadline.get()
    return now + default_seconds if deadline is None else min(deadline, now + default_seconds)


def redis_wait(default_seconds: float) -> asyncio.Timeout:
    """``async with redis_wait(s):`` a Redis step bounded by the request's budget (or ``s`` outside a request)."""
    return asyncio.timeout_at(redis_deadline(default_seconds))


def redis_budget_middleware(seconds: float) -> Callable[[Any], ASGIApp]:
    """ASGI middleware: each HTTP request gets one budget, opened before any handler, guard or dependency runs."""

    def middleware(app: Any) -> ASGIApp:
        async def within_budget(
            scope: MutableMapping[str, Any],
            receive: Callable[[], Awaitable[Any]],
            send: Callable[[Any], Awaitable[None]],
        ) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            token = start_redis_budget(seconds)
            try:
                await app(scope, receive, send)
            finally:
                end_redis_budget(token)

        return within_budget

    return middleware
