"""Catching a stream up from the logs: when it opens, when it resumes, and after a Redis outage."""

import asyncio
import heapq
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID

from domain.sse import Group
from infrastructure.brokers.redis.history import LogReader, ReplayGapError
from infrastructure.brokers.redis.keys import ORIGIN, Cursor, Position, RedisKeys
from infrastructure.brokers.redis.subscription import BROADCAST_LOG, USER_LOG, Subscription, group_message
from infrastructure.sse.framing import encode_json_body
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.group_ids import GroupOrder
from infrastructure.streams.signals import ResetReason, reset_frame

logger = logging.getLogger(__name__)

Tagged = tuple[Position, str | Group, bytes]


class CatchUp:
    """Replays what a stream missed, then releases the live messages it held meanwhile.

    Args:
        channels_of: the channels a subscription's stream hears.
        unbroken_since: the pub/sub's token for unbroken live delivery on
            channels (None during a break); a catch-up that saw it change, or
            saw none, keeps holding, because the catch-up after the break
            follows and continues from its cursor.
    """

    def __init__(
        self,
        history: LogReader,
        keys: RedisKeys,
        wire_format: WireFormat,
        *,
        retention: int,
        channels_of: Callable[[Subscription], tuple[bytes, ...]],
        unbroken_since: Callable[[tuple[bytes, ...]], int | None],
    ) -> None:
        self._history = history
        self._keys = keys
        self._wire_format = wire_format
        self._retention = retention
        self._channels_of = channels_of
        self._unbroken_since = unbroken_since

    async def start_at_the_end(self, subscription: Subscription) -> None:
        """A new stream: nothing to replay; its cursor starts after the last event of every log it reads."""
        await self._holding_live(subscription, lambda: self._frames_from_the_end(subscription))

    async def resume(self, subscription: Subscription, last_event_id: str) -> int:
        """A reconnecting client: replay what it missed after ``last_event_id``; return how many messages."""
        parsed = Cursor.parse(last_event_id, subscription.cursor.order)
        return await self._holding_live(subscription, lambda: self._frames_after(subscription, parsed, leaves=False))

    async def catch_up(self, subscription: Subscription) -> int:
        """After a Redis outage: replay what was published after the stream's own cursor."""
        # The cursor is read once the lock is held: a catch-up queued behind another starts where it ended.
        return await self._holding_live(
            subscription, lambda: self._frames_after(subscription, (subscription.cursor, True), leaves=True)
        )

    async def _holding_live(self, subscription: Subscription, read: Callable[[], Awaitable[list[bytes]]]) -> int:
        """Hold live messages while the frames are read, queue them, then release what was held.

        A read that fails leaves the cursor where it was: the replay advances it
        entry by entry, and frames that were never queued must be read again.
        """
        async with subscription.lock:
            subscription.hold()
            # The channels as the read starts: a leave the replay applies must not look like a break.
            channels = self._channels_of(subscription)
            unbroken = self._unbroken_since(channels)
            cursor = subscription.cursor
            try:
                replay = await read()
            except BaseException:
                subscription.cursor = cursor
                raise
            subscription.inbox.push_replay(replay)
            if unbroken is not None and self._unbroken_since(channels) == unbroken:
                subscription.release()
            return len(replay)

    def _logs(self, subscription: Subscription) -> list[tuple[str | Group, str]]:
        """The logs the stream reads, as (log, key): its user's, the broadcasts', then its groups' in cursor order."""
        return self._logs_of(subscription.inbox.user_id, subscription.cursor.order)

    def _logs_of(self, user_id: UUID, order: GroupOrder | None) -> list[tuple[str | Group, str]]:
        keys = self._keys
        logs: list[tuple[str | Group, str]] = [(USER_LOG, keys.user_log(user_id)), (BROADCAST_LOG, keys.broadcast_log)]
        if order is not None:
            logs += [(group, keys.group_log(group)) for group in order.groups]
        return logs

    async def at_the_end(self, user_id: UUID, order: GroupOrder | None) -> Cursor:
        """The cursor of a stream of ``user_id`` (in ``order``'s groups) after everything published so far."""
        heads = await self._history.heads(*(key for _, key in self._logs_of(user_id, order)))
        return Cursor(heads[0], heads[1], tuple(heads[2:]), order)

    async def _frames_from_the_end(self, subscription: Subscription) -> list[bytes]:
        if self._retention:
            subscription.cursor = await self.at_the_end(subscription.inbox.user_id, subscription.cursor.order)
        return []

    async def _frames_after(
        self, subscription: Subscription, parsed: tuple[Cursor, bool] | None, *, leaves: bool
    ) -> list[bytes]:
        if not self._retention:
            # Nothing to replay from: say so, since something may have been missed.
            return [reset_frame(ResetReason.RETENTION_DISABLED, "")]
        logs = self._logs(subscription)
        start, reason = await self._start(subscription, parsed, logs)
        for _ in range(3 + len(logs)):
            subscription.cursor = start
            try:
                replayed = [frame async for frame in self._replay(subscription, logs, leaves=leaves)]
            except ReplayGapError as gap:  # trimmed while we read: what followed the position is gone
                reason = ResetReason.RETENTION_EXCEEDED
                start = _from_origin(start, [log for log, key in logs if key == gap.key])
                continue
            except _RejoinedError as rejoined:  # let in again since: not what the group published in between
                reason = reason or ResetReason.GROUPS_CHANGED
                [head] = await self._history.heads(self._keys.group_log(rejoined.group))
                order = start.order
                assert order is not None
                index = order.index[rejoined.group]
                start = start._replace(groups=(*start.groups[:index], head, *start.groups[index + 1 :]))
                continue
            signal = [reset_frame(reason, str(start))] if reason is not None else []
            return signal + replayed
        raise ReplayGapError(logs[0][1])

    async def _start(
        self, subscription: Subscription, parsed: tuple[Cursor, bool] | None, logs: list[tuple[str | Group, str]]
    ) -> tuple[Cursor, ResetReason | None]:
        order = subscription.cursor.order
        groups = len(order.groups) if order is not None else 0
        if parsed is None:
            return Cursor(ORIGIN, ORIGIN, (ORIGIN,) * groups, order), ResetReason.MALFORMED
        cursor, groups_known = parsed
        changed: ResetReason | None = None
        if not groups_known:
            # The id does not say where the client is in these groups: it goes on live in each.
            heads = await self._history.heads(*(key for _, key in logs[2:]))
            cursor, changed = cursor._replace(groups=tuple(heads)), ResetReason.GROUPS_CHANGED
        checked: list[tuple[str | Group, Position]] = [(USER_LOG, cursor.user), (BROADCAST_LOG, cursor.broadcast)]
        if groups_known and order is not None:
            checked += list(zip(order.groups, cursor.groups, strict=True))
        reasons = await asyncio.gather(
            *(self._history.check(key, position) for (_, key), (_, position) in zip(logs, checked, strict=False))
        )
        failed = [log for (log, _), why in zip(checked, reasons, strict=True) if why is not None]
        if failed:
            logger.info(
                "stream of user %s cannot resume exactly after %s (%s)",
                subscription.inbox.user_id,
                cursor,
                ", ".join(f"{log}: {why.value}" for (log, _), why in zip(checked, reasons, strict=True) if why),
            )
        return _from_origin(cursor, failed), next((why for why in reasons if why is not None), changed)

    async def _replay(
        self, subscription: Subscription, logs: list[tuple[str | Group, str]], *, leaves: bool
    ) -> AsyncIterator[bytes]:
        cursor = subscription.cursor
        positions = [cursor.user, cursor.broadcast, *cursor.groups]
        merged = _merge(
            *(
                _tagged(self._history.after(key, position), log)
                for (log, key), position in zip(logs, positions, strict=True)
            )
        )
        async for position, log, payload in merged:
            try:
                event = self._wire_format.relay(payload)
            except Exception:
                # One entry this version cannot read (written by a newer one, say) must not block resume.
                logger.exception("skipped an unreadable entry at %s during replay", position)
                subscription.advance(position, log)
                continue
            body = encode_json_body(event=event.event_type, data_json=event.data_json)
            if isinstance(log, Group):
                message = group_message(log, position, event, body)
                if not leaves and message.left == subscription.inbox.user_id:
                    raise _RejoinedError(log)
                frame = subscription.group_frame(message, log, leaves=leaves)
                if frame is not None:
                    yield frame
                continue
            if not subscription.inbox.wants(event.category):
                continue
            subscription.advance(position, log)
            yield subscription.cursor.id_line() + body


class _RejoinedError(Exception):
    """A resume met its user's own leave of ``group``: the stream was let in again since, not in between."""

    def __init__(self, group: Group) -> None:
        super().__init__(str(group))
        self.group = group


def _from_origin(cursor: Cursor, logs: list[str | Group]) -> Cursor:
    """``cursor`` with the position in each of ``logs`` back at the origin (replay all that is retained)."""
    if not logs:
        return cursor
    order = cursor.order
    groups = tuple(
        ORIGIN if order is not None and order.groups[i] in logs else position
        for i, position in enumerate(cursor.groups)
    )
    return cursor._replace(
        user=ORIGIN if USER_LOG in logs else cursor.user,
        broadcast=ORIGIN if BROADCAST_LOG in logs else cursor.broadcast,
        groups=groups,
    )


async def _tagged(entries: AsyncIterator[tuple[Position, bytes]], log: str | Group) -> AsyncIterator[Tagged]:
    async for position, payload in entries:
        yield position, log, payload


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
