"""The outbox relay: delivers committed events through the SSE handler, then marks them published.

It retries for as long as the broker is down: the events wait in the
database, so the backlog is bounded by storage, not by a timer or a buffer
in memory, and survives the process. Each pass takes, per partition, the
oldest unpublished rows. On PostgreSQL a partition is relayed by one process
at a time (an advisory lock held for the pass, freed if the process dies):
several processes relay one database, each user's events still leave in
commit order, and none is sent by two processes at once. (Row locks alone,
``FOR UPDATE SKIP LOCKED``, would let a second relay send a user's newer rows
while the first still sends older ones.)

Before it sends, a pass writes its attempt token into its rows and commits,
so a delivery whose answer is lost (a timeout, a process killed mid-call) is
known to whoever relays the rows next: the retry names the earlier attempts
and when they were first tried, and the broker fences those attempts and
skips what they wrote (see :class:`~domain.ports.DeliveryAttempt`).
"""

import contextlib
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import attrs
from redis.backoff import ExponentialWithJitterBackoff
from sqlalchemy import Row, case, delete, func, literal, select, text, update

from application.ports import Clock
from domain.events import DomainEvent
from domain.ports import DeliveryAttempt
from infrastructure.persistence.database import Database
from infrastructure.persistence.outbox import Outbox
from infrastructure.persistence.tables import UtcDateTime, outbox
from infrastructure.sse.handler import SSEEventHandler

logger = logging.getLogger(__name__)

#: Rows one pass takes from a partition.
BATCH = 500
#: Tokens of earlier attempts a retry names, per row.
KEPT_ATTEMPTS = 32
#: Published rows are kept this long (to look into a delivery after the fact), then deleted.
KEEP_PUBLISHED = timedelta(hours=1)
#: Namespace of the advisory locks of the partitions (PostgreSQL).
_LOCKS = 0x4845_5241


@attrs.define
class RelayStats:
    """What the relay has done, for ``/metrics`` and ``/health``."""

    published: int = 0
    undeliverable: int = 0
    failed_attempts: int = 0
    backlog: int = 0
    """Events committed and not yet published, as of the last pass."""
    oldest_seconds: float = 0.0
    """Age of the oldest of them."""
    last_error: str | None = None


class OutboxRelay:
    """One per process; :meth:`run` until cancelled."""

    def __init__(
        self,
        database: Database,
        box: Outbox,
        handler: SSEEventHandler,
        clock: Clock,
        *,
        idle_seconds: float = 1.0,
        batch: int = BATCH,
    ) -> None:
        self._database = database
        self._outbox = box
        self._handler = handler
        self._clock = clock
        self._idle = idle_seconds
        self._batch = batch
        self._backoff = ExponentialWithJitterBackoff(cap=5.0, base=0.1)
        self._last_prune = 0.0
        self._stopping = False
        self.stats = RelayStats()

    def stop(self) -> None:
        """Let :meth:`run` return after the pass under way (a pass cut short leaves its rows for the next)."""
        self._stopping = True
        self._outbox.committed()

    async def run(self) -> None:
        """Relay until :meth:`stop`: at once after a local commit, otherwise every ``idle_seconds``."""
        failures = 0
        while not self._stopping:
            try:
                relayed = await self.relay_once()
            except Exception as error:
                failures += 1
                self.stats.failed_attempts += 1
                self.stats.last_error = type(error).__name__
                log = logger.warning if failures == 1 else logger.debug
                log("outbox relay failed (%s); the events wait in the database", type(error).__name__)
                await self._outbox.wait_for_commit(self._backoff.compute(failures))  # or for stop()
                continue
            if failures:
                logger.info("outbox relay recovered", extra={"backlog": self.stats.backlog})
                failures = 0
                self.stats.last_error = None
            if not relayed:
                await self._outbox.wait_for_commit(self._idle)

    async def relay_once(self) -> int:
        """One pass over every partition with pending rows; how many events it published."""
        try:
            partitions = await self._pending_partitions()
            random.shuffle(partitions)  # so the relays of several processes start in different places
            relayed = 0
            for partition in partitions:
                relayed += await self._relay(partition)
            if time.monotonic() - self._last_prune > 60:
                await self._prune()
            return relayed
        finally:
            with contextlib.suppress(Exception):  # the database is away: the figures stay as they were
                await self._measure()

    async def _pending_partitions(self) -> list[int]:
        async with self._database.connect() as connection:
            query = select(outbox.c.partition).where(outbox.c.published_at.is_(None)).distinct()
            return [int(partition) for partition in (await connection.execute(query)).scalars()]

    async def _relay(self, partition: int) -> int:
        async with self._partition(partition) as held:
            if not held:
                return 0  # another process relays this partition now
            rows, attempt = await self._take(partition)
            if not rows:
                return 0
            events, unreadable = self._events(rows)
            # No transaction is open while the broker answers (on SQLite, use cases would wait behind it);
            # a fenced attempt raises here, so rows another relay took over are not marked by this one.
            undeliverable = await self._handler.deliver(
                [event for _, event in events],
                attempt,
                [Outbox.log_context(row.log_context) for row, _ in events],
                committed=[row.recorded_at for row, _ in events],
                traces=[Outbox.trace_context(row.trace_context) for row, _ in events],
            )
            failed_ids = {event.event_id for event in undeliverable}
            published = [row.id for row, event in events if event.event_id not in failed_ids]
            dead = [(row.id, "an extractor failed on it") for row, event in events if event.event_id in failed_ids]
            await self._mark(published, [*unreadable, *dead])
            self.stats.published += len(published)
            self.stats.undeliverable += len(unreadable) + len(dead)
            return len(published)

    async def _take(self, partition: int) -> tuple[list[Row[Any]], DeliveryAttempt]:
        """The partition's oldest pending rows, with this attempt written into them before it is made.

        Committed first, so that if the process dies while the broker holds the
        attempt unanswered, whoever relays the rows next knows to look for it.
        """
        query = (
            select(outbox)
            .where(outbox.c.partition == partition, outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(self._batch)
        )
        async with self._database.connect() as connection, connection.begin():
            rows = list(await connection.execute(query))
            attempt = _attempt(rows)
            if rows:
                token, now = literal(attempt.token), literal(self._clock.now(), UtcDateTime())
                await connection.execute(
                    update(outbox)
                    .where(outbox.c.id.in_([row.id for row in rows]))
                    .values(
                        attempts=case((outbox.c.attempts == "", token), else_=outbox.c.attempts + "," + token),
                        first_tried_at=func.coalesce(outbox.c.first_tried_at, now),
                    )
                )
        return rows, attempt

    async def _mark(self, published: list[int], set_aside: list[tuple[int, str]]) -> None:
        now = self._clock.now()
        async with self._database.connect() as connection, connection.begin():
            if published:
                await connection.execute(update(outbox).where(outbox.c.id.in_(published)).values(published_at=now))
            for row_id, why in set_aside:
                await connection.execute(
                    update(outbox).where(outbox.c.id == row_id).values(published_at=now, failure=why)
                )

    @contextlib.asynccontextmanager
    async def _partition(self, partition: int) -> AsyncIterator[bool]:
        """Hold ``partition`` for one pass: True when this process may relay it now.

        On PostgreSQL, an advisory lock on a connection of its own, freed when
        the pass ends or, if the process dies, when its connection does. On
        SQLite, one relay per process, and one process per database file.
        """
        if not self._database.is_postgresql:
            yield True
            return
        async with self._database.connect() as connection:
            key = {"space": _LOCKS, "partition": partition}
            held = bool(
                (await connection.execute(text("SELECT pg_try_advisory_lock(:space, :partition)"), key)).scalar()
            )
            await connection.commit()
            try:
                yield held
            finally:
                if held:
                    with contextlib.suppress(Exception):  # a broken connection frees the lock as it closes
                        await connection.execute(text("SELECT pg_advisory_unlock(:space, :partition)"), key)
                        await connection.commit()

    def _events(self, rows: Sequence[Row[Any]]) -> tuple[list[tuple[Row[Any], DomainEvent]], list[tuple[int, str]]]:
        events: list[tuple[Row[Any], DomainEvent]] = []
        unreadable: list[tuple[int, str]] = []
        for row in rows:
            try:
                events.append((row, self._outbox.load(row.event_type, row.payload)))
            except Exception as error:
                logger.error("outbox row %d (%s) cannot be read (%s); it is set aside", row.id, row.event_type, error)
                unreadable.append((row.id, f"unreadable: {type(error).__name__}"))
        return events, unreadable

    async def _measure(self) -> None:
        async with self._database.connect() as connection:
            query = select(func.count(), func.min(outbox.c.recorded_at)).where(outbox.c.published_at.is_(None))
            count, oldest = (await connection.execute(query)).one()
        self.stats.backlog = int(count)
        self.stats.oldest_seconds = (self._clock.now() - oldest).total_seconds() if oldest is not None else 0.0

    async def _prune(self) -> None:
        self._last_prune = time.monotonic()
        async with self._database.connect() as connection, connection.begin():
            cutoff = self._clock.now() - KEEP_PUBLISHED
            await connection.execute(delete(outbox).where(outbox.c.published_at < cutoff))


def _attempt(rows: Sequence[Row[Any]]) -> DeliveryAttempt:
    """This attempt, naming the earlier ones (the newest few of each row: older ones have long run or died)."""
    earlier = tuple(dict.fromkeys(token for row in rows for token in row.attempts.split(",")[-KEPT_ATTEMPTS:] if token))
    tried = [row.first_tried_at for row in rows if row.first_tried_at is not None]
    return DeliveryAttempt(token=secrets.token_hex(8), earlier=earlier, first_tried_at=min(tried, default=None))
