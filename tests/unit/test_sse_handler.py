"""The SSE handler transforms mapped events, ignores the rest, and never fails the use case."""

import logging
import uuid

import attrs
import pytest

from domain.events import AnnouncementPublished, DomainEvent, ReportRequested
from domain.registry import REGISTRY, DomainToSSEMapping, EventRegistry
from domain.sse import SSECategory
from herald_contracts import FailingPublisher, RecordingPublisher
from infrastructure.sse.handler import SSEEventHandler
from infrastructure.sse.wire_format import WireFormat


@attrs.frozen(kw_only=True)
class TeamNotified(DomainEvent):
    members: frozenset[uuid.UUID]
    note: str


@attrs.frozen(kw_only=True)
class Unmapped(DomainEvent):
    user_id: uuid.UUID


@attrs.frozen
class TeamNote:
    note: str
    size: int


def handler_for(registry: EventRegistry = REGISTRY, publisher: RecordingPublisher | None = None) -> SSEEventHandler:
    return SSEEventHandler(registry, publisher or RecordingPublisher(), WireFormat())


def report_requested(owner: uuid.UUID) -> ReportRequested:
    return ReportRequested(report_id=uuid.uuid4(), owner_id=owner, version=1, title="Q3")


async def test_an_owner_event_is_published_to_its_owner_with_the_default_payload() -> None:
    publisher = RecordingPublisher()
    owner = uuid.uuid4()
    event = report_requested(owner)
    await handler_for(publisher=publisher).handle(event)
    [sse] = publisher.published
    assert (sse.event_type, sse.category, sse.user_id) == ("report.requested", SSECategory.REPORTS, owner)
    assert sse.data == {"report_id": str(event.report_id), "owner_id": str(owner), "version": 1, "title": "Q3"}
    assert sse.event_id.version == 7


async def test_a_broadcast_event_goes_to_everyone() -> None:
    publisher = RecordingPublisher()
    await handler_for(publisher=publisher).handle(AnnouncementPublished(message="hi", author_id=uuid.uuid4()))
    [sse] = publisher.broadcasts
    assert sse.is_broadcast
    assert sse.data["message"] == "hi"


async def test_a_set_of_users_is_published_per_user_with_a_custom_payload() -> None:
    publisher = RecordingPublisher()
    registry = EventRegistry(
        [
            DomainToSSEMapping(
                domain_event=TeamNotified,
                sse_event_type="team.notified",
                category=SSECategory.SYSTEM,
                description="A note for the team.",
                user_id_extractor=lambda e: e.members,
                payload_extractor=lambda e: {"note": e.note, "size": len(e.members)},
                payload_type=TeamNote,
            )
        ]
    )
    members = frozenset({uuid.uuid4(), uuid.uuid4()})
    await handler_for(registry, publisher).handle(TeamNotified(members=members, note="standup"))
    [(sse, users)] = publisher.to_users
    assert users == members
    assert sse.data == {"note": "standup", "size": 2}


async def test_unmapped_events_are_ignored_silently(caplog: pytest.LogCaptureFixture) -> None:
    publisher = RecordingPublisher()
    handler = handler_for(publisher=publisher)
    with caplog.at_level(logging.DEBUG):
        await handler.handle(Unmapped(user_id=uuid.uuid4()))
    assert publisher.calls == 0
    assert caplog.records == []


async def test_a_failing_extractor_is_logged_and_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_: DomainEvent) -> dict[str, object]:
        raise KeyError("secret-value")

    registry = EventRegistry(
        [
            DomainToSSEMapping(
                domain_event=Unmapped,
                sse_event_type="thing.broken",
                category=SSECategory.SYSTEM,
                description="Broken payload.",
                payload_extractor=broken,
                payload_type=TeamNote,
            )
        ]
    )
    publisher = RecordingPublisher()
    await handler_for(registry, publisher).handle(Unmapped(user_id=uuid.uuid4()))
    assert publisher.calls == 0
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert "Unmapped" in record.getMessage()
    assert "KeyError" in record.getMessage()


async def test_an_audience_of_none_is_an_error_not_a_broadcast(caplog: pytest.LogCaptureFixture) -> None:
    registry = EventRegistry(
        [
            DomainToSSEMapping(
                domain_event=Unmapped,
                sse_event_type="thing.lost",
                category=SSECategory.SYSTEM,
                description="Audience bug.",
                user_id_extractor=lambda _: None,  # type: ignore[arg-type,return-value]
            )
        ]
    )
    publisher = RecordingPublisher()
    await handler_for(registry, publisher).handle(Unmapped(user_id=uuid.uuid4()))
    assert publisher.calls == 0
    assert "AudienceError" in caplog.records[0].getMessage()


async def test_a_failing_publisher_never_reaches_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    await handler_for(publisher=FailingPublisher()).handle(report_requested(uuid.uuid4()))
    [record] = caplog.records
    assert "ReportRequested" in record.getMessage()
    assert "ConnectionError" in record.getMessage()


async def test_a_debug_line_names_event_type_user_and_id(caplog: pytest.LogCaptureFixture) -> None:
    publisher = RecordingPublisher()
    owner = uuid.uuid4()
    with caplog.at_level(logging.DEBUG, logger="infrastructure.sse.handler"):
        await handler_for(publisher=publisher).handle(report_requested(owner))
    message = caplog.records[0].getMessage()
    assert "ReportRequested" in message
    assert "report.requested" in message
    assert str(owner) in message
    assert str(publisher.published[0].event_id) in message


async def test_publications_are_logged_with_the_sse_event_id_and_type_as_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    publisher = RecordingPublisher()
    with caplog.at_level(logging.DEBUG, logger="infrastructure.sse.handler"):
        await handler_for(publisher=publisher).handle(report_requested(uuid.uuid4()))
    [published] = publisher.published
    [record] = caplog.records
    assert record.__dict__["event_id"] == str(published.event_id)
    assert record.__dict__["event_type"] == "report.requested"
    assert record.__dict__["domain_event"] == "ReportRequested"


async def test_a_failed_publication_is_logged_with_the_sse_event_id_type_and_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    await handler_for(publisher=FailingPublisher()).handle(report_requested(uuid.uuid4()))
    [record] = caplog.records
    assert record.__dict__["event_type"] == "report.requested"
    assert uuid.UUID(record.__dict__["event_id"]).version == 7
    assert record.__dict__["error"] == "ConnectionError"
