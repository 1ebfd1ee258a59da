"""``GET /health``: liveness, with the broker's readiness."""

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec

from application.ports import KeySetState, OutboxBacklog
from domain.ports import SSESubscriberProtocol
from infrastructure.container import Container
from presentation.http.from_container import from_container


@get(
    "/health",
    summary="Liveness and readiness",
    tags=["health"],
    cache=False,
    responses={503: ResponseSpec(dict[str, Any], description="Not ready: the broker cannot deliver events")},
    dependencies={
        "subscriber": from_container(Container.subscriber),
        "broker_kind": from_container(Container.broker_kind),
        "provider_keys": from_container(Container.provider_keys),
        "outbox": from_container(Container.outbox_backlog),
    },
)
async def health(
    subscriber: NamedDependency[SSESubscriberProtocol],
    broker_kind: NamedDependency[str],
    provider_keys: NamedDependency[KeySetState | None],
    outbox: NamedDependency[OutboxBacklog],
) -> Response[dict[str, Any]]:
    """200 when the broker can deliver events, 503 otherwise (so a load balancer stops routing).

    With an identity provider, its key set's state is shown too; a provider
    that cannot be reached does not make the process unready (the keys held
    still verify), but ``last_error`` says so. The outbox shows the events
    committed and not yet published (``backlog``): they wait in the database
    while the broker is away, and leave when it is back.
    """
    ready = await subscriber.is_ready()
    body: dict[str, Any] = {"status": "ok" if ready else "unavailable", "broker": {"kind": broker_kind, "ready": ready}}
    body["outbox"] = {
        "backlog": outbox.backlog,
        "oldest_seconds": outbox.oldest_seconds,
        "last_error": outbox.last_error,
    }
    if provider_keys is not None:
        body["identity_provider_keys"] = provider_keys.state
    return Response(body, status_code=200 if ready else 503)
