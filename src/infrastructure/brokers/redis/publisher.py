"""Publisher on Redis: append to the audience's log and publish live, atomically, in a lane per slot."""

import asyncio
import functools
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from uuid import UUID

import attrs
from redis.asyncio import Redis, RedisCluster
from redis.exceptions import NoScriptError

from domain.ports import DeliveryAttempt
from domain.sse import SSEEvent
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.brokers.redis.publish_lane import PublisherStats, PublishLane
from infrastructure.brokers.redis.publish_script import (
    PUBLISH_SCRIPT,
    AttemptFencedError,
    OutgoingMessage,
    script_arguments,
)
from infrastructure.sse.wire_format import WireFormat

if TYPE_CHECKING:  # tracing is imported only when it is on
    from infrastructure.tracing.tracing import Tracing

#: Messages per script call.
_BATCH = 200


class RedisPublisher:
    """``SSEPublisherProtocol`` on Redis.

    Each event becomes one message per audience log (its user's and its
    group's, or the broadcast log), sent by the lane of that log's slot
    (:class:`~infrastructure.brokers.redis.publish_lane.PublishLane`: batches,
    order, retries). A single Redis takes any mix of slots in one call, so
    there it is one lane for everything; on a cluster each slot has its own,
    so a primary that is down holds up only the events of its slots.

    A retry never writes twice what a lost answer had already written (see
    :mod:`~infrastructure.brokers.redis.publish_script`), so the client should
    not retry publishes itself (redis-py's ``Retry``): only the lanes know
    which retries must look for a lost success first.
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
        tracing: "Tracing | None" = None,
    ) -> None:
        self._client = client
        self._tracing = tracing
        self._keys = keys
        self._wire_format = wire_format
        self._retention = retention
        self._ttl = ttl_seconds
        self._script = client.register_script(PUBLISH_SCRIPT)
        self._script_loaded = False
        self._per_slot = isinstance(client, RedisCluster)
        self._lanes: dict[str, PublishLane] = {}
        self.stats = PublisherStats()
        self._new_lane = functools.partial(
            PublishLane,
            self._execute,
            self.stats,
            retry_seconds=retry_seconds,
            buffer_size=buffer_size,
            wait_seconds=wait_seconds,
        )

    @property
    def waiting(self) -> int:
        """Events waiting for Redis to come back (those being retried included)."""
        return self.stats.waiting

    async def publish(self, event: SSEEvent) -> None:
        await self._send(self._messages(event))

    async def publish_to_users(self, event: SSEEvent, user_ids: Iterable[UUID]) -> None:
        copies = (attrs.evolve(event, user_id=user, group=None) for user in user_ids)
        await self._send([message for copy in copies for message in self._messages(copy)])

    async def broadcast(self, event: SSEEvent) -> None:
        await self._send(self._messages(attrs.evolve(event, user_id=None, group=None)))

    async def publish_now(self, events: Sequence[SSEEvent], attempt: DeliveryAttempt) -> None:
        """Outside the lanes: the caller (the outbox relay) holds the events and retries them itself.

        A retry's messages carry its earlier attempts, so the script fences
        those and skips what they wrote (see :mod:`.publish_script`).
        """
        tried_at_ms = int(attempt.first_tried_at.timestamp() * 1000) if attempt.first_tried_at is not None else 0
        by_tag: dict[str, list[OutgoingMessage]] = {}
        for event in events:
            for message in self._messages(event):
                retry = attrs.evolve(message, tried_at_ms=tried_at_ms, attempts=attempt.earlier)
                by_tag.setdefault(retry.tag, []).append(retry)
        # Slots side by side; each slot's messages in order.
        written = await asyncio.gather(*(self._execute(group, attempt.token) for group in by_tag.values()))
        self.stats.published += sum(written)

    async def aclose(self, *, within_seconds: float = 1.0) -> None:
        """Try once more to deliver what waits, then count the rest as dropped; bounded in time."""
        await asyncio.gather(*(lane.aclose(within_seconds=within_seconds) for lane in self._lanes.values()))

    def _messages(self, event: SSEEvent) -> list[OutgoingMessage]:
        """One message per log the event goes to: its user's and its group's, or the broadcasts'.

        On a cluster each slot gets a lane (and calls) of its own; a single Redis takes any batch in one.
        """
        keys, per_slot = self._keys, self._per_slot
        tracing = self._tracing
        payload = self._wire_format.dumps_event(event, tracing.carrier_of(event.event_id) if tracing else None)
        queued_at = time.monotonic()
        if event.is_broadcast:
            return [
                OutgoingMessage(
                    keys.broadcast_tag, keys.broadcast_log, keys.broadcast_channel, payload, queued_at, event.event_type
                )
            ]
        messages = []
        if (user := event.user_id) is not None:
            tag = keys.user_tag(user) if per_slot else keys.broadcast_tag
            messages.append(
                OutgoingMessage(tag, keys.user_log(user), keys.user_channel(user), payload, queued_at, event.event_type)
            )
        if (group := event.group) is not None:
            tag = keys.group_tag(group) if per_slot else keys.broadcast_tag
            log, channel = keys.group_log(group), keys.group_channel(group)
            messages.append(OutgoingMessage(tag, log, channel, payload, queued_at, event.event_type))
        return messages

    async def _send(self, messages: Sequence[OutgoingMessage]) -> None:
        if not messages:
            return
        by_tag: dict[str, list[OutgoingMessage]] = {}
        for message in messages:
            by_tag.setdefault(message.tag, []).append(message)
        if len(by_tag) == 1:
            await self._lane(messages[0].tag).send(messages)
        else:
            await asyncio.gather(*(self._lane(tag).send(group) for tag, group in by_tag.items()))

    def _lane(self, tag: str) -> PublishLane:
        lane = self._lanes.get(tag)
        if lane is None:
            lane = self._lanes[tag] = self._new_lane()
        return lane

    async def _execute(self, messages: Sequence[OutgoingMessage], attempt: str) -> int:
        """Send one lane's ``messages`` as ``attempt``; return how many were written (a retry skips some).

        In calls of up to ``_BATCH`` messages, in order: on a single Redis in one pipeline (one
        round trip), on a cluster one after another (a cluster pipeline runs no scripts).
        """
        calls = [messages[i : i + _BATCH] for i in range(0, len(messages), _BATCH)]
        answers = await (self._in_order(calls, attempt) if self._per_slot else self._pipelined(calls, attempt))
        if -1 in answers:
            raise AttemptFencedError(f"attempt {attempt} was taken over by a later one")
        written = sum(answers)
        self.stats.deduplicated += len(messages) - written
        return written

    async def _in_order(self, calls: list[Sequence[OutgoingMessage]], attempt: str) -> list[int]:
        """Calls one after another (each loads the script where it is missing)."""
        written = []
        for call in calls:
            keys, args = self._arguments(call, attempt)
            written.append(int(await self._script(keys=keys, args=args)))
        return written

    async def _pipelined(self, calls: list[Sequence[OutgoingMessage]], attempt: str) -> list[int]:
        """A lone call as it is, several in one pipeline (one round trip)."""
        if len(calls) == 1:
            return await self._in_order(calls, attempt)
        if not self._script_loaded:  # a pipeline cannot load it on a miss, so the first one loads it first
            await self._client.script_load(PUBLISH_SCRIPT)
            self._script_loaded = True
        async with self._client.pipeline(transaction=False) as pipe:
            for call in calls:
                keys, args = self._arguments(call, attempt)
                pipe.evalsha(self._script.sha, len(keys), *keys, *args)
            try:
                return [int(n) for n in await pipe.execute()]
            except NoScriptError:
                self._script_loaded = False  # Redis restarted: load it again before the retry
                raise

    def _arguments(
        self, messages: Sequence[OutgoingMessage], attempt: str
    ) -> tuple[list[str], list[str | bytes | int]]:
        return script_arguments(self._keys, messages, attempt, retention=self._retention, ttl_seconds=self._ttl)
