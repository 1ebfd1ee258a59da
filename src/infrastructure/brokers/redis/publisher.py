"""Publisher on Redis: append to the audience's log and publish live, atomically."""

import asyncio
import contextlib
import contextvars
import functools
import logging
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from uuid import UUID

import attrs
from redis.asyncio import Redis, RedisCluster
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import NoScriptError

from domain.sse import SSEEvent
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.brokers.redis.publish_script import (
    PUBLISH_SCRIPT,
    OutgoingMessage,
    new_attempt,
    script_arguments,
)
from infrastructure.redis_deadline import redis_deadline
from infrastructure.redis_errors import REDIS_OUTAGE
from infrastructure.sse.wire_format import WireFormat

logger = logging.getLogger(__name__)

#: What fails a publish attempt that a retry may still complete.
_RETRYABLE: tuple[type[Exception], ...] = (*REDIS_OUTAGE, NoScriptError)

_BATCH = 200


def _now_ms() -> int:
    return int(time.time() * 1000)


@attrs.define
class PublisherStats:
    """What happened to published events; failures are counted, never silent."""

    published: int = 0
    failed_attempts: int = 0
    retried: int = 0
    deduplicated: int = 0
    """Retried events found already written by an attempt whose answer was lost (sent once, not twice)."""
    dropped: int = 0
    dropped_by_type: Counter[str] = attrs.field(factory=Counter)


@attrs.define
class _Batch:
    """Messages offered while the batch's first publisher yielded: sent together in one pipeline.

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


class RedisPublisher:
    """``SSEPublisherProtocol`` on Redis.

    Fail-open with a memory: when Redis cannot be reached, events wait in a
    bounded buffer and are retried in order, with backoff, for
    ``retry_seconds``; what is finally dropped is logged and counted in
    :attr:`stats`. While events wait, new ones queue behind them, so order is
    kept and a down Redis is not hammered by every use case.

    Under load, publishes coalesce: what use cases publish while the previous
    batch is on the wire (or within one turn of the event loop) is sent as one
    pipeline, one round trip and one write, instead of one each. A lone
    publish pays a single loop iteration for this. One batch is on the wire
    at a time, so events reach Redis in the order they were published.

    A caller waits for its batch at most for what its request has left of the
    Redis budget (:mod:`infrastructure.redis_deadline`): a hung Redis holds
    no request. The batch goes on without it and is retried if it fails, and
    a retry never writes twice what a lost answer had already written. The
    client should not retry its publishes (redis-py's ``Retry``): only this
    class knows which retries must look for a lost success first.
    """

    def __init__(
        self,
        client: Redis,
        keys: RedisKeys,
        wire_format: WireFormat,
        *,
        retention: int,
        ttl_seconds: int,
        retry_seconds: float,
        buffer_size: int,
        wait_seconds: float = 2.0,
    ) -> None:
        self._client = client
        self._wait_seconds = wait_seconds
        self._keys = keys
        self._wire_format = wire_format
        self._retention = retention
        self._ttl = ttl_seconds
        self._retry_seconds = retry_seconds
        self._buffer: deque[OutgoingMessage] = deque()
        self._buffer_size = buffer_size
        self._backoff = ExponentialWithJitterBackoff(cap=2.0, base=0.05)
        self._script = client.register_script(PUBLISH_SCRIPT)
        self._per_slot = isinstance(client, RedisCluster)
        self._flusher: asyncio.Task[None] | None = None
        self._in_flight = 0  # retried events taken off the buffer and being sent
        self._forming: _Batch | None = None
        self._batches: set[asyncio.Task[None]] = set()
        self._on_the_wire: asyncio.Task[None] | None = None  # the batch sent last
        self.stats = PublisherStats()

    @property
    def waiting(self) -> int:
        """Events waiting for Redis to come back (those being retried included)."""
        return len(self._buffer) + self._in_flight

    async def publish(self, event: SSEEvent) -> None:
        if event.is_broadcast:
            await self.broadcast(event)
        else:
            await self._send([self._message(event.user_id, event)])

    async def publish_to_users(self, event: SSEEvent, user_ids: Iterable[UUID]) -> None:
        await self._send([self._message(user, attrs.evolve(event, user_id=user)) for user in user_ids])

    async def broadcast(self, event: SSEEvent) -> None:
        await self._send([self._message(None, attrs.evolve(event, user_id=None))])

    async def aclose(self, *, within_seconds: float = 1.0) -> None:
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
            with contextlib.suppress(*REDIS_OUTAGE):
                await asyncio.wait_for(self._flush_once(), timeout=within_seconds)
        if self._buffer:
            self._drop([self._buffer.popleft() for _ in range(len(self._buffer))], "the service is stopping")

    def _message(self, user_id: UUID | None, event: SSEEvent) -> OutgoingMessage:
        keys = self._keys
        if user_id is None:
            log, channel = keys.broadcast_log, keys.broadcast_channel
        else:
            log, channel = keys.user_log(user_id), keys.user_channel(user_id)
        # On a cluster each slot gets calls of its own; a single Redis takes the whole batch in one.
        tag = keys.broadcast_tag if user_id is None or not self._per_slot else keys.user_tag(user_id)
        payload = self._wire_format.dumps_event(event)
        return OutgoingMessage(tag, log, channel, payload, time.monotonic(), event.event_type)

    async def _send(self, messages: Sequence[OutgoingMessage]) -> None:
        if not messages:
            return
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

    def _batch_done(self, batch: _Batch, task: asyncio.Task[None]) -> None:
        self._batches.discard(task)
        if self._forming is batch:
            self._forming = None
        if task.cancelled() and not batch.sent:
            # Cancelled before Redis answered (shutdown): counted, never silent.
            self._drop(batch.messages, "the service is stopping")
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
        except _RETRYABLE as error:
            self.stats.failed_attempts += 1
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
            self.stats.published += written
        batch.release()

    async def _execute(self, messages: Sequence[OutgoingMessage], attempt: str) -> int:
        """Send ``messages`` as ``attempt``; return how many were written (a retry skips those written before).

        Messages sharing a tag go in calls of up to ``_BATCH``, in order. On a cluster each tag is
        a slot: its calls run one after another, the slots side by side (a cluster pipeline runs no
        scripts). A single Redis gets one tag per batch, and its calls in one pipeline.
        """
        by_tag: dict[str, list[OutgoingMessage]] = {}
        for message in messages:
            by_tag.setdefault(message.tag, []).append(message)
        per_tag = [[group[i : i + _BATCH] for i in range(0, len(group), _BATCH)] for group in by_tag.values()]
        if not self._per_slot:
            written = await self._pipelined([call for calls in per_tag for call in calls], attempt)
        elif len(per_tag) == 1:
            written = await self._in_order(per_tag[0], attempt)
        else:
            results = await asyncio.gather(*(self._in_order(calls, attempt) for calls in per_tag))
            written = [n for slot in results for n in slot]
        count = sum(written)
        self.stats.deduplicated += len(messages) - count
        return count

    async def _in_order(self, calls: list[list[OutgoingMessage]], attempt: str) -> list[int]:
        """One slot's calls, one after another (each loads the script where it is missing)."""
        written = []
        for call in calls:
            keys, args = self._arguments(call, attempt)
            written.append(int(await self._script(keys=keys, args=args)))
        return written

    async def _pipelined(self, calls: list[list[OutgoingMessage]], attempt: str) -> list[int]:
        """Calls of one node: a lone call as it is, several in one pipeline (one round trip)."""
        if len(calls) == 1:
            return await self._in_order(calls, attempt)
        async with self._client.pipeline(transaction=False) as pipe:
            for call in calls:
                keys, args = self._arguments(call, attempt)
                pipe.evalsha(self._script.sha, len(keys), *keys, *args)
            try:
                return [int(n) for n in await pipe.execute()]
            except NoScriptError:
                await self._client.script_load(PUBLISH_SCRIPT)  # the retry finds it
                raise

    def _arguments(
        self, messages: Sequence[OutgoingMessage], attempt: str
    ) -> tuple[list[str], list[str | bytes | int]]:
        return script_arguments(self._keys, messages, attempt, retention=self._retention, ttl_seconds=self._ttl)

    def _enqueue(self, messages: Sequence[OutgoingMessage]) -> None:
        self._buffer.extend(messages)
        self._trim_overflow()
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
            except _RETRYABLE:
                failures += 1
                self.stats.failed_attempts += 1
                await asyncio.sleep(self._backoff.compute(failures))
        logger.info("Redis publishing recovered", extra={"retried_total": self.stats.retried})

    async def _flush_once(self) -> None:
        while self._buffer:
            # Taken off the buffer while in flight, so an overflow meanwhile drops
            # only events that are really still waiting; put back in order on failure.
            batch = [self._buffer.popleft() for _ in range(min(_BATCH, len(self._buffer)))]
            self._in_flight = len(batch)
            attempt = new_attempt()
            try:
                written = await self._execute(batch, attempt)
            except BaseException:
                now_ms = _now_ms()
                self._buffer.extendleft(reversed([message.tried(attempt, now_ms) for message in batch]))
                self._trim_overflow()
                raise
            finally:
                self._in_flight = 0
            self.stats.retried += len(batch)
            self.stats.published += written

    def _trim_overflow(self) -> None:
        overflow = len(self._buffer) - self._buffer_size
        if overflow > 0:
            oldest = [self._buffer.popleft() for _ in range(overflow)]
            self._drop(oldest, "the retry buffer is full (oldest dropped first)")

    def _expire(self) -> None:
        deadline = time.monotonic() - self._retry_seconds
        expired = []
        while self._buffer and self._buffer[0].queued_at < deadline:
            expired.append(self._buffer.popleft())
        if expired:
            self._drop(expired, f"Redis stayed unreachable for {self._retry_seconds:g} s")

    def _drop(self, messages: list[OutgoingMessage], why: str) -> None:
        count = len(messages)
        self.stats.dropped += count
        self.stats.dropped_by_type.update(message.event_type for message in messages)
        logger.error(
            "dropped %d SSE event(s): %s (%d dropped in total)",
            count,
            why,
            self.stats.dropped,
            extra={"dropped": count, "dropped_total": self.stats.dropped, "reason": why},
        )
