"""Subscriber on Redis: live fan-out from one pub/sub connection, gapless resume from the Streams."""

import asyncio
import heapq
import logging
from collections.abc import AsyncIterator, Callable
from uuid import UUID

import attrs
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError

from domain.ports import SubscriberUnavailableError
from domain.sse import SSECategory
from infrastructure.brokers.redis.channels import ChannelMultiplexer
from infrastructure.brokers.redis.history import Entry, StreamHistory
from infrastructure.brokers.redis.keys import ORIGIN, Cursor, Position, RedisKeys
from infrastructure.sse.wire import encode_id_line, encode_json_body
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.hub import StreamHub
from infrastructure.streams.inbox import EndReason, InboxStream, StreamInbox
from infrastructure.streams.signals import ResetReason, reset_frame

logger = logging.getLogger(__name__)

_REDIS_DOWN = (RedisError, OSError)


@attrs.frozen
class _Live:
    """One live message, decoded and encoded once for the whole process."""

    from_user_stream: bool
    position: Position | None
    category: SSECategory
    body: bytes


class _StreamState:
    """Per stream: what the client has seen, and live messages held while it catches up."""

    __slots__ = ("cursor", "held", "inbox")

    def __init__(self, inbox: StreamInbox) -> None:
        self.inbox = inbox
        self.cursor = Cursor(ORIGIN, ORIGIN)
        self.held: list[_Live] | None = []

    def offer(self, message: _Live, hold_limit: int) -> None:
        if self.held is None:
            self.deliver(message)
        elif len(self.held) < hold_limit:
            self.held.append(message)
        else:
            self.inbox.end(EndReason.SLOW_CLIENT)

    def deliver(self, message: _Live) -> None:
        """Push unless the client has it already (replay and live overlap during catch-up)."""
        if not self.inbox.wants(message.category):
            return
        position = message.position
        if position is None:  # retention off: no positions, no ids
            self.inbox.push(message.body)
            return
        if message.from_user_stream:
            if position <= self.cursor.user:
                return
            self.cursor = self.cursor._replace(user=position)
        else:
            if position <= self.cursor.broadcast:
                return
            self.cursor = self.cursor._replace(broadcast=position)
        self.inbox.push(encode_id_line(str(self.cursor)) + message.body)


class RedisSubscriber:
    """``SSESubscriberProtocol`` on Redis, for many processes on many hosts.

    Each message is decoded and SSE-encoded once per process; each stream
    adds only its ``id:`` line (its position in the user's stream and in the
    broadcast stream). Resuming, and catching up after a Redis outage, follow
    one procedure: hold live messages, confirm the subscription, replay the
    Streams strictly after the client's positions, then release the held
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
        subscribe_seconds: float = 5.0,
        hold_limit: int = 10_000,
    ) -> None:
        self._client = client
        self._keys = keys
        self._hub = hub
        self._wire_format = wire_format
        self._retention = retention
        self._history = StreamHistory(client)
        self._subscribe_seconds = subscribe_seconds
        self._hold_limit = hold_limit
        retry = reconnect_retry or Retry(ExponentialWithJitterBackoff(cap=2.0, base=0.05), retries=-1)
        self.channels = ChannelMultiplexer(
            pubsub_client,
            permanent=keys.broadcast_channel,
            on_message=self._on_message,
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
            retry=retry,
        )
        self._listeners: dict[bytes, Callable[[bytes], None]] = {}
        hub.watch(self._on_user_presence)

    def listen(self, channel: bytes, callback: Callable[[bytes], None]) -> None:
        """Also deliver ``channel``'s messages to ``callback`` (control messages such as revocations)."""
        self._listeners[channel] = callback
        self.channels.want(channel)

    async def start(self) -> None:
        """Connect to Redis (in the background: the service starts while Redis is down)."""
        self.channels.start()

    async def aclose(self) -> None:
        await self._hub.aclose()
        await self.channels.aclose()

    async def is_ready(self) -> bool:
        if not self.channels.connected.is_set():
            return False
        try:
            return bool(await asyncio.wait_for(self._client.ping(), timeout=1.0))
        except (*_REDIS_DOWN, TimeoutError):
            return False

    async def subscribe(
        self,
        user_id: UUID,
        *,
        categories: frozenset[SSECategory] | None = None,
        last_event_id: str | None = None,
    ) -> InboxStream:
        inbox = self._hub.open(user_id, categories)
        state = _StreamState(inbox)
        inbox.adapter_state = state
        try:
            await self.channels.wait_subscribed(self._keys.user_channel(user_id), self._subscribe_seconds)
            await self.channels.wait_subscribed(self._keys.broadcast_channel, self._subscribe_seconds)
            await self._catch_up(state, last_event_id, fresh=last_event_id is None)
        except _REDIS_DOWN as error:
            inbox.end(EndReason.CLIENT_GONE)
            raise SubscriberUnavailableError(f"Redis is unavailable ({type(error).__name__})") from error
        except BaseException:
            inbox.end(EndReason.CLIENT_GONE)
            raise
        return InboxStream(inbox)

    # -- live -------------------------------------------------------------
    def _on_user_presence(self, user_id: UUID, present: bool) -> None:
        channel = self._keys.user_channel(user_id)
        if present:
            self.channels.want(channel)
        else:
            self.channels.unwant(channel)

    def _on_message(self, channel: bytes, data: bytes) -> None:
        listener = self._listeners.get(channel)
        if listener is not None:
            listener(data)
            return
        raw_position, _, payload = data.partition(b"\n")
        try:
            event = self._wire_format.loads_event(payload)
            body = encode_json_body(event=event.event_type, data_json=self._wire_format.data_json(event))
        except Exception:
            logger.exception("undecodable message on a Herald channel; skipped")
            return
        if channel == self._keys.broadcast_channel:
            targets = self._hub.all_streams()
            from_user_stream = False
        else:
            user_id = self._keys.user_of_channel(channel)
            if user_id is None:
                return
            targets = self._hub.streams_of(user_id)
            from_user_stream = True
        message = _Live(from_user_stream, Position.parse(raw_position) if raw_position else None, event.category, body)
        for inbox in targets:
            state = inbox.adapter_state
            if isinstance(state, _StreamState):
                state.offer(message, self._hold_limit)

    def _on_disconnected(self) -> None:
        for inbox in self._hub.all_streams():
            state = inbox.adapter_state
            if isinstance(state, _StreamState) and state.held is None:
                state.held = []

    async def _on_connected(self, reconnected: bool) -> None:
        if not reconnected:
            return
        states = [s for s in (i.adapter_state for i in self._hub.all_streams()) if isinstance(s, _StreamState)]
        results = await asyncio.gather(*(self._catch_up(s, None, fresh=False) for s in states), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        for state, result in zip(states, results, strict=True):
            if isinstance(result, BaseException):
                state.inbox.end(EndReason.SHUTDOWN)  # it reconnects and resumes on its own
        logger.info("caught %d stream(s) up after the Redis outage (%d ended to resume)", len(states), len(failed))

    # -- resume -----------------------------------------------------------
    async def _catch_up(self, state: _StreamState, last_event_id: str | None, *, fresh: bool) -> None:
        """Replay what the stream missed, then release the live messages held meanwhile."""
        if state.held is None:
            state.held = []
        user_key = self._keys.user_stream(state.inbox.user_id)
        broadcast_key = self._keys.broadcast_stream
        frames: list[bytes] = []
        if not self._retention:
            if last_event_id is not None:
                frames.append(reset_frame(ResetReason.RETENTION_DISABLED, ""))
        elif fresh:
            user_head, broadcast_head = await self._history.heads(user_key, broadcast_key)
            state.cursor = Cursor(user_head, broadcast_head)
        else:
            start, reason = await self._start_of_replay(state, last_event_id, user_key, broadcast_key)
            state.cursor = start
            if reason is not None:
                frames.append(reset_frame(reason, str(start)))
            frames.extend([frame async for frame in self._replay(state, user_key, broadcast_key)])
        state.inbox.push_replay(frames)
        held, state.held = state.held, None
        for message in held:
            state.deliver(message)

    async def _start_of_replay(
        self, state: _StreamState, last_event_id: str | None, user_key: str, broadcast_key: str
    ) -> tuple[Cursor, ResetReason | None]:
        if last_event_id is None:
            cursor: Cursor | None = state.cursor
        else:
            cursor = Cursor.parse(last_event_id)
        if cursor is None:
            return Cursor(ORIGIN, ORIGIN), ResetReason.MALFORMED
        user_reason = await self._history.check(user_key, cursor.user)
        broadcast_reason = await self._history.check(broadcast_key, cursor.broadcast)
        start = Cursor(
            ORIGIN if user_reason else cursor.user,
            ORIGIN if broadcast_reason else cursor.broadcast,
        )
        if user_reason or broadcast_reason:
            logger.info(
                "stream of user %s cannot resume exactly after %s (user stream: %s, broadcast stream: %s)",
                state.inbox.user_id,
                cursor,
                user_reason and user_reason.value,
                broadcast_reason and broadcast_reason.value,
            )
        return start, user_reason or broadcast_reason

    async def _replay(self, state: _StreamState, user_key: str, broadcast_key: str) -> AsyncIterator[bytes]:
        cursor = state.cursor
        user_entries = self._tagged(self._history.after(user_key, cursor.user), from_user_stream=True)
        broadcast_entries = self._tagged(self._history.after(broadcast_key, cursor.broadcast), from_user_stream=False)
        async for position, from_user_stream, payload in _merge(user_entries, broadcast_entries):
            event = self._wire_format.loads_event(payload)
            if not state.inbox.wants(event.category):
                continue
            if from_user_stream:
                state.cursor = state.cursor._replace(user=position)
            else:
                state.cursor = state.cursor._replace(broadcast=position)
            body = encode_json_body(event=event.event_type, data_json=self._wire_format.data_json(event))
            yield encode_id_line(str(state.cursor)) + body

    @staticmethod
    async def _tagged(
        entries: AsyncIterator[Entry], *, from_user_stream: bool
    ) -> AsyncIterator[tuple[Position, bool, bytes]]:
        async for position, payload in entries:
            yield position, from_user_stream, payload


async def _merge(*sources: AsyncIterator[tuple[Position, bool, bytes]]) -> AsyncIterator[tuple[Position, bool, bytes]]:
    """Merge position-ordered sources; each is read ahead by one entry only."""
    heap: list[tuple[Position, int, tuple[Position, bool, bytes]]] = []
    for index, source in enumerate(sources):
        first = await anext(source, None)
        if first is not None:
            heapq.heappush(heap, (first[0], index, first))
    while heap:
        _, index, item = heapq.heappop(heap)
        yield item
        following = await anext(sources[index], None)
        if following is not None:
            heapq.heappush(heap, (following[0], index, following))
