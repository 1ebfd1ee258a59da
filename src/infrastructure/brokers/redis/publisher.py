"""Publisher on Redis: append to the audience's Stream and publish live, atomically."""

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
from redis.asyncio import Redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from domain.sse import SSEEvent
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.redis_deadline import redis_deadline
from infrastructure.sse.wire_format import WireFormat

logger = logging.getLogger(__name__)

#: XADD and PUBLISH in one atomic step: the stream position is the live
#: message's id, so replayed and live events agree on identity and order.
#: Positions come from one clock key (KEYS[1]) shared by every Stream, so
#: positions in a user's Stream and in the broadcast Stream interleave exactly
#: as the events were published; a replay merges them in that order.
#: One call takes a whole batch: KEYS[i + 1] is the Stream of message i, and
#: ARGV holds the retention, the TTL, the retry mark, then each message's
#: channel and payload.
#: A retried batch may already have been written: an attempt whose answer was
#: lost (a timeout, a dropped connection) can still have run. Its retry carries
#: the time of that first attempt (ARGV[3], in milliseconds, '0' on a first
#: attempt) and skips every message whose exact payload its Stream holds since
#: then, so a retry never delivers an event twice.
_PUBLISH_SCRIPT = """
local retention = tonumber(ARGV[1])
local since = ARGV[3]
local todo = {}
for i = 1, #KEYS - 1 do
  local seen = false
  if since ~= '0' and retention > 0 then
    for _, entry in ipairs(redis.call('XRANGE', KEYS[i + 1], since, '+')) do
      if entry[2][2] == ARGV[3 + 2 * i] then seen = true break end
    end
  end
  if not seen then todo[#todo + 1] = i end
end
local ms, seq = 0, -1
if retention > 0 then
  local t = redis.call('TIME')
  ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local last = redis.call('GET', KEYS[1])
  if last then
    local last_ms, last_seq = string.match(last, '^(%d+)-(%d+)$')
    last_ms = tonumber(last_ms)
    if last_ms >= ms then
      ms = last_ms
      seq = tonumber(last_seq)
    end
  end
end
local n = #todo
if retention > 0 and n > 0 then
  -- Advanced before anything is written: a failure part-way never lets ids be reused.
  redis.call('SET', KEYS[1], string.format('%.0f-%.0f', ms, seq + n))
end
for _, i in ipairs(todo) do
  local id = ''
  local payload = ARGV[3 + 2 * i]
  if retention > 0 then
    seq = seq + 1
    id = string.format('%.0f-%.0f', ms, seq)
    redis.call('XADD', KEYS[i + 1], 'MAXLEN', '~', retention, id, 'e', payload)
    redis.call('EXPIRE', KEYS[i + 1], ARGV[2])
  end
  redis.call('PUBLISH', ARGV[2 + 2 * i], id .. '\\n' .. payload)
end
return n
"""

#: How far before a first attempt (by this host's clock) a retry looks for what
#: it may already have written: room for the clocks of this host and Redis to differ.
_CLOCK_SKEW_MS = 60_000

_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
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

    @property
    def as_dict(self) -> dict[str, int]:
        """The totals (not the per-type breakdown), for logs and test reports."""
        totals = attrs.asdict(self, filter=lambda field, _: field.name != "dropped_by_type")
        return {name: int(value) for name, value in totals.items()}


@attrs.define
class _Batch:
    """Messages offered while the batch's first publisher yielded: sent together in one pipeline.

    Its callers wait for :attr:`released`: set once Redis has answered, or
    earlier, when the first of their Redis budgets is spent (one timer per
    batch, not one per caller).
    """

    messages: list["_Message"]
    released: asyncio.Future[None] = attrs.field(factory=lambda: asyncio.get_running_loop().create_future())
    release_at: float = float("inf")
    release_timer: asyncio.TimerHandle | None = None

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


@attrs.frozen
class _Message:
    stream: str
    channel: bytes
    payload: bytes
    queued_at: float
    event_type: str
    tried_at_ms: int = 0
    """Wall-clock time of the first attempt that failed (0: never tried); its retries look for a lost success."""

    def tried(self, now_ms: int) -> "_Message":
        return self if self.tried_at_ms else attrs.evolve(self, tried_at_ms=now_ms)


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
        self._buffer: deque[_Message] = deque()
        self._buffer_size = buffer_size
        self._backoff = ExponentialWithJitterBackoff(cap=2.0, base=0.05)
        self._script = client.register_script(_PUBLISH_SCRIPT)
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
        if event.user_id is None:
            await self.broadcast(event)
        else:
            await self._send([self._message(event.user_id, event)])

    async def publish_to_users(self, event: SSEEvent, user_ids: Iterable[UUID]) -> None:
        await self._send([self._message(user, attrs.evolve(event, user_id=user)) for user in user_ids])

    async def broadcast(self, event: SSEEvent) -> None:
        await self._send([self._message(None, attrs.evolve(event, user_id=None))])

    async def aclose(self) -> None:
        """Try once more to deliver what waits, then count the rest as dropped."""
        if self._batches:
            await asyncio.gather(*self._batches, return_exceptions=True)
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._buffer:
            with contextlib.suppress(*_REDIS_DOWN):
                await asyncio.wait_for(self._flush_once(), timeout=1.0)
        if self._buffer:
            self._drop([self._buffer.popleft() for _ in range(len(self._buffer))], "the service is stopping")

    def _message(self, user_id: UUID | None, event: SSEEvent) -> _Message:
        if user_id is None:
            stream, channel = self._keys.broadcast_stream, self._keys.broadcast_channel
        else:
            stream, channel = self._keys.user_stream(user_id), self._keys.user_channel(user_id)
        return _Message(stream, channel, self._wire_format.dumps_event(event), time.monotonic(), event.event_type)

    async def _send(self, messages: Sequence[_Message]) -> None:
        if not messages:
            return
        if self._buffer or self._in_flight:
            self._enqueue(messages)  # behind the waiting ones: order is kept
            return
        batch = self._forming
        if batch is None:
            # Sent by a task of its own from the next loop iteration on, so what other
            # use cases publish meanwhile joins it, and a cancelled caller loses nothing.
            self._forming = batch = _Batch([])
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
        # Also runs when the task was cancelled before its first step (the loop is closing).
        self._batches.discard(task)
        if self._forming is batch:
            self._forming = None
        if not batch.released.done():
            batch.released.cancel()
        batch.release()

    async def _send_batch(self, batch: _Batch, *, after: asyncio.Task[None] | None) -> None:
        if after is not None and not after.done():
            # One batch on the wire at a time, so events reach Redis in the order they were
            # published even when callers stop waiting; what is published meanwhile joins this one.
            await asyncio.wait((after,))
        self._forming = None  # from now on, new publishes form the next batch
        if self._buffer or self._in_flight:  # the batch before failed: queue behind its retry
            self._enqueue(batch.messages)
            batch.release()
            return
        try:
            written = await self._execute(batch.messages)
        except _REDIS_DOWN as error:
            self.stats.failed_attempts += 1
            logger.warning(
                "Redis publish failed (%s); %d event(s) held for retry",
                type(error).__name__,
                len(batch.messages),
                extra={"held": len(batch.messages), "error": type(error).__name__},
            )
            now_ms = _now_ms()
            self._enqueue([message.tried(now_ms) for message in batch.messages])
        except Exception as error:  # not an outage (a refused script, say): every caller's handler hears of it
            if batch.released.done():  # its callers stopped waiting: nobody else will say it
                logger.error("a batch of %d SSE event(s) was refused by Redis", len(batch.messages), exc_info=error)
            batch.release(error)
            return
        else:
            self.stats.published += written
        batch.release()

    async def _execute(self, messages: Sequence[_Message]) -> int:
        """Send ``messages``; return how many were written (a retry skips those written before)."""
        chunks = [messages[i : i + _BATCH] for i in range(0, len(messages), _BATCH)]
        if len(chunks) == 1:
            keys, args = self._script_arguments(chunks[0])
            written = [await self._script(keys=keys, args=args)]
        else:
            async with self._client.pipeline(transaction=False) as pipe:
                for chunk in chunks:
                    keys, args = self._script_arguments(chunk)
                    await self._script(keys=keys, args=args, client=pipe)
                written = await pipe.execute()
        count = sum(int(n) for n in written)
        self.stats.deduplicated += len(messages) - count
        return count

    def _script_arguments(self, messages: Sequence[_Message]) -> tuple[list[str], list[str | bytes | int]]:
        keys = [self._keys.clock]
        tried = [message.tried_at_ms for message in messages if message.tried_at_ms]
        since = max(0, min(tried) - _CLOCK_SKEW_MS) if tried else 0
        args: list[str | bytes | int] = [self._retention, self._ttl, str(since)]
        for message in messages:
            keys.append(message.stream)
            args.append(message.channel)
            args.append(message.payload)
        return keys, args

    def _enqueue(self, messages: Sequence[_Message]) -> None:
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
            except _REDIS_DOWN:
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
            try:
                written = await self._execute(batch)
            except BaseException:
                now_ms = _now_ms()
                self._buffer.extendleft(reversed([message.tried(now_ms) for message in batch]))
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

    def _drop(self, messages: list[_Message], why: str) -> None:
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
