"""``GET /health``: liveness, with the broker's readiness."""

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency

from domain.ports import SSESubscriberProtocol


@get("/health", summary="Liveness and readiness", tags=["health"], cache=False)
async def health(
    subscriber: NamedDependency[SSESubscriberProtocol], broker_kind: NamedDependency[str]
) -> Response[dict[str, Any]]:
    """200 when the broker can deliver events, 503 otherwise (so a load balancer stops routing)."""
    ready = await subscriber.is_ready()
    body = {"status": "ok" if ready else "unavailable", "broker": {"kind": broker_kind, "ready": ready}}
    return Response(body, status_code=200 if ready else 503)
