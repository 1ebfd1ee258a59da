"""``GET /metrics``: Prometheus exposition of Herald's metrics."""

from litestar import Response, get
from litestar.di import NamedDependency
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


@get("/metrics", summary="Prometheus metrics", tags=["health"], cache=False, include_in_schema=False)
async def metrics(metrics: NamedDependency[CollectorRegistry]) -> Response[bytes]:
    """Open streams, events published / delivered / dropped by type, resumes, Redis reconnects, fan-out latency."""
    return Response(generate_latest(metrics), media_type=CONTENT_TYPE_LATEST)
