"""Reports are saved with each change, their events carry the version, and the outcome is stored."""

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

from domain.model import ReportStatus
from infrastructure.container import Container, resolve, start, stop
from tests.support.frames import Message, take_until


class BrokenRenderer:
    async def render(self, report_id: uuid.UUID, title: str) -> str:
        raise RuntimeError("disk full")


def version(message: Message) -> int:
    return int(message.data["version"])  # type: ignore[call-overload]


def finished(message: object) -> bool:
    return getattr(message, "event", "") in ("report.completed", "report.failed")


async def test_requested_progress_then_completed_each_saved_with_its_version(
    make_container: Callable[..., Container],
) -> None:
    container = make_container(report_step_seconds=0)
    await start(container)
    try:
        owner = uuid.uuid4()
        stream = await (await resolve(container.subscriber)).subscribe(owner)
        report_id = await (await resolve(container.request_report))(owner, "Q3")
        # An ephemeral progress tick may overtake a durable event still in the outbox: clients order by version.
        seen = sorted(await take_until(stream, lambda m: m.data["version"] == 5), key=version)
        assert [m.event for m in seen] == [
            "report.requested",
            "report.progress",
            "report.progress",
            "report.progress",
            "report.completed",
        ]
        assert [m.data["version"] for m in seen] == [1, 2, 3, 4, 5]
        assert [m.data["percent"] for m in seen if m.event == "report.progress"] == [25, 50, 75]
        assert {m.data["report_id"] for m in seen} == {str(report_id)}
        snapshot = await (await resolve(container.read_reports)).page(owner, limit=10)
        [report] = snapshot.reports
        assert (report.status, report.version, report.percent) == (ReportStatus.COMPLETED, 5, 100)
        assert report.download_url == seen[-1].data["download_url"]
    finally:
        await stop(container)


async def test_a_renderer_error_becomes_report_failed_and_is_stored(make_container: Callable[..., Container]) -> None:
    container = make_container(report_step_seconds=0)
    container.report_renderer.override(BrokenRenderer())
    await start(container)
    try:
        owner = uuid.uuid4()
        stream = await (await resolve(container.subscriber)).subscribe(owner)
        await (await resolve(container.request_report))(owner, "Q3")
        seen = await take_until(stream, finished)
        assert (seen[-1].event, seen[-1].data["reason"]) == ("report.failed", "disk full")
        [report] = (await (await resolve(container.read_reports)).page(owner, limit=10)).reports
        assert (report.status, report.failure) == (ReportStatus.FAILED, "disk full")
    finally:
        await stop(container)


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
        report_id = await (await resolve(first.request_report))(owner, "interrupted")
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
