"""Catching a stream up from the logs: when it opens, when it resumes, and after a Redis outage."""

import heapq
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from infrastructure.brokers.redis.history import LogReader, ReplayGapError
from infrastructure.brokers.redis.keys import ORIGIN, Cursor, Position, RedisKeys
from infrastructure.brokers.redis.subscription import Subscription
from infrastructure.sse.framing import encode_json_body
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.signals import ResetReason, reset_frame

logger = logging.getLogger(__name__)

Tagged = tuple[Position, bool, bytes]


class CatchUp:
    """Replays what a stream missed, then releases the live messages it held meanwhile.

    Args:
        unbroken_since: the pub/sub's token for unbroken live delivery on a
            subscription's channels (None during a break); a catch-up that saw
            it change, or saw none, keeps holding, because the catch-up after
            the break follows and continues from its cursor.
    """

    def __init__(
        self,
        history: LogReader,
        keys: RedisKeys,
        wire_format: WireFormat,
        *,
        retention: int,
        unbroken_since: Callable[[Subscription], int | None],
    ) -> None:
        self._history = history
        self._keys = keys
        self._wire_format = wire_format
        self._retention = retention
        self._unbroken_since = unbroken_since

    async def start_at_the_end(self, subscription: Subscription) -> None:
        """A new stream: nothing to replay; its cursor starts after the last event of both logs."""
        await self._holding_live(subscription, lambda: self._frames_from_the_end(subscription))

    async def resume(self, subscription: Subscription, last_event_id: str) -> int:
        """A reconnecting client: replay what it missed after ``last_event_id``; return how many messages."""
        return await self._holding_live(
            subscription, lambda: self._frames_after(subscription, Cursor.parse(last_event_id))
        )

    async def catch_up(self, subscription: Subscription) -> int:
        """After a Redis outage: replay what was published after the stream's own cursor."""
        # The cursor is read once the lock is held: a catch-up queued behind another starts where it ended.
        return await self._holding_live(subscription, lambda: self._frames_after(subscription, subscription.cursor))

    async def _holding_live(self, subscription: Subscription, read: Callable[[], Awaitable[list[bytes]]]) -> int:
        """Hold live messages while the frames are read, queue them, then release what was held.

        A read that fails leaves the cursor where it was: the replay advances it
        entry by entry, and frames that were never queued must be read again.
        """
        async with subscription.lock:
            subscription.hold()
            unbroken = self._unbroken_since(subscription)
            cursor = subscription.cursor
            try:
                replay = await read()
            except BaseException:
                subscription.cursor = cursor
                raise
            subscription.inbox.push_replay(replay)
            if unbroken is not None and self._unbroken_since(subscription) == unbroken:
                subscription.release()
            return len(replay)

    async def _frames_from_the_end(self, subscription: Subscription) -> list[bytes]:
        if self._retention:
            heads = await self._history.heads(self._keys.user_log(subscription.inbox.user_id), self._keys.broadcast_log)
            subscription.cursor = Cursor(*heads)
        return []

    async def _frames_after(self, subscription: Subscription, cursor: Cursor | None) -> list[bytes]:
        if not self._retention:
            # Nothing to replay from: say so, since something may have been missed.
            return [reset_frame(ResetReason.RETENTION_DISABLED, "")]
        user_key = self._keys.user_log(subscription.inbox.user_id)
        broadcast_key = self._keys.broadcast_log
        start, reason = await self._start(subscription, cursor, user_key, broadcast_key)
        for _ in range(3):
            subscription.cursor = start
            try:
                replayed = [frame async for frame in self._replay(subscription, user_key, broadcast_key)]
            except ReplayGapError as gap:  # trimmed while we read: what followed the position is gone
                reason = ResetReason.RETENTION_EXCEEDED
                start = start._replace(user=ORIGIN) if gap.key == user_key else start._replace(broadcast=ORIGIN)
                continue
            signal = [reset_frame(reason, str(start))] if reason is not None else []
            return signal + replayed
        raise ReplayGapError(user_key)

    async def _start(
        self, subscription: Subscription, cursor: Cursor | None, user_key: str, broadcast_key: str
    ) -> tuple[Cursor, ResetReason | None]:
        if cursor is None:
            return Cursor(ORIGIN, ORIGIN), ResetReason.MALFORMED
        user_reason = await self._history.check(user_key, cursor.user)
        broadcast_reason = await self._history.check(broadcast_key, cursor.broadcast)
        if user_reason or broadcast_reason:
            logger.info(
                "stream of user %s cannot resume exactly after %s (user log: %s, broadcast log: %s)",
                subscription.inbox.user_id,
                cursor,
                user_reason and user_reason.value,
                broadcast_reason and broadcast_reason.value,
            )
        start = Cursor(ORIGIN if user_reason else cursor.user, ORIGIN if broadcast_reason else cursor.broadcast)
        return start, user_reason or broadcast_reason

    async def _replay(self, subscription: Subscription, user_key: str, broadcast_key: str) -> AsyncIterator[bytes]:
        cursor = subscription.cursor
        merged = _merge(
            _tagged(self._history.after(user_key, cursor.user), from_user_log=True),
            _tagged(self._history.after(broadcast_key, cursor.broadcast), from_user_log=False),
        )
        async for position, from_user_log, payload in merged:
            try:
                event = self._wire_format.relay(payload)
            except Exception:
                # One entry this version cannot read (written by a newer one, say) must not block resume.
                logger.exception("skipped an unreadable entry at %s during replay", position)
                subscription.advance(position, from_user_log=from_user_log)
                continue
            if not subscription.inbox.wants(event.category):
                continue
            subscription.advance(position, from_user_log=from_user_log)
            body = encode_json_body(event=event.event_type, data_json=event.data_json)
            yield subscription.cursor.id_line() + body


async def _tagged(entries: AsyncIterator[tuple[Position, bytes]], *, from_user_log: bool) -> AsyncIterator[Tagged]:
    async for position, payload in entries:
        yield position, from_user_log, payload


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
