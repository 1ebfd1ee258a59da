"""Run Herald on a real loopback socket inside the test's event loop."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs

from infrastructure.container import Container
from presentation.process.server import HeraldServer, build_server


@attrs.frozen
class RunningHerald:
    """A served app: where to reach it and the container behind it."""

    base_url: str
    container: Container
    server: HeraldServer
    metrics_url: str
    """``GET /metrics`` on the metrics listener (a port of its own)."""


@asynccontextmanager
async def serve(container: Container) -> AsyncIterator[RunningHerald]:
    """Serve ``create_app(container)`` with uvicorn on a free port until the block ends."""
    server = build_server(container, host="127.0.0.1", port=0, metrics_port=0, log_level="warning", tune_gc=False)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    raise RuntimeError("Herald stopped during start-up (see the log above)")
                await asyncio.sleep(0.01)
    except BaseException:
        task.cancel()
        raise
    port = server.servers[0].sockets[0].getsockname()[1]
    assert server.metrics is not None
    metrics_url = f"http://127.0.0.1:{server.metrics.port}/metrics"
    try:
        yield RunningHerald(
            base_url=f"http://127.0.0.1:{port}", container=container, server=server, metrics_url=metrics_url
        )
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=15)
