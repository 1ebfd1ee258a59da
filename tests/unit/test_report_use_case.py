"""Reports are saved with each change, their events carry the version, and the outcome is stored.

The use case on in-memory units of work first; then what needs the process: shutdown, and a takeover.
"""

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, cast

from application.ports import ReportRenderer
from application.recorded import Recorded
from application.reports import GenerateReport, LinkRenderer, ReadReports, RequestReport
from domain.events.reports import ReportCompleted, ReportEvent, ReportFailed, ReportProgressed, ReportRequested
from domain.model import Report, ReportStatus
from domain.registry import REGISTRY
from domain.sse import Group
from infrastructure.container import Container, resolve, start, stop
from tests.support.clock import SteppingClock
from tests.support.frames import Message, take_until
from tests.support.memory_units import MemoryUnitsOfWork


class BrokenRenderer:
    async def render(self, report_id: uuid.UUID, title: str) -> str:
        raise RuntimeError("disk full")


def version(message: Message) -> int:
    return int(message.data["version"])  # type: ignore[call-overload]


def finished(message: object) -> bool:
    return getattr(message, "event", "") in ("report.completed", "report.failed")


class Tasks:
    """``BackgroundTasks`` that the test awaits."""

    def __init__(self) -> None:
        self.running: list[asyncio.Task[None]] = []

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        self.running.append(asyncio.ensure_future(work))

    async def finish(self) -> None:
        await asyncio.gather(*self.running)


class NoLimit:
    def take(self, user_id: uuid.UUID) -> bool:
        return True

    def retry_after_seconds(self, user_id: uuid.UUID) -> int:
        return 0


class NoPosition:
    async def position(self, user_id: uuid.UUID, groups: frozenset[Group] = frozenset()) -> str | None:
        return None


async def request_and_generate(units: MemoryUnitsOfWork, renderer: ReportRenderer, owner: uuid.UUID) -> Report:
    """Request a report of ``owner``, generate it to the end, and read it back."""
    clock, tasks = SteppingClock(), Tasks()
    generate = GenerateReport(units, renderer, clock, step_delay_seconds=0, lease_seconds=60)
    request = RequestReport(units, generate, tasks, clock, rate=NoLimit(), max_unfinished=5, registry=REGISTRY)
    requested = await request(owner, "Q3")
    assert isinstance(requested, Recorded)
    await tasks.finish()
    [event] = [e for e in units.published if isinstance(e, ReportRequested)]
    assert requested.event_ids == (event.event_id,)  # its report.requested, as the stream will carry it
    [report] = (await ReadReports(units, cast("Any", NoPosition())).page(owner, limit=10)).reports
    return report


async def test_requested_progress_then_completed_each_saved_with_its_version() -> None:
    units, owner = MemoryUnitsOfWork(), uuid.uuid4()
    report = await request_and_generate(units, LinkRenderer(), owner)
    events = cast("list[ReportEvent]", units.published)
    assert [type(event) for event in events] == [
        ReportRequested,
        ReportProgressed,
        ReportProgressed,
        ReportProgressed,
        ReportCompleted,
    ]
    assert [event.version for event in events] == [1, 2, 3, 4, 5]
    assert [event.percent for event in events if isinstance(event, ReportProgressed)] == [25, 50, 75]
    assert {event.report_id for event in events} == {report.report_id}
    assert (report.status, report.version, report.percent) == (ReportStatus.COMPLETED, 5, 100)
    assert isinstance(events[-1], ReportCompleted)
    assert report.download_url == events[-1].download_url


async def test_a_renderer_error_becomes_report_failed_and_is_stored() -> None:
    units = MemoryUnitsOfWork()
    report = await request_and_generate(units, BrokenRenderer(), uuid.uuid4())
    failed = units.published[-1]
    assert isinstance(failed, ReportFailed)
    assert failed.reason == "disk full"
    assert (report.status, report.failure) == (ReportStatus.FAILED, "disk full")


async def test_shutdown_cancels_generation_and_leaves_the_report_leased(
    make_container: Callable[..., Container],
) -> None:
    container = make_container(report_step_seconds=30)
    await start(container)
    owner = uuid.uuid4()
    try:
        await (await resolve(container.request_report))(owner, "slow")
        tasks = await resolve(container.tasks)
        assert tasks.running == 1
    finally:
        await asyncio.wait_for(stop(container), timeout=5)
    assert tasks.running == 0


async def test_a_report_left_by_a_stopped_process_is_finished_by_the_next(
    make_container: Callable[..., Container], tmp_path: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'reports.sqlite3'}"
    first = make_container(database_url=database, report_step_seconds=30, report_lease_seconds=0.3)
    await start(first)
    owner = uuid.uuid4()
    try:
        requested = await (await resolve(first.request_report))(owner, "interrupted")
        assert isinstance(requested, Recorded)
        report_id = requested.value
    finally:
        await stop(first)  # generation is cancelled mid-step: the report stays requested, under a lease

    second = make_container(database_url=database, report_step_seconds=0, report_lease_seconds=0.3)
    await start(second)
    try:
        stream = await (await resolve(second.subscriber)).subscribe(owner)
        seen = await take_until(stream, finished)
        assert seen[-1].event == "report.completed"
        assert {m.data["report_id"] for m in seen} == {str(report_id)}
        [report] = (await (await resolve(second.read_reports)).page(owner, limit=10)).reports
        assert (report.status, report.version) == (ReportStatus.COMPLETED, 5)
    finally:
        await stop(second)
