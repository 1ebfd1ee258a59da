"""Report generation under faults: a database outage pauses a report, it never fails it; attempts are unique."""

import uuid
from collections.abc import Callable
from typing import Any

from application.ports.unit_of_work import StorageUnavailableError, UnitOfWork
from application.reports import GenerateReport, LinkRenderer
from domain.model import Report, ReportStatus
from infrastructure.container import Container, resolve, start, stop
from infrastructure.persistence.relay import _attempt


class Unavailable:
    """A unit of work whose database has gone away."""

    async def __aenter__(self) -> Any:
        raise StorageUnavailableError("the database is unavailable (test)")

    async def __aexit__(self, *_: object) -> None:
        return None


class FailingFrom:
    """The real units of work, until the ``nth`` one: from then on the database is away."""

    def __init__(self, units: Callable[[], UnitOfWork], nth: int) -> None:
        self._units, self._nth, self.made = units, nth, 0

    def __call__(self) -> Any:
        self.made += 1
        return self._units() if self.made < self._nth else Unavailable()


async def test_a_database_outage_mid_generation_leaves_the_report_to_be_resumed_not_failed(
    make_container: Callable[..., Container],
) -> None:
    container = make_container(report_step_seconds=0)
    await start(container)
    try:
        units = await resolve(container.units_of_work)
        generate = await resolve(container.generate_report)
        owner = uuid.uuid4()
        async with units() as uow:
            report, event = Report.request(owner, "paused", now=container.clock().now())
            await uow.reports.add(report, lease=generate.lease("first"))
            uow.record(event)
            await uow.commit()
        flaky = GenerateReport(
            FailingFrom(units, nth=3), LinkRenderer(), container.clock(), step_delay_seconds=0, lease_seconds=60
        )
        await flaky(report.report_id, "first")  # reads, saves step 1, then the database goes away
        async with units() as uow:
            stored = await uow.reports.get(report.report_id)
        assert stored is not None
        assert (stored.status, stored.steps_done, stored.failure) == (ReportStatus.IN_PROGRESS, 1, None)
    finally:
        await stop(container)


def test_every_relay_attempt_has_a_token_of_its_own() -> None:
    """Tokens made in the same millisecond must still differ: a retry fences the tokens before it."""
    assert len({_attempt([]).token for _ in range(10_000)}) == 10_000
