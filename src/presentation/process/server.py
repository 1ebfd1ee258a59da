"""The HTTP server: uvicorn with Herald's transport limits and a shutdown bounded by a grace period."""

import asyncio
import logging
import math
import socket
import sys
import time

import uvicorn

from infrastructure.container import Container, resolve
from infrastructure.settings import Settings
from infrastructure.streams.inbox import EndReason
from infrastructure.streams.signals import EndNotice, end_frame
from presentation.http.app import create_app
from presentation.http.body_send import expose_server_send
from presentation.process.gc_policy import tune_for_long_lived_streams
from presentation.process.metrics_listener import MetricsListener
from presentation.process.transport import LimitedHttpToolsProtocol, TransportLimits

logger = logging.getLogger(__name__)


class _CancelledRequests(logging.Filter):
    """Counts, instead of logging, the requests uvicorn cancels at shutdown (those the grace cut short).

    uvicorn writes a traceback for each; with a thousand stalled clients that
    is a thousand tracebacks saying the same thing. The summary line says it once.
    """

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError):
            self.count += 1
            return False
        return True


class HeraldServer(uvicorn.Server):
    """uvicorn, but open streams are ended first on shutdown, and clients wait no longer than a grace period.

    uvicorn waits for every open response before running the app's shutdown,
    and an SSE response never ends by itself; ending the streams first lets
    clients reconnect (to another instance) at once. Clients that do not take
    their last bytes, and requests whose bodies never finish, are cut off when
    the grace period is over, so the process exits in time whatever they do;
    closing the adapters after that is bounded on its own (a second at most
    for a publisher whose Redis does not answer). The metrics listener
    (:mod:`presentation.process.metrics_listener`) opens after the app has started and
    closes first.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        container: Container,
        *,
        grace_seconds: float,
        metrics_address: tuple[str, int],
        tune_gc: bool = False,
    ) -> None:
        super().__init__(config)
        self._container = container
        self._grace = grace_seconds
        self._metrics_address = metrics_address
        self._tune_gc = tune_gc
        self._cancelled = _CancelledRequests()
        self._cut = 0
        self.metrics: MetricsListener | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            self.metrics = MetricsListener(*self._metrics_address)
        except OSError as error:
            logger.error("%s", error)
            sys.exit(1)  # as uvicorn does when the public port is taken
        try:
            await super().startup(sockets)
        except BaseException:  # uvicorn exits when the app or the public port fails: free the metrics port too
            await self.metrics.stop()
            raise
        if self.started:
            await self.metrics.start(await resolve(self._container.metrics))
        if self._tune_gc:
            tune_for_long_lived_streams()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        started = time.monotonic()
        if self.metrics is not None:
            await self.metrics.stop()
        logging.getLogger("uvicorn.error").addFilter(self._cancelled)
        hub = self._container.stream_hub()
        streams = hub.open_streams
        hub.end_all(EndReason.SHUTDOWN, end_frame(EndNotice.SHUTDOWN))
        # Cut off the stragglers a little before uvicorn's own deadline, so their
        # requests end by themselves instead of being cancelled.
        cut = asyncio.get_running_loop().call_later(max(0.0, self._grace - 0.5), self._cut_connections)
        try:
            await super().shutdown(sockets)
        finally:
            cut.cancel()
            logging.getLogger("uvicorn.error").removeFilter(self._cancelled)
        seconds = time.monotonic() - started
        logger.info(
            "shut down in %.1f s: %d stream(s) ended, %d connection(s) cut off, %d request(s) cut short",
            seconds,
            streams,
            self._cut,
            self._cancelled.count,
            extra={
                "seconds": round(seconds, 3),
                "streams": streams,
                "cut_off": self._cut,
                "cancelled": self._cancelled.count,
            },
        )

    def _cut_connections(self) -> None:
        connections = list(self.server_state.connections)
        self._cut = len(connections)
        for connection in connections:
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()  # drops unsent bytes: a stalled client never takes them


def build_server(
    container: Container,
    *,
    host: str,
    port: int,
    metrics_port: int | None = None,
    log_level: str = "info",
    tune_gc: bool = True,
) -> HeraldServer:
    """A server for ``create_app(container)`` on ``host:port`` (port 0 picks a free one), and its metrics listener.

    The metrics listener binds ``HERALD_METRICS_HOST`` on ``metrics_port``
    (``HERALD_METRICS_PORT`` unless given). ``tune_gc`` applies
    :mod:`presentation.process.gc_policy` once started; a test process that starts
    many servers in turn leaves it off.
    """
    settings: Settings = container.settings()
    limits = TransportLimits(
        max_header_bytes=settings.http_max_header_bytes, request_seconds=settings.http_request_seconds
    )
    config = uvicorn.Config(
        expose_server_send(create_app(container)),
        host=host,
        port=port,
        loop="uvloop",
        http=LimitedHttpToolsProtocol.with_limits(limits),
        lifespan="on",
        log_level=log_level,
        log_config=None,  # uvicorn's loggers propagate to the process's handler (``configure_logging``)
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_seconds),
        timeout_keep_alive=round(settings.http_keepalive_seconds),
        backlog=settings.http_backlog,
        proxy_headers=False,
    )
    metrics_address = (settings.metrics_host, settings.metrics_port if metrics_port is None else metrics_port)
    return HeraldServer(
        config,
        container,
        grace_seconds=settings.shutdown_grace_seconds,
        metrics_address=metrics_address,
        tune_gc=tune_gc,
    )
