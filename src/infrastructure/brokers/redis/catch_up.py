"""Catching a stream up from the Streams: on resume, and after a Redis outage."""

import heapq
import logging
from collections.abc import AsyncIterator, Callable

from infrastructure.brokers.redis.history import ReplayGapError, StreamHistory
from infrastructure.brokers.redis.keys import ORIGIN, Cursor, Position, RedisKeys
from infrastructure.brokers.redis.stream_state import StreamState
from infrastructure.sse.wire import encode_id_line, encode_json_body
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.signals import ResetReason, reset_frame

logger = logging.getLogger(__name__)

Tagged = tuple[Position, bool, bytes]


class CatchUp:
    """Replays what a stream missed, then releases the live messages it held meanwhile.

    Args:
        outages: reads how many times the pub/sub connection was lost; a
            catch-up that saw the count change keeps holding, because the
            reconnect's own catch-up follows and continues from its cursor.
    """

    def __init__(
        self,
        history: StreamHistory,
        keys: RedisKeys,
        wire_format: WireFormat,
        *,
        retention: int,
        outages: Callable[[], int],
    ) -> None:
        self._history = history
        self._keys = keys
        self._wire_format = wire_format
        self._retention = retention
        self._outages = outages

    async def run(self, state: StreamState, last_event_id: str | None, *, fresh: bool) -> int:
        """Fresh: start at the end of both Streams. Otherwise resume after ``last_event_id`` (or the cursor).

        Returns how many messages were replayed.
        """
        async with state.lock:
            state.hold()
            outages_before = self._outages()
            frames = await self._frames(state, last_event_id, fresh=fresh)
            state.inbox.push_replay(frames)
            if self._outages() == outages_before:
                state.release()
            return len(frames)

    async def _frames(self, state: StreamState, last_event_id: str | None, *, fresh: bool) -> list[bytes]:
        user_key = self._keys.user_stream(state.inbox.user_id)
        broadcast_key = self._keys.broadcast_stream
        if not self._retention:
            # Nothing to replay from: say so whenever something may have been missed.
            return [] if fresh and last_event_id is None else [reset_frame(ResetReason.RETENTION_DISABLED, "")]
        if fresh:
            state.cursor = Cursor(*await self._history.heads(user_key, broadcast_key))
            return []
        start, reason = await self._start(state, last_event_id, user_key, broadcast_key)
        for _ in range(3):
            state.cursor = start
            try:
                replayed = [frame async for frame in self._replay(state, user_key, broadcast_key)]
            except ReplayGapError as gap:  # trimmed while we read: what followed the position is gone
                reason = ResetReason.RETENTION_EXCEEDED
                start = start._replace(user=ORIGIN) if gap.key == user_key else start._replace(broadcast=ORIGIN)
                continue
            signal = [reset_frame(reason, str(start))] if reason is not None else []
            return signal + replayed
        raise ReplayGapError(user_key)

    async def _start(
        self, state: StreamState, last_event_id: str | None, user_key: str, broadcast_key: str
    ) -> tuple[Cursor, ResetReason | None]:
        cursor = state.cursor if last_event_id is None else Cursor.parse(last_event_id)
        if cursor is None:
            return Cursor(ORIGIN, ORIGIN), ResetReason.MALFORMED
        user_reason = await self._history.check(user_key, cursor.user)
        broadcast_reason = await self._history.check(broadcast_key, cursor.broadcast)
        if user_reason or broadcast_reason:
            logger.info(
                "stream of user %s cannot resume exactly after %s (user stream: %s, broadcast stream: %s)",
                state.inbox.user_id,
                cursor,
                user_reason and user_reason.value,
                broadcast_reason and broadcast_reason.value,
            )
        start = Cursor(ORIGIN if user_reason else cursor.user, ORIGIN if broadcast_reason else cursor.broadcast)
        return start, user_reason or broadcast_reason

    async def _replay(self, state: StreamState, user_key: str, broadcast_key: str) -> AsyncIterator[bytes]:
        cursor = state.cursor
        merged = _merge(
            _tagged(self._history.after(user_key, cursor.user), from_user_stream=True),
            _tagged(self._history.after(broadcast_key, cursor.broadcast), from_user_stream=False),
        )
        async for position, from_user_stream, payload in merged:
            try:
                event = self._wire_format.relay(payload)
            except Exception:
                # One entry this version cannot read (written by a newer one, say) must not block resume.
                logger.exception("skipped an unreadable entry at %s during replay", position)
                state.advance(position, from_user_stream=from_user_stream)
                continue
            if not state.inbox.wants(event.category):
                continue
            state.advance(position, from_user_stream=from_user_stream)
            body = encode_json_body(event=event.event_type, data_json=event.data_json)
            yield encode_id_line(str(state.cursor)) + body


async def _tagged(entries: AsyncIterator[tuple[Position, bytes]], *, from_user_stream: bool) -> AsyncIterator[Tagged]:
    async for position, payload in entries:
        yield position, from_user_stream, payload


async def _merge(*sources: AsyncIterator[Tagged]) -> AsyncIterator[Tagged]:
    """Merge position-ordered sources; each is read ahead by one entry only."""
    heap: list[tuple[Position, int, Tagged]] = []
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
