"""``GET /health``: liveness, with the broker's readiness."""

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency

from domain.ports import SSESubscriberProtocol


@get("/health", summary="Liveness and readiness", tags=["health"], cache=False)
async def health(
    subscriber: NamedDependency[SSESubscriberProtocol],
    broker_kind: NamedDependency[str],
    identity_provider: NamedDependency[Any],
    outbox_relay: NamedDependency[Any],
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
    relay = outbox_relay.stats
    body["outbox"] = {"backlog": relay.backlog, "oldest_seconds": relay.oldest_seconds, "last_error": relay.last_error}
    if identity_provider is not None:
        body["identity_provider_keys"] = identity_provider.keys.state
    return Response(body, status_code=200 if ready else 503)
