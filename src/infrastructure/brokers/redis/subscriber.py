"""Subscriber on Redis: live fan-out from one pub/sub connection, gapless resume from the logs."""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID

from cattrs import BaseValidationError
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from domain.ports import SubscriberUnavailableError
from domain.sse import Group, SSECategory
from infrastructure.brokers.redis.catch_up import CatchUp
from infrastructure.brokers.redis.history import LogReader
from infrastructure.brokers.redis.keys import Position, RedisKeys
from infrastructure.brokers.redis.shards import ShardedChannels
from infrastructure.brokers.redis.subscription import (
    BROADCAST_LOG,
    USER_LOG,
    LiveMessage,
    Subscription,
    group_message,
)
from infrastructure.redis_deadline import redis_wait
from infrastructure.redis_errors import REDIS_FAILURE
from infrastructure.sse.framing import encode_json_body
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.group_ids import group_order
from infrastructure.streams.hub import StreamHub
from infrastructure.streams.inbox import EndReason, InboxEventStream

if TYPE_CHECKING:  # tracing is imported only when it is on
    from infrastructure.tracing.tracing import Tracing

logger = logging.getLogger(__name__)

T = TypeVar("T")


#: How long a catch-up after an outage keeps trying before the stream is ended (its client then resumes by
#: itself): long enough for a cluster to finish settling (its nodes refuse commands until every slot is served).
_CATCH_UP_SECONDS = 15.0


class RedisSubscriber:
    """``SSESubscriberProtocol`` on Redis, for many processes on many hosts.

    Each message is decoded and SSE-encoded once per process; each stream
    adds only its ``id:`` line (its position in the user's log, the
    broadcast log and each of its groups' logs). A group's events come from
    one channel per group, subscribed while a local stream is in the group:
    publishing to a group costs the same however many members it has.
    Resuming, and catching up after a Redis outage, follow
    one procedure: hold live messages, confirm the subscription, replay the
    logs strictly after the client's positions, then release the held
    messages, skipping those already replayed.
    """

    def __init__(
        self,
        pubsub_client: Redis,
        client: Redis,
        keys: RedisKeys,
        hub: StreamHub,
        wire_format: WireFormat,
        *,
        retention: int,
        reconnect_retry: Retry | None = None,
        subscribe_seconds: float = 2.0,
        hold_limit: int = 10_000,
        tracing: "Tracing | None" = None,
    ) -> None:
        self._client = client
        self._tracing = tracing
        self._keys = keys
        self._hub = hub
        self._wire_format = wire_format
        self._retention = retention
        self._subscribe_seconds = subscribe_seconds
        self._hold_limit = hold_limit
        retry = reconnect_retry or Retry(ExponentialWithJitterBackoff(cap=2.0, base=0.05), retries=-1)
        self._reconnect_catch_ups = asyncio.Semaphore(16)
        self._catch_up_backoff = ExponentialWithJitterBackoff(cap=1.0, base=0.1)
        self.channels = ShardedChannels(
            pubsub_client,
            name=f"{keys.prefix}-pubsub",
            on_message=self._on_message,
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
            retry=retry,
        )
        self.channels.want(keys.broadcast_channel)  # for as long as the process runs
        self._logs = LogReader(client)
        self._catch_up = CatchUp(
            self._logs,
            keys,
            wire_format,
            retention=retention,
            channels_of=lambda s: self._channels_of(s.inbox.user_id, s.inbox.groups),
            unbroken_since=self.channels.unbroken_since,
        )
        self._listeners: dict[bytes, Callable[[bytes], None]] = {}
        #: The user of each channel with a local stream: a look-up per live message, not a parse.
        self._users_by_channel: dict[bytes, UUID] = {}
        self._groups_by_channel: dict[bytes, Group] = {}
        self._after_reconnect: list[Callable[[], Awaitable[None]]] = []
        hub.watch(self._on_user_presence, self._on_group_presence)

    def listen(
        self,
        channel: bytes,
        kind: type[T],
        callback: Callable[[T], None],
        *,
        after_reconnect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Also deliver ``channel``'s messages to ``callback`` (control messages such as revocations).

        Every message on such a channel is a ``kind`` in the wire format's JSON,
        which no field's content can split or reshape; one that is not (a
        process of another version, say) is logged and skipped.
        Messages published while the connection was down are lost; ``after_reconnect``
        is awaited after each reconnect so the listener can look up what it missed.
        """

        def deliver(data: bytes) -> None:
            try:
                message = self._wire_format.loads(data, kind)
            except (ValueError, TypeError, BaseValidationError) as error:
                logger.warning("skipped a message on %s that is not a %s (%s)", channel.decode(), kind.__name__, error)
                return
            callback(message)

        self._listeners[channel] = deliver
        if after_reconnect is not None:
            self._after_reconnect.append(after_reconnect)
        self.channels.want(channel)

    async def start(self) -> None:
        """Connect to Redis (in the background: the service starts while a single Redis is down)."""
        await self.channels.start()

    async def aclose(self) -> None:
        await self.channels.aclose()

    async def position(self, user_id: UUID, groups: frozenset[Group] = frozenset()) -> str | None:
        if not self._retention:
            return None
        try:
            async with redis_wait(self._subscribe_seconds):
                cursor = await self._catch_up.at_the_end(user_id, group_order(groups) if groups else None)
        except REDIS_FAILURE as error:
            raise SubscriberUnavailableError(f"Redis is unavailable ({type(error).__name__})") from error
        return str(cursor)

    async def is_ready(self) -> bool:
        if not self.channels.is_connected():
            return False
        try:
            return bool(await asyncio.wait_for(self._client.ping(), timeout=1.0))
        except REDIS_FAILURE:
            return False

    async def subscribe(
        self,
        user_id: UUID,
        *,
        categories: frozenset[SSECategory] | None = None,
        last_event_id: str | None = None,
        groups: frozenset[Group] = frozenset(),
    ) -> InboxEventStream:
        inbox = self._hub.open(user_id, categories, groups)
        subscription = Subscription(inbox, self._hub)
        inbox.adapter_state = subscription
        try:
            # One bound for the whole subscription, within what the request has left for Redis.
            async with redis_wait(self._subscribe_seconds):
                for channel in self._channels_of(inbox.user_id, groups):
                    await self.channels.wait_subscribed(channel)
                if last_event_id is None:
                    await self._catch_up.start_at_the_end(subscription)
                else:
                    self._hub.stats.resumed(await self._catch_up.resume(subscription, last_event_id))
        except REDIS_FAILURE as error:
            inbox.end(EndReason.CLIENT_GONE)
            self._hub.stats.refused["broker_unavailable"] += 1
            # The caller answers 503 without a word; the reason is said here, once per refused stream.
            logger.warning("a stream could not open: Redis did not answer in time or failed (%s)", type(error).__name__)
            raise SubscriberUnavailableError(f"Redis is unavailable ({type(error).__name__})") from error
        except BaseException:
            inbox.end(EndReason.CLIENT_GONE)
            raise
        return InboxEventStream(inbox)

    # -- live -------------------------------------------------------------
    def _on_user_presence(self, user_id: UUID, present: bool) -> None:
        channel = self._keys.user_channel(user_id)
        if present:
            self._users_by_channel[channel] = user_id
            self.channels.want(channel)
        else:
            self._users_by_channel.pop(channel, None)
            self.channels.unwant(channel)

    def _on_group_presence(self, group: Group, present: bool) -> None:
        channel = self._keys.group_channel(group)
        if present:
            self._groups_by_channel[channel] = group
            self.channels.want(channel)
        else:
            self._groups_by_channel.pop(channel, None)
            self.channels.unwant(channel)

    def _channels_of(self, user_id: UUID, groups: frozenset[Group]) -> tuple[bytes, ...]:
        keys = self._keys
        return (keys.user_channel(user_id), keys.broadcast_channel, *(keys.group_channel(g) for g in groups))

    def _on_message(self, channel: bytes, data: bytes) -> None:
        listener = self._listeners.get(channel)
        if listener is not None:
            listener(data)
            return
        log: str | Group
        if channel == self._keys.broadcast_channel:
            targets = self._hub.all_streams()
            log = BROADCAST_LOG
        elif (user_id := self._users_by_channel.get(channel)) is not None:
            targets = self._hub.streams_of(user_id)
            log = USER_LOG
        elif (group := self._groups_by_channel.get(channel)) is not None:
            targets = self._hub.members(group)
            log = group
        else:  # its last local stream closed since Redis sent it
            return
        tracing = self._tracing
        started_ns = time.time_ns() if tracing is not None else 0
        raw_position, _, payload = data.partition(b"\n")
        position = Position.parse(raw_position) if raw_position else None
        try:
            event = self._wire_format.relay(payload)
            body = encode_json_body(event=event.event_type, data_json=event.data_json)
            record = self._hub.deliveries.begin(event.event_id, event.event_type, event.category, event.committed_at)
            message = (
                LiveMessage(log, position, event.category, body, delivery=record)
                if isinstance(log, str)
                else group_message(log, position, event, body, record)
            )
        except Exception:
            logger.exception("undecodable message on a Herald channel; skipped")
            return
        for inbox in targets:
            subscription = inbox.adapter_state
            if isinstance(subscription, Subscription):
                subscription.offer(message, self._hold_limit)
        self._hub.stats.fanned_out(event.event_type, len(targets), event.occurred_at)
        if tracing is not None and event.trace is not None:
            streams = sum(1 for inbox in targets if inbox.wants(event.category))
            tracing.delivered(event.trace, event.event_type, streams, started_ns)

    def _subscriptions_on(self, channels: frozenset[bytes] | None) -> list[Subscription]:
        """The streams that listen on any of ``channels`` (None: on any channel)."""
        if channels is None or self._keys.broadcast_channel in channels:
            inboxes = set(self._hub.all_streams())
        else:
            inboxes = set()
            for channel in channels:
                if (user := self._users_by_channel.get(channel)) is not None:
                    inboxes.update(self._hub.streams_of(user))
                elif (group := self._groups_by_channel.get(channel)) is not None:
                    inboxes.update(self._hub.members(group))
        return [s for s in (inbox.adapter_state for inbox in inboxes) if isinstance(s, Subscription)]

    def _on_disconnected(self, channels: frozenset[bytes] | None) -> None:
        for subscription in self._subscriptions_on(channels):
            subscription.hold()

    async def _on_connected(self, reconnected: bool, channels: frozenset[bytes] | None) -> None:
        if not reconnected:
            return
        subscriptions = self._subscriptions_on(channels)
        results = await asyncio.gather(*(self._reconnect_catch_up(s) for s in subscriptions), return_exceptions=True)
        failed = Counter(type(r).__name__ for r in results if isinstance(r, BaseException))
        logger.info(
            "caught %d stream(s) up after the Redis outage (%d ended to resume%s)",
            len(subscriptions),
            failed.total(),
            "".join(f", {count} {name}" for name, count in failed.items()),
        )
        if channels is not None and not channels & self._listeners.keys():
            return
        for hook in self._after_reconnect:
            try:
                await hook()
            except Exception:
                logger.exception("a reconnect hook failed")

    async def _reconnect_catch_up(self, subscription: Subscription) -> None:
        async with self._reconnect_catch_ups:  # a bounded share of the connection pool
            loop = asyncio.get_running_loop()
            give_up_at = loop.time() + _CATCH_UP_SECONDS
            failures = 0
            while True:
                try:
                    self._hub.stats.resumed(await self._catch_up.catch_up(subscription))
                    return
                except REDIS_FAILURE:
                    # Redis may still be settling (a cluster failing over): try again shortly.
                    failures += 1
                    pause = self._catch_up_backoff.compute(failures)
                    if loop.time() + pause < give_up_at:
                        await asyncio.sleep(pause)
                        continue
                    subscription.inbox.end(EndReason.SHUTDOWN)  # its client reconnects and resumes by itself
                    raise
                except Exception:
                    subscription.inbox.end(EndReason.SHUTDOWN)
                    raise
