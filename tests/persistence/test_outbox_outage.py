"""A Redis outage longer than the publisher's retry window: every durable event arrives after it, once."""

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from infrastructure.container import Container, resolve, start, stop
from tests.integration.helpers import eventually
from tests.support.frames import Message, messages
from tests.support.processes import private_redis

pytestmark = pytest.mark.needs("redis-server")

#: How long the publisher retries an event it holds in memory (30 s by default; the ratio is what matters).
RETRY_SECONDS = 6.0
#: Twice the retry window: ticks raised in its first half expire, those of the second half outlive it, since the
#: publisher's reconnect backoff (2 s at most) is shorter than the rest of their window.
OUTAGE_SECONDS = 2 * RETRY_SECONDS
RAISE_EVERY_SECONDS = 0.6


async def test_durable_events_outlive_a_redis_outage_longer_than_the_retry_window(
    make_container: Callable[..., Container], postgres_database: str, tmp_path: Path
) -> None:
    with private_redis(tmp_path, persistent=True) as redis:
        container = make_container(
            database_url=postgres_database,
            redis_url=redis.url,
            report_step_seconds=0.05,
            redis_publish_retry_seconds=RETRY_SECONDS,
        )
        await start(container)
        try:
            owner = uuid.uuid4()
            stream = await (await resolve(container.subscriber)).subscribe(owner)
            seen: list[Message] = []

            async def read() -> None:
                async for message in messages(stream):
                    seen.append(message)

            reader = asyncio.create_task(read())
            request_report = await resolve(container.request_report)
            announce = await resolve(container.publish_announcement)
            relay = await resolve(container.outbox_relay)
            publisher = await resolve(container.publisher)

            await request_report(owner, "before")
            await eventually(lambda: any(m.event == "report.completed" for m in seen))

            redis.stop()
            stopped = time.monotonic()
            reports, announcements = [], []
            while time.monotonic() - stopped < OUTAGE_SECONDS:
                reports.append((await request_report(owner, f"during {len(reports)}")).value)
                announcements.append((await announce(owner, f"during {len(announcements)}")).value.event_id)
                await asyncio.sleep(RAISE_EVERY_SECONDS)
            await eventually(lambda: relay.stats.backlog >= 2 * len(reports), timeout=10)
            backlog, oldest = relay.stats.backlog, relay.stats.oldest_seconds
            redis.start()

            def completed() -> set[str]:
                return {str(m.data["report_id"]) for m in seen if m.event == "report.completed"}

            await eventually(lambda: {str(r) for r in reports} <= completed(), timeout=60)
            await eventually(lambda: relay.stats.backlog == 0, timeout=10)
            await eventually(lambda: publisher.waiting == 0, timeout=30)  # the ticks still held, sent or dropped

            def ticks() -> list[Message]:
                return [m for m in seen if m.event == "report.progress"]

            # Each tick is two messages (the owner's log, the report's watchers'), dropped together: one lane.
            dropped = publisher.stats.dropped_by_type["report.progress"] // 2
            await eventually(lambda: len(ticks()) == 3 * (len(reports) + 1) - dropped, timeout=10)
            reader.cancel()

            announced_ids = {str(event_id) for event_id in announcements}
            await eventually(  # broadcasts share a partition of their own: relayed apart from the user's rows
                lambda: announced_ids <= {str(m.data["event_id"]) for m in seen if m.event == "system.announcement"}
            )
            durable = Counter(
                str(m.data["event_id"]) for m in seen if m.event in ("report.requested", "report.completed")
            )
            assert sum(durable.values()) == 2 * (len(reports) + 1)
            assert set(durable.values()) == {1}, "a durable event arrived twice"
            announced = Counter(str(m.data["event_id"]) for m in seen if m.event == "system.announcement")
            assert announced == Counter({str(event_id): 1 for event_id in announcements})
            # The difference: progress ticks (ephemeral, held in memory) raised longer than the retry window
            # before Redis came back were dropped, while every durable event of the same reports waited in the
            # database and arrived.
            assert 0 < dropped < 3 * len(reports)
            print(
                f"outage {OUTAGE_SECONDS} s: {len(reports)} reports and {len(announcements)} announcements raised; "
                f"outbox backlog {backlog} (oldest {oldest:.0f} s); all durable events arrived once; "
                f"{dropped} progress ticks dropped"
            )
        finally:
            await stop(container)
