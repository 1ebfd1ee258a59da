"""Sharing a report, through in-memory units of work: who may share, watch and read it, and what an unshare ends."""

import logging
import uuid
from datetime import timedelta

import pytest

from application.ports.unit_of_work import Lease
from application.principal import Principal
from application.refusals import RefusalKind, Refused
from application.report_shares import ReportWatchAccess, UnshareReport
from application.reports import ReadReports
from domain.model import Report
from domain.sse import Group, GroupKind
from tests.support.clock import SteppingClock
from tests.support.memory_units import MemoryUnitsOfWork

LEASE = Lease("test", SteppingClock().now() + timedelta(hours=1))


class RecordingMemberships:
    def __init__(self) -> None:
        self.ended: list[tuple[uuid.UUID, Group]] = []

    async def end(self, user_id: uuid.UUID, group: Group) -> None:
        self.ended.append((user_id, group))


class UnreachableMemberships:
    async def end(self, user_id: uuid.UUID, group: Group) -> None:
        raise ConnectionError("the broker is down")


class RecordingSubscriber:
    """Only what ``ReadReports`` asks of a subscriber: a position, remembering for whom."""

    def __init__(self) -> None:
        self.asked: list[tuple[uuid.UUID, frozenset[Group]]] = []

    async def position(self, user_id: uuid.UUID, groups: frozenset[Group] = frozenset()) -> str | None:
        self.asked.append((user_id, groups))
        return f"position-{len(self.asked)}"


def caller(user_id: uuid.UUID) -> Principal:
    return Principal(user_id=user_id, roles=frozenset(), expires_at=SteppingClock().now() + timedelta(hours=1))


@pytest.fixture
def units() -> MemoryUnitsOfWork:
    return MemoryUnitsOfWork()


async def a_report(units: MemoryUnitsOfWork, owner: uuid.UUID, *shared_with: uuid.UUID) -> uuid.UUID:
    async with units() as uow:
        report, _ = Report.request(owner, "shared", now=SteppingClock().now())
        await uow.reports.add(report, lease=LEASE)
        for user in shared_with:
            await uow.shares.add(report.report_id, user, now=SteppingClock().now())
        await uow.commit()
    return report.report_id


async def test_an_unshare_ends_the_users_membership_of_the_reports_group(units: MemoryUnitsOfWork) -> None:
    owner, sharee = uuid.uuid4(), uuid.uuid4()
    report_id = await a_report(units, owner, sharee)
    memberships = RecordingMemberships()
    assert await UnshareReport(units, memberships)(caller(owner), report_id, sharee) is None
    assert memberships.ended == [(sharee, Group(GroupKind.REPORT, str(report_id)))]
    async with units() as uow:
        assert await uow.shares.users(report_id, limit=10) == []


async def test_an_unshare_whose_streams_cannot_be_told_still_removes_the_share(
    units: MemoryUnitsOfWork, caplog: pytest.LogCaptureFixture
) -> None:
    owner, sharee = uuid.uuid4(), uuid.uuid4()
    report_id = await a_report(units, owner, sharee)
    with caplog.at_level(logging.ERROR, logger="application.report_shares"):
        assert await UnshareReport(units, UnreachableMemberships())(caller(owner), report_id, sharee) is None
    assert f"report:{report_id}" in caplog.text
    assert "next reconnect" in caplog.text
    async with units() as uow:
        assert await uow.reports.access(report_id, sharee) is None


async def test_a_refused_unshare_ends_no_membership(units: MemoryUnitsOfWork) -> None:
    owner, sharee = uuid.uuid4(), uuid.uuid4()
    report_id = await a_report(units, owner, sharee)
    memberships = RecordingMemberships()
    unshare = UnshareReport(units, memberships)
    assert await unshare(caller(sharee), report_id, sharee) == Refused(
        RefusalKind.FORBIDDEN, "only the report's owner says who it is shared with"
    )
    refused = await unshare(caller(owner), report_id, owner)
    assert isinstance(refused, Refused)
    assert refused.kind is RefusalKind.CONFLICT
    assert memberships.ended == []


async def test_the_owner_and_sharees_may_watch_a_report_nobody_else(units: MemoryUnitsOfWork) -> None:
    owner, sharee, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    report_id = await a_report(units, owner, sharee)
    access = ReportWatchAccess(units)
    group = Group(GroupKind.REPORT, str(report_id))
    assert await access.may_watch(caller(owner), group) is True
    assert await access.may_watch(caller(sharee), group) is True
    assert await access.may_watch(caller(stranger), group) is False
    assert await access.may_watch(caller(owner), Group(GroupKind.REPORT, str(uuid.uuid4()))) is False


@pytest.mark.parametrize(
    "spelling",
    [
        "not-a-uuid",
        "{report_id.hex}",  # the same id, not as Herald writes it: its events would never come
        "{upper}",
    ],
)
async def test_a_report_group_whose_id_is_not_a_report_id_may_not_be_watched(
    units: MemoryUnitsOfWork, spelling: str
) -> None:
    owner = uuid.uuid4()
    report_id = await a_report(units, owner)
    group_id = spelling.format(report_id=report_id, upper=str(report_id).upper())
    assert await ReportWatchAccess(units).may_watch(caller(owner), Group(GroupKind.REPORT, group_id)) is False


async def test_a_tenant_group_is_no_report(units: MemoryUnitsOfWork) -> None:
    owner = uuid.uuid4()
    report_id = await a_report(units, owner)
    group = Group(GroupKind.TENANT, str(report_id))
    assert await ReportWatchAccess(units).may_watch(caller(owner), group) is False


async def test_a_sharee_reads_the_report_with_the_position_of_a_stream_that_watches_it(
    units: MemoryUnitsOfWork,
) -> None:
    owner, sharee, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    report_id = await a_report(units, owner, sharee)
    subscriber = RecordingSubscriber()
    read = ReadReports(units, subscriber)  # type: ignore[arg-type]
    shared = await read.one(sharee, report_id)
    own = await read.one(owner, report_id)
    assert shared is not None
    assert own is not None
    assert [report.report_id for report in shared.reports] == [report_id]
    assert subscriber.asked == [
        (sharee, frozenset({Group(GroupKind.REPORT, str(report_id))})),
        (owner, frozenset()),  # the owner's own stream carries the report's events
    ]
    assert await read.one(stranger, report_id) is None
    assert len(subscriber.asked) == 2  # no position for a report the caller may not see


async def test_a_share_that_ends_while_the_position_is_read_reads_as_no_report(units: MemoryUnitsOfWork) -> None:
    owner, sharee = uuid.uuid4(), uuid.uuid4()
    report_id = await a_report(units, owner, sharee)

    class UnsharedMeanwhile(RecordingSubscriber):
        async def position(self, user_id: uuid.UUID, groups: frozenset[Group] = frozenset()) -> str | None:
            async with units() as uow:
                await uow.shares.remove(report_id, user_id)
                await uow.commit()
            return await super().position(user_id, groups)

    assert await ReadReports(units, UnsharedMeanwhile()).one(sharee, report_id) is None  # type: ignore[arg-type]
