"""A publish lane: the events of one slot, batched, sent in order, and retried until Redis takes them.

Order is promised per audience, and an audience lives in one slot, so lanes
never wait for each other: on a cluster, a primary that is down (or a slot on
the move) holds up its own lanes only, and the other slots' events go on. A
single Redis takes every slot in one call, so it has a single lane.
"""

import asyncio
import contextlib
import contextvars
import functools
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence

import attrs
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import NoScriptError

from infrastructure.brokers.redis.publish_script import OutgoingMessage, new_attempt
from infrastructure.redis_deadline import redis_deadline
from infrastructure.redis_errors import CLUSTER_SETTLING, REDIS_OUTAGE

logger = logging.getLogger(__name__)

#: What fails a publish attempt that a retry may still complete (a promoted replica lacks the script).
RETRYABLE: tuple[type[Exception], ...] = (*REDIS_OUTAGE, *CLUSTER_SETTLING, NoScriptError)

#: Messages taken off the retry buffer per attempt.
_RETRY_BATCH = 200

#: Sends messages as one attempt; returns how many it wrote (a retry skips what an earlier attempt wrote).
Execute = Callable[[Sequence[OutgoingMessage], str], Awaitable[int]]


def _now_ms() -> int:
    return int(time.time() * 1000)


@attrs.define
class PublisherStats:
    """What happened to published events, over every lane; failures are counted, never silent."""

    published: int = 0
    failed_attempts: int = 0
    retried: int = 0
    deduplicated: int = 0
    """Retried events found already written by an attempt whose answer was lost (sent once, not twice)."""
    dropped: int = 0
    dropped_by_type: Counter[str] = attrs.field(factory=Counter)
    waiting: int = 0
    """Events waiting for Redis, in every lane's retry buffer (those being retried included)."""

    def drop(self, messages: Sequence[OutgoingMessage], why: str) -> None:
        count = len(messages)
        self.dropped += count
        self.dropped_by_type.update(message.event_type for message in messages)
        logger.error(
            "dropped %d SSE event(s): %s (%d dropped in total)",
            count,
            why,
            self.dropped,
            extra={"dropped": count, "dropped_total": self.dropped, "reason": why},
        )


@attrs.define
class _Batch:
    """Messages offered while the batch's first publisher yielded: sent together in one attempt.

    Its callers wait for :attr:`released`: set once Redis has answered, or
    earlier, when the first of their Redis budgets is spent (one timer per
    batch, not one per caller).
    """

    messages: list[OutgoingMessage]
    released: asyncio.Future[None] = attrs.field(factory=lambda: asyncio.get_running_loop().create_future())
    release_at: float = float("inf")
    release_timer: asyncio.TimerHandle | None = None
    sent: bool = False
    """Redis answered (or the messages went on to the retry buffer): nothing of the batch can be lost now."""

    def release_by(self, deadline: float) -> None:
        """Let the callers go at ``deadline`` (loop time) at the latest."""
        if deadline < self.release_at:
            self.release_at = deadline
            if self.release_timer is not None:
                self.release_timer.cancel()
            self.release_timer = asyncio.get_running_loop().call_at(deadline, self.release)

    def release(self, error: BaseException | None = None) -> None:
        if self.release_timer is not None:
            self.release_timer.cancel()
        if self.released.done():
            return
        if error is None:
            self.released.set_result(None)
        else:
            self.released.set_exception(error)


class PublishLane:
    """Batches, order and retries for the messages of one slot.

    Under load, publishes coalesce: what use cases publish while the previous
    batch is on the wire (or within one turn of the event loop) is sent as one
    attempt, one round trip, instead of one each. One batch is on the wire at
    a time, so events reach Redis in the order they were published.

    Fail-open with a memory: when Redis cannot take them, events wait in a
    retry buffer and are retried in order, with backoff, for ``retry_seconds``;
    new ones queue behind them. The buffer is bounded over all lanes
    (``buffer_size``): the lane that grows past it drops its oldest. What is
    dropped is logged and counted.

    A caller waits for its batch at most for what its request has left of the
    Redis budget (:mod:`infrastructure.redis_deadline`): a hung Redis holds no
    request. The batch goes on without it and is retried if it fails.
    """

    def __init__(
        self,
        execute: Execute,
        stats: PublisherStats,
        *,
        retry_seconds: float,
        buffer_size: int,
        wait_seconds: float,
    ) -> None:
        self._execute = execute
        self._stats = stats
        self._retry_seconds = retry_seconds
        self._buffer_size = buffer_size
        self._wait_seconds = wait_seconds
        self._backoff = ExponentialWithJitterBackoff(cap=2.0, base=0.05)
        self._buffer: deque[OutgoingMessage] = deque()
        self._in_flight = 0  # retried events taken off the buffer and being sent
        self._flusher: asyncio.Task[None] | None = None
        self._forming: _Batch | None = None
        self._batches: set[asyncio.Task[None]] = set()
        self._on_the_wire: asyncio.Task[None] | None = None  # the batch sent last

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        batch = self._forming
        if batch is None and (self._buffer or self._in_flight):
            self._enqueue(messages)  # behind the waiting ones: order is kept
            return
        if batch is None or batch.released.done():
            # A released batch takes no more callers: each caller waits for its own budget.
            self._forming = batch = _Batch([])
            # Sent by a task of its own, after the batch before it, so what other use cases publish
            # meanwhile joins it, and a cancelled caller loses nothing.
            # A context of its own: the batch carries many requests' events, not its first caller's.
            task = asyncio.get_running_loop().create_task(
                self._send_batch(batch, after=self._on_the_wire), context=contextvars.Context()
            )
            self._on_the_wire = task
            self._batches.add(task)
            task.add_done_callback(functools.partial(self._batch_done, batch))
        batch.messages.extend(messages)
        # Returning once it is sent keeps each caller's events in order; but never
        # later than the request's Redis budget allows (the batch goes on alone).
        batch.release_by(redis_deadline(self._wait_seconds))
        await asyncio.shield(batch.released)

    async def aclose(self, *, within_seconds: float) -> None:
        """Try once more to deliver what waits, then count the rest as dropped; bounded in time."""
        if self._batches:
            _, late = await asyncio.wait(set(self._batches), timeout=within_seconds)
            for task in late:  # Redis does not answer: their events are dropped (and counted) as they end
                task.cancel()
            if late:
                await asyncio.wait(late)
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._buffer:
            with contextlib.suppress(*RETRYABLE):
                await asyncio.wait_for(self._flush_once(), timeout=within_seconds)
        if self._buffer:
            self._drop_oldest(len(self._buffer), "the service is stopping")

    def _batch_done(self, batch: _Batch, task: asyncio.Task[None]) -> None:
        self._batches.discard(task)
        if self._forming is batch:
            self._forming = None
        if task.cancelled() and not batch.sent:
            # Cancelled before Redis answered (shutdown): counted, never silent.
            self._stats.drop(batch.messages, "the service is stopping")
        batch.release()

    async def _send_batch(self, batch: _Batch, *, after: asyncio.Task[None] | None) -> None:
        if after is not None and not after.done():
            # One batch on the wire at a time, so events reach Redis in the order they were
            # published even when callers stop waiting; what is published meanwhile joins this one.
            await asyncio.wait((after,))
        self._forming = None  # from now on, new publishes form the next batch
        if self._buffer or self._in_flight:  # the batch before failed: queue behind its retry
            batch.sent = True
            self._enqueue(batch.messages)
            batch.release()
            return
        attempt = new_attempt()
        try:
            written = await self._execute(batch.messages, attempt)
        except RETRYABLE as error:
            self._stats.failed_attempts += 1
            logger.warning(
                "Redis publish failed (%s); %d event(s) held for retry",
                type(error).__name__,
                len(batch.messages),
                extra={"held": len(batch.messages), "error": type(error).__name__},
            )
            batch.sent = True
            now_ms = _now_ms()
            self._enqueue([message.tried(attempt, now_ms) for message in batch.messages])
        except Exception as error:  # not an outage (a refused script, say): every caller's handler hears of it
            if batch.released.done():  # its callers stopped waiting: nobody else will say it
                logger.error("a batch of %d SSE event(s) was refused by Redis", len(batch.messages), exc_info=error)
            batch.sent = True
            batch.release(error)
            return
        else:
            batch.sent = True
            self._stats.published += written
        batch.release()

    # -- the retry buffer -------------------------------------------------
    def _enqueue(self, messages: Sequence[OutgoingMessage]) -> None:
        self._buffer.extend(messages)
        self._stats.waiting += len(messages)
        overflow = self._stats.waiting - self._buffer_size
        if overflow > 0:
            self._drop_oldest(min(overflow, len(self._buffer)), "the retry buffer is full (oldest dropped first)")
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush(), name="herald-redis-publish-retry", context=contextvars.Context()
            )

    async def _flush(self) -> None:
        failures = 1  # it has just failed: back off before the first retry
        await asyncio.sleep(self._backoff.compute(failures))
        while self._buffer:
            self._expire()
            if not self._buffer:
                break
            try:
                await self._flush_once()
                failures = 0
            except RETRYABLE:
                failures += 1
                self._stats.failed_attempts += 1
                await asyncio.sleep(self._backoff.compute(failures))
            except Exception as error:  # refused, and would be again: the rest must not wait behind it for ever
                self._stats.failed_attempts += 1
                logger.error("Redis refused a retried batch", exc_info=error)
                self._drop_oldest(min(_RETRY_BATCH, len(self._buffer)), f"Redis refused them ({type(error).__name__})")
        logger.info("Redis publishing recovered", extra={"retried_total": self._stats.retried})

    async def _flush_once(self) -> None:
        while self._buffer:
            # Taken off the buffer while in flight, so an overflow meanwhile drops
            # only events that are really still waiting; put back in order on failure.
            batch = [self._buffer.popleft() for _ in range(min(_RETRY_BATCH, len(self._buffer)))]
            self._in_flight = len(batch)
            attempt = new_attempt()
            try:
                written = await self._execute(batch, attempt)
            except BaseException:
                now_ms = _now_ms()
                self._buffer.extendleft(reversed([message.tried(attempt, now_ms) for message in batch]))
                raise
            finally:
                self._in_flight = 0
            self._stats.waiting -= len(batch)
            self._stats.retried += len(batch)
            self._stats.published += written

    def _expire(self) -> None:
        deadline = time.monotonic() - self._retry_seconds
        expired = 0
        while expired < len(self._buffer) and self._buffer[expired].queued_at < deadline:
            expired += 1
        if expired:
            self._drop_oldest(expired, f"Redis stayed unreachable for {self._retry_seconds:g} s")

    def _drop_oldest(self, count: int, why: str) -> None:
        dropped = [self._buffer.popleft() for _ in range(count)]
        self._stats.waiting -= count
        self._stats.drop(dropped, why)
