"""The in-process bus runs handlers concurrently and isolates their failures."""

import asyncio
import logging
import uuid

import pytest

from domain.events import AnnouncementPublished, ReportRequested
from infrastructure.event_bus import InProcessEventBus


def announcement() -> AnnouncementPublished:
    return AnnouncementPublished(message="hello", author_id=uuid.uuid4())


async def test_a_failing_handler_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    bus = InProcessEventBus()
    seen: list[str] = []

    async def broken(_: AnnouncementPublished) -> None:
        raise RuntimeError("boom")

    async def working(event: AnnouncementPublished) -> None:
        seen.append(event.message)

    bus.subscribe(AnnouncementPublished, broken)
    bus.subscribe(AnnouncementPublished, working)
    await bus.publish(announcement())
    assert seen == ["hello"]
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert "AnnouncementPublished" in record.getMessage()
    assert "RuntimeError" in record.getMessage()


async def test_handlers_run_concurrently() -> None:
    bus = InProcessEventBus()
    first_started = asyncio.Event()
    second_started = asyncio.Event()

    async def first(_: AnnouncementPublished) -> None:
        first_started.set()
        await second_started.wait()

    async def second(_: AnnouncementPublished) -> None:
        second_started.set()
        await first_started.wait()

    bus.subscribe(AnnouncementPublished, first)
    bus.subscribe(AnnouncementPublished, second)
    # Run one after the other, each would wait for the other forever.
    await asyncio.wait_for(bus.publish(announcement()), timeout=2)


async def test_handlers_receive_only_their_class_and_subscribe_once() -> None:
    bus = InProcessEventBus()
    seen: list[object] = []

    async def record(event: AnnouncementPublished) -> None:
        seen.append(event)

    bus.subscribe(AnnouncementPublished, record)
    bus.subscribe(AnnouncementPublished, record)
    await bus.publish(ReportRequested(report_id=uuid.uuid4(), owner_id=uuid.uuid4(), version=1, title="t"))
    await bus.publish(announcement())
    assert len(seen) == 1  # subscribed twice, called once; and never for another class
