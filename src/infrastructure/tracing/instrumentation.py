"""The maintained instrumentations, on Herald's own clients: SQL statements and Redis commands as spans.

Each is put on the one engine or client it traces, with Herald's provider,
and taken off when it closes; nothing is patched for the whole process.
"""

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from infrastructure.tracing.tracing import Tracing


@contextlib.contextmanager
def traced_engine(engine: AsyncEngine, tracing: "Tracing | None") -> Iterator[None]:
    """Statements on ``engine`` become spans while the block runs (nothing without tracing)."""
    if tracing is None:
        yield
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor  # noqa: PLC0415  # only when on

    instrumentor = SQLAlchemyInstrumentor()
    # Its declared range stops below the SQLAlchemy 2.1 Herald runs on, whose engine events it uses unchanged
    # (the tracing tests hold it to that): the range check is skipped, not the instrumentation.
    instrumentor.instrument(engine=engine.sync_engine, tracer_provider=tracing.provider, skip_dep_check=True)
    try:
        yield
    finally:
        instrumentor.uninstrument()


def trace_redis(client: Redis, tracing: "Tracing | None") -> None:
    """Commands (and pipelines) of ``client`` become spans (nothing without tracing)."""
    if tracing is not None:
        from opentelemetry.instrumentation.redis import RedisInstrumentor  # noqa: PLC0415  # only when on

        RedisInstrumentor.instrument_client(client, tracer_provider=tracing.provider)
