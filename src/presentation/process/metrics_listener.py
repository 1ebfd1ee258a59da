"""Prometheus metrics on a listener of their own, which no public proxy fronts.

The public app has no metrics route, so no spelling of the path
(``/metrics/``, ``//metrics``, ``/%6detrics``) reaches metrics through
whatever stands in front of it. This listener binds ``HERALD_METRICS_HOST``
(loopback unless an operator names an internal interface) on
``HERALD_METRICS_PORT`` and answers ``GET /metrics`` and nothing else.
"""

import logging
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

METRICS_PATH = "/metrics"


def metrics_app(registry: CollectorRegistry) -> ASGIApp:
    """``GET /metrics`` in Prometheus' text format; 404 for any other path, 405 for another method."""

    async def app(scope: Scope, _: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        if scope["path"] != METRICS_PATH:
            status, body = 404, b"not found: metrics are at /metrics\n"
        elif scope["method"] not in ("GET", "HEAD"):
            status, body = 405, b"method not allowed: GET /metrics\n"
            headers.append((b"allow", b"GET, HEAD"))
        else:
            status, body = 200, generate_latest(registry)
            headers = [(b"content-type", CONTENT_TYPE_LATEST.encode())]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    return app


class MetricsListener:
    """The socket is bound at once (a taken port stops the start-up, naming the setting); serving starts later.

    Serving waits until the app has started, since the registry reads
    components the app's start-up creates.
    """

    def __init__(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self._socket = socket.create_server((host.strip("[]"), port), family=family)
        except OSError as error:
            raise OSError(
                f"cannot listen for metrics on {host}:{port} (HERALD_METRICS_HOST / HERALD_METRICS_PORT): {error}"
            ) from error
        self._server: uvicorn.Server | None = None

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    async def start(self, registry: CollectorRegistry) -> None:
        config = uvicorn.Config(
            metrics_app(registry),
            lifespan="off",
            log_config=None,  # and access_log left on: uvicorn's off switch silences the access log process-wide
            proxy_headers=False,
            server_header=False,
            date_header=False,
            timeout_graceful_shutdown=1,
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[self._socket])
        self._server = server
        host, port = self._socket.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        logger.info("metrics at http://%s:%d%s", shown, port, METRICS_PATH, extra={"metrics_port": port})

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown(sockets=[self._socket])
            self._server = None
        self._socket.close()
