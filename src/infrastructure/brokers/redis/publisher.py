"""Publisher on Redis: append to the audience's Stream and publish live, atomically."""

import asyncio
import contextlib
import contextvars
import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence
from uuid import UUID

import attrs
from redis.asyncio import Redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from domain.sse import SSEEvent
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.sse.wire_format import WireFormat

logger = logging.getLogger(__name__)

#: XADD and PUBLISH in one atomic step: the stream position is the live
#: message's id, so replayed and live events agree on identity and order.
#: Positions come from one clock key (KEYS[2]) shared by every Stream, so
#: positions in a user's Stream and in the broadcast Stream interleave exactly
#: as the events were published; a replay merges them in that order.
_PUBLISH_SCRIPT = """
local id = ''
if tonumber(ARGV[3]) > 0 then
  local t = redis.call('TIME')
  local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local seq = 0
  local last = redis.call('GET', KEYS[2])
  if last then
    local last_ms, last_seq = string.match(last, '^(%d+)-(%d+)$')
    last_ms = tonumber(last_ms)
    if last_ms >= ms then
      ms = last_ms
      seq = tonumber(last_seq) + 1
    end
  end
  id = string.format('%.0f-%.0f', ms, seq)
  redis.call('SET', KEYS[2], id)
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], id, 'e', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
redis.call('PUBLISH', ARGV[1], id .. '\\n' .. ARGV[2])
return id
"""

_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
_BATCH = 200


@attrs.define
class PublisherStats:
    """What happened to published events; failures are counted, never silent."""

    published: int = 0
    failed_attempts: int = 0
    retried: int = 0
    dropped: int = 0

    @property
    def as_dict(self) -> dict[str, int]:
        return attrs.asdict(self)


@attrs.frozen
class _Message:
    stream: str
    channel: bytes
    payload: bytes
    queued_at: float


class RedisPublisher:
    """``SSEPublisherProtocol`` on Redis.

    Fail-open with a memory: when Redis cannot be reached, events wait in a
    bounded buffer and are retried in order, with backoff, for
    ``retry_seconds``; what is finally dropped is logged and counted in
    :attr:`stats`. While events wait, new ones queue behind them, so order is
    kept and a down Redis is not hammered by every use case.
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
    ) -> None:
        self._client = client
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
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._buffer:
            with contextlib.suppress(*_REDIS_DOWN):
                await asyncio.wait_for(self._flush_once(), timeout=1.0)
        if self._buffer:
            self._drop(len(self._buffer), "the service is stopping")

    def _message(self, user_id: UUID | None, event: SSEEvent) -> _Message:
        if user_id is None:
            stream, channel = self._keys.broadcast_stream, self._keys.broadcast_channel
        else:
            stream, channel = self._keys.user_stream(user_id), self._keys.user_channel(user_id)
        return _Message(stream, channel, self._wire_format.dumps_event(event), time.monotonic())

    async def _send(self, messages: Sequence[_Message]) -> None:
        if not messages:
            return
        if self._buffer or self._in_flight:
            self._enqueue(messages)  # behind the waiting ones: order is kept
            return
        try:
            await self._execute(messages)
        except _REDIS_DOWN as error:
            self.stats.failed_attempts += 1
            logger.warning(
                "Redis publish failed (%s); %d event(s) held for retry",
                type(error).__name__,
                len(messages),
                extra={"held": len(messages), "error": type(error).__name__},
            )
            self._enqueue(messages)
        else:
            self.stats.published += len(messages)

    async def _execute(self, messages: Sequence[_Message]) -> None:
        args = (self._retention, self._ttl)
        if len(messages) == 1:
            [message] = messages
            await self._script(keys=[message.stream, self._keys.clock], args=[message.channel, message.payload, *args])
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for message in messages:
                await self._script(
                    keys=[message.stream, self._keys.clock], args=[message.channel, message.payload, *args], client=pipe
                )
            await pipe.execute()

    def _enqueue(self, messages: Sequence[_Message]) -> None:
        self._buffer.extend(messages)
        self._trim_overflow()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush(), name="herald-redis-publish-retry", context=contextvars.Context()
            )

    async def _flush(self) -> None:
        failures = 0
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
                await self._execute(batch)
            except BaseException:
                self._buffer.extendleft(reversed(batch))
                self._trim_overflow()
                raise
            finally:
                self._in_flight = 0
            self.stats.retried += len(batch)
            self.stats.published += len(batch)

    def _trim_overflow(self) -> None:
        overflow = len(self._buffer) - self._buffer_size
        if overflow > 0:
            self._drop(overflow, "the retry buffer is full (oldest dropped first)")

    def _expire(self) -> None:
        deadline = time.monotonic() - self._retry_seconds
        expired = 0
        while self._buffer and self._buffer[0].queued_at < deadline:
            self._buffer.popleft()
            expired += 1
        if expired:
            self._drop(expired, f"Redis stayed unreachable for {self._retry_seconds:g} s", remove=False)

    def _drop(self, count: int, why: str, *, remove: bool = True) -> None:
        if remove:
            for _ in range(count):
                self._buffer.popleft()
        self.stats.dropped += count
        logger.error(
            "dropped %d SSE event(s): %s (%d dropped in total)",
            count,
            why,
            self.stats.dropped,
            extra={"dropped": count, "dropped_total": self.stats.dropped, "reason": why},
        )
