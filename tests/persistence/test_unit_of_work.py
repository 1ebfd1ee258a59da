"""State and events commit together or not at all; what commits is published once, what does not, never."""

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import attrs
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from application.ports.unit_of_work import ConcurrentUpdateError, Lease, ReportKey
from domain.events import ReportProgressed
from domain.model import Report
from domain.ports import EventStream
from infrastructure.container import Container, resolve, start, stop
from infrastructure.persistence.tables import outbox
from infrastructure.persistence.unit_of_work import SqlUnitsOfWork
from tests.support.clock import SteppingClock
from tests.support.frames import take_until

#: Held by the test for longer than it runs: an expired lease would let the container's own generator claim
#: the test's reports as stalled (and then the test's update is refused, as it should be).
LEASE = Lease("test", SteppingClock().now() + timedelta(hours=1))


@pytest.fixture
async def container(make_container: Callable[..., Container], database_url: str) -> AsyncIterator[Container]:
    container = make_container(database_url=database_url)
    await start(container)
    yield container
    await stop(container)


async def owner_stream(container: Container, owner: uuid.UUID) -> EventStream:
    return await (await resolve(container.subscriber)).subscribe(owner)


async def commit_report(units: SqlUnitsOfWork, owner: uuid.UUID, title: str) -> Report:
    async with units() as uow:
        report, event = Report.request(owner, title, now=SteppingClock().now())
        await uow.reports.add(report, lease=LEASE)
        uow.record(event)
        await uow.commit()
    return report


async def stored(units: SqlUnitsOfWork, owner: uuid.UUID) -> list[str]:
    async with units() as uow:
        return [report.title for report in await uow.reports.of_owner(owner, limit=100)]


async def outbox_rows(container: Container) -> int:
    database = await resolve(container.database)
    async with database.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(outbox))).scalar_one())


async def test_a_commit_that_fails_on_its_events_stores_nothing_and_publishes_nothing(container: Container) -> None:
    units = await resolve(container.units_of_work)
    owner = uuid.uuid4()
    stream = await owner_stream(container, owner)
    await commit_report(units, owner, "first")
    [first] = await take_until(stream, lambda m: m.data["title"] == "first")
    rows = await outbox_rows(container)

    async def commit_a_clash() -> None:
        # The state is fine; its event clashes with one already in the outbox, so the commit itself fails.
        async with units() as uow:
            report, event = Report.request(owner, "doomed", now=SteppingClock().now())
            await uow.reports.add(report, lease=LEASE)
            progressed = ReportProgressed(report_id=report.report_id, owner_id=owner, version=2, percent=1, step="x")
            uow.record(attrs.evolve(event, event_id=uuid.UUID(str(first.data["event_id"]))), progressed)
            await uow.commit()

    with pytest.raises(IntegrityError):
        await commit_a_clash()

    await commit_report(units, owner, "marker")
    seen = await take_until(stream, lambda m: m.data["title"] == "marker")
    assert [(m.event, m.data["title"]) for m in seen] == [("report.requested", "marker")]
    assert await stored(units, owner) == ["marker", "first"]
    assert await outbox_rows(container) == rows + 1


async def test_a_unit_of_work_left_without_a_commit_stores_and_publishes_nothing(container: Container) -> None:
    units = await resolve(container.units_of_work)
    owner = uuid.uuid4()
    stream = await owner_stream(container, owner)

    class UseCaseError(Exception):
        pass

    async def abandon() -> None:
        async with units() as uow:
            report, event = Report.request(owner, "abandoned", now=SteppingClock().now())
            await uow.reports.add(report, lease=LEASE)
            uow.record(event)
            raise UseCaseError

    with pytest.raises(UseCaseError):
        await abandon()

    await commit_report(units, owner, "marker")
    seen = await take_until(stream, lambda m: m.data["title"] == "marker")
    assert [m.data["title"] for m in seen] == ["marker"]
    assert await stored(units, owner) == ["marker"]


async def test_a_stale_update_is_refused_and_its_events_are_not_published(container: Container) -> None:
    units = await resolve(container.units_of_work)
    owner = uuid.uuid4()
    stream = await owner_stream(container, owner)
    report = await commit_report(units, owner, "contended")
    now = SteppingClock().now()

    async with units() as uow:  # another process moved the report on first
        moved, event = report.progress("theirs", 10, now=now)
        await uow.reports.update(moved, lease=LEASE)
        uow.record(event)
        await uow.commit()

    async def update_the_stale_copy() -> None:
        async with units() as uow:
            stale, event = report.progress("mine", 20, now=now)
            await uow.reports.update(stale, lease=LEASE)
            uow.record(event)
            await uow.commit()

    with pytest.raises(ConcurrentUpdateError):
        await update_the_stale_copy()

    await commit_report(units, owner, "marker")
    seen = await take_until(stream, lambda m: m.data.get("title") == "marker")
    assert [m.data.get("step") for m in seen if m.event == "report.progress"] == ["theirs"]


async def test_every_committed_event_is_published_once_in_commit_order(container: Container) -> None:
    units = await resolve(container.units_of_work)
    owner = uuid.uuid4()
    stream = await owner_stream(container, owner)
    titles = [f"report {n}" for n in range(50)]
    for title in titles:
        await commit_report(units, owner, title)
    seen = await take_until(stream, lambda m: m.data["title"] == titles[-1])
    assert [m.data["title"] for m in seen] == titles


async def test_pages_of_reports_requested_at_the_same_moment_hold_each_report_once(container: Container) -> None:
    units = await resolve(container.units_of_work)
    owner, moment = uuid.uuid4(), SteppingClock().now()
    async with units() as uow:
        for n in range(5):
            report, _ = Report.request(owner, f"r{n}", now=moment)
            await uow.reports.add(report, lease=LEASE)
        await uow.commit()
    pages, after = [], None
    while True:
        async with units() as uow:
            page = await uow.reports.of_owner(owner, limit=2, after=after)
        if not page:
            break
        pages.append([report.report_id for report in page])
        after = ReportKey.of(page[-1])
    assert [len(page) for page in pages] == [2, 2, 1]
    every = [report_id for page in pages for report_id in page]
    assert every == sorted(every, reverse=True)  # the same moment: the id decides, newest first
    assert len(set(every)) == 5
