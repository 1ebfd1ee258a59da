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
        "registry": _provide(container.registry),
        "subscriber": _provide(container.subscriber),
        "broker_kind": _provide(container.broker_kind),
        "request_report": _provide(container.request_report),
        "read_reports": _provide(container.read_reports),
        "share_report": _provide(container.share_report),
        "unshare_report": _provide(container.unshare_report),
        "list_report_shares": _provide(container.list_report_shares),
        "outbox_relay": _provide(container.outbox_relay),
        "publish_announcement": _provide(container.publish_announcement),
        "open_stream": _provide(container.open_stream),
        "read_presence": _provide(container.read_presence),
        "stream_preamble": _provide(container.stream_preamble),
        "issue_ticket": _provide(container.issue_ticket),
        "issue_stream_cookie": _provide(container.issue_stream_cookie),
        "secure_cookies": _provide(container.secure_cookies),
        "revoke_session": _provide(container.revoke_session),
        "token_issuer": _provide(container.token_service),
        "identity_provider": _provide(container.identity_provider),
        "asyncapi_document": _provide(container.asyncapi_document),
    }
