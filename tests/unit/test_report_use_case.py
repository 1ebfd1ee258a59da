"""The report use case raises its events in order, and a failure as ReportFailed."""

import asyncio
import uuid

from application.reports import LinkRenderer, RequestReport
from domain.events import DomainEvent, ReportCompleted, ReportFailed, ReportProgressed, ReportRequested
from infrastructure.event_bus import InProcessEventBus
from infrastructure.tasks import TaskSupervisor


class BrokenRenderer:
    async def render(self, report_id: uuid.UUID, title: str) -> str:
        raise RuntimeError("disk full")


async def run_report(renderer: object) -> list[DomainEvent]:
    bus = InProcessEventBus()
    seen: list[DomainEvent] = []

    async def record(event: DomainEvent) -> None:
        seen.append(event)

    for cls in (ReportRequested, ReportProgressed, ReportCompleted, ReportFailed):
        bus.subscribe(cls, record)
    tasks = TaskSupervisor()
    use_case = RequestReport(bus, tasks, renderer, step_delay_seconds=0)  # type: ignore[arg-type]
    report_id = await use_case(uuid.uuid4(), "Q3")
    assert isinstance(seen[0], ReportRequested)
    assert seen[0].report_id == report_id
    async with asyncio.timeout(2):
        while tasks.running:
            await asyncio.sleep(0.01)
    return seen


async def test_requested_progress_then_completed() -> None:
    seen = await run_report(LinkRenderer())
    assert [type(e) for e in seen] == [
        ReportRequested,
        ReportProgressed,
        ReportProgressed,
        ReportProgressed,
        ReportCompleted,
    ]
    assert [e.percent for e in seen if isinstance(e, ReportProgressed)] == [25, 50, 75]
    assert len({e.report_id for e in seen}) == 1  # type: ignore[attr-defined]


async def test_a_renderer_error_becomes_report_failed() -> None:
    seen = await run_report(BrokenRenderer())
    assert isinstance(seen[-1], ReportFailed)
    assert seen[-1].reason == "disk full"


async def test_shutdown_cancels_generation() -> None:
    bus = InProcessEventBus()
    tasks = TaskSupervisor()
    use_case = RequestReport(bus, tasks, LinkRenderer(), step_delay_seconds=30)
    await use_case(uuid.uuid4(), "slow")
    assert tasks.running == 1
    await asyncio.wait_for(tasks.aclose(), timeout=1)
    assert tasks.running == 0
