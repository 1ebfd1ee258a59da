"""Bridges the container to Litestar's dependency injection (``Provide``)."""

from collections.abc import Awaitable, Callable
from typing import Any, cast

from dependency_injector import providers
from litestar.di import Provide

from infrastructure.container import Container, resolve


def _provide(provider: providers.Provider[Any]) -> Provide:
    async def provide() -> Any:
        return await resolve(provider)

    return Provide(cast("Callable[[], Awaitable[Any]]", provide), use_cache=True)


def container_dependencies(container: Container) -> dict[str, Provide]:
    """The container's providers that handlers may ask for, by parameter name."""
    return {
        "settings": _provide(container.settings),
        "registry": _provide(container.registry),
        "subscriber": _provide(container.subscriber),
        "token_service": _provide(container.token_service),
        "request_report": _provide(container.request_report),
        "publish_announcement": _provide(container.publish_announcement),
        "ticket_store": _provide(container.ticket_store),
        "session_revocations": _provide(container.session_revocations),
        "stream_lifetimes": _provide(container.stream_lifetimes),
        "stream_admission": _provide(container.stream_admission),
        "ticket_rate": _provide(container.ticket_rate),
        "metrics": _provide(container.metrics),
    }
