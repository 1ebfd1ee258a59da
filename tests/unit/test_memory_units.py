"""The in-memory unit of work keeps the promises use cases rely on, and runs a use case with no database."""

import uuid
from datetime import timedelta

import pytest

from application.announcements import PublishAnnouncement
from application.ports import ConcurrentUpdateError, Lease
from domain.events import AnnouncementPublished, TenantAnnouncementPublished
from domain.model import Report
from domain.registry import REGISTRY
from tests.support.clock import SteppingClock
from tests.support.memory_units import MemoryUnitsOfWork

CLOCK = SteppingClock()
LEASE = Lease("test", CLOCK.now() + timedelta(hours=1))


async def test_a_unit_left_without_a_commit_changes_nothing_and_publishes_nothing() -> None:
    units = MemoryUnitsOfWork()
    report, event = Report.request(uuid.uuid4(), "draft", now=CLOCK.now())
    async with units() as uow:
        await uow.reports.add(report, lease=LEASE)
        uow.record(event)
    async with units() as uow:
        assert await uow.reports.get(report.report_id) is None
    assert units.published == []


async def test_a_stale_update_is_refused() -> None:
    units = MemoryUnitsOfWork()
    report, _ = Report.request(uuid.uuid4(), "draft", now=CLOCK.now())
    async with units() as uow:
        await uow.reports.add(report, lease=LEASE)
        await uow.commit()
    progressed, _ = report.progress("step", 50, now=CLOCK.now())
    async with units() as uow:
        await uow.reports.update(progressed, lease=LEASE)
        await uow.commit()
    async with units() as uow:
        with pytest.raises(ConcurrentUpdateError):
            await uow.reports.update(progressed, lease=LEASE)  # its version is stored already


async def test_an_announcement_is_stored_with_its_event_and_a_tenants_goes_to_the_tenant() -> None:
    units = MemoryUnitsOfWork()
    publish = PublishAnnouncement(units, CLOCK, REGISTRY)
    author = uuid.uuid4()
    everyone = (await publish(author, "hello")).value
    recorded = await publish(author, "hello, acme", tenant="acme")
    tenant = recorded.value
    assert recorded.event_ids == (tenant.event_id,)  # what the stream will carry: read-your-writes
    assert isinstance(everyone, AnnouncementPublished)
    assert isinstance(tenant, TenantAnnouncementPublished)
    assert tenant.tenant == "acme"
    assert units.published == [everyone, tenant]
    assert [(a.message, a.tenant) for a in units.state.announcements] == [("hello", None), ("hello, acme", "acme")]
