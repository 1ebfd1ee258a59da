"""Report shares on each database: added once, removed once, listed in order, counted under the report's turn."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from application.ports.unit_of_work import Lease, ReportAccess
from application.principal import Principal
from application.refusals import Refused
from domain.model import Report
from infrastructure.container import Container, resolve, start, stop
from infrastructure.persistence.tables import report_shares, reports
from infrastructure.persistence.unit_of_work import SqlUnitsOfWork
from tests.support.clock import SteppingClock

#: Held for longer than the test runs: the container's own generator leaves the test's reports alone.
LEASE = Lease("test", SteppingClock().now() + timedelta(hours=1))


@pytest.fixture
async def container(make_container: Callable[..., Container], database_url: str) -> AsyncIterator[Container]:
    container = make_container(database_url=database_url, report_shares_max=3)
    await start(container)
    yield container
    await stop(container)


async def a_report(units: SqlUnitsOfWork, owner: uuid.UUID) -> uuid.UUID:
    async with units() as uow:
        report, _ = Report.request(owner, "shared", now=SteppingClock().now())
        await uow.reports.add(report, lease=LEASE)
        await uow.commit()
    return report.report_id


def caller(user_id: uuid.UUID) -> Principal:
    return Principal(user_id=user_id, roles=frozenset(), expires_at=SteppingClock().now() + timedelta(hours=1))


async def test_a_share_is_added_once_listed_in_order_and_removed_once(container: Container) -> None:
    units = await resolve(container.units_of_work)
    owner, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    report_id = await a_report(units, owner)
    clock = SteppingClock()
    async with units() as uow:
        assert await uow.shares.add(report_id, second, now=clock.now()) is True
        clock.advance(1)
        assert await uow.shares.add(report_id, first, now=clock.now()) is True
        assert await uow.shares.add(report_id, second, now=clock.now()) is False
        await uow.commit()
    async with units() as uow:
        assert await uow.shares.count(report_id) == 2
        assert await uow.shares.users(report_id, limit=10) == [second, first]  # the longest shared first
        assert await uow.shares.users(report_id, limit=1) == [second]
        assert await uow.shares.remove(report_id, second) is True
        assert await uow.shares.remove(report_id, second) is False
        await uow.commit()
    async with units() as uow:
        assert await uow.shares.users(report_id, limit=10) == [first]


async def test_access_tells_the_owner_a_sharee_and_anyone_else_apart(container: Container) -> None:
    units = await resolve(container.units_of_work)
    owner, sharee, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    report_id = await a_report(units, owner)
    other_report = await a_report(units, uuid.uuid4())
    async with units() as uow:
        await uow.shares.add(other_report, stranger, now=SteppingClock().now())  # shared elsewhere: not here
        await uow.shares.add(report_id, sharee, now=SteppingClock().now())
        await uow.commit()
    async with units() as uow:
        assert await uow.reports.access(report_id, owner) is ReportAccess.OWNER
        assert await uow.reports.access(report_id, sharee) is ReportAccess.SHAREE
        assert await uow.reports.access(report_id, stranger) is None
        assert await uow.reports.access(uuid.uuid4(), owner) is None


async def test_shares_sent_at_once_stop_at_the_limit(container: Container) -> None:
    share = await resolve(container.share_report)
    units = await resolve(container.units_of_work)
    owner = uuid.uuid4()
    report_id = await a_report(units, owner)
    results = await asyncio.gather(*(share(caller(owner), report_id, uuid.uuid4()) for _ in range(8)))
    assert sorted(isinstance(result, Refused) for result in results) == [False] * 3 + [True] * 5
    async with units() as uow:
        assert await uow.shares.count(report_id) == 3


async def test_a_share_goes_with_its_report(make_container: Callable[..., Container], postgres_database: str) -> None:
    """The foreign key cascades (SQLite declares it but, without ``PRAGMA foreign_keys``, does not enforce it)."""
    container = make_container(database_url=postgres_database)
    await start(container)
    try:
        units = await resolve(container.units_of_work)
        report_id = await a_report(units, uuid.uuid4())
        async with units() as uow:
            await uow.shares.add(report_id, uuid.uuid4(), now=SteppingClock().now())
            await uow.commit()
        database = await resolve(container.database)
        async with database.connect() as connection:
            await connection.execute(delete(reports).where(reports.c.report_id == report_id))
            left = select(func.count()).select_from(report_shares).where(report_shares.c.report_id == report_id)
            assert (await connection.execute(left)).scalar_one() == 0
    finally:
        await stop(container)
