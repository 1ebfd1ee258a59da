"""The database and the background work on it, as the container's resources.

The work (the outbox relay, the recovery of reports whose process stopped)
runs for the application's lifetime and stops between rounds, before the
database closes.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from application.reports import ResumeStalledReports
from infrastructure.persistence.database import Database
from infrastructure.persistence.relay import OutboxRelay
from infrastructure.tracing.instrumentation import traced_engine

if TYPE_CHECKING:  # tracing is imported only when it is on
    from infrastructure.tracing.tracing import Tracing

logger = logging.getLogger(__name__)


async def open_database(
    url: str, pool_size: int, claim: Path | None, tracing: "Tracing | None" = None
) -> AsyncIterator[Database]:
    """The database, its schema brought up to date before anything uses it; its statements traced with tracing.

    ``claim`` is the SQLite file this process holds: the database opens only after it was claimed.
    """
    database = Database(url, pool_size=pool_size)
    try:
        await database.migrate()
        with traced_engine(database.engine, tracing):
            yield database
    finally:
        await database.aclose()


#: How long a loop of background work may take to finish its round when the service stops.
_FINISH_SECONDS = 5.0


async def _finish(task: "asyncio.Task[None]") -> None:
    """Wait for ``task`` to end by itself; cancel it if it takes longer than its round should."""
    _, late = await asyncio.wait({task}, timeout=_FINISH_SECONDS)
    if late:
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def run_outbox_relay(relay: OutboxRelay) -> AsyncIterator[OutboxRelay]:
    """The relay, at work for the application's lifetime; stopped between passes, before the database closes."""
    task = asyncio.get_running_loop().create_task(relay.run(), name="herald-outbox-relay")
    yield relay
    relay.stop()
    await _finish(task)


async def run_report_recovery(resume: ResumeStalledReports, every_seconds: float) -> AsyncIterator[None]:
    """Claim reports whose process stopped, every ``every_seconds``, for the application's lifetime."""
    stopping = asyncio.Event()

    async def loop() -> None:
        while not stopping.is_set():
            try:
                await resume()
            except Exception as error:  # the database is away: the reports wait for the next round
                logger.warning("stalled reports could not be claimed (%s)", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), every_seconds)

    task = asyncio.get_running_loop().create_task(loop(), name="herald-report-recovery")
    yield None
    stopping.set()
    await _finish(task)
