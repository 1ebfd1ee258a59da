"""Where an event stands in the Redis Streams logs: its entry, or that retention (or the log's TTL) dropped it."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis

from application.ports.diagnostics import Addressed, LogPlace
from domain.sse import Group
from infrastructure.brokers.redis.keys import Position, RedisKeys
from infrastructure.diagnostics.audience_logs import logs_of
from infrastructure.redis_errors import REDIS_FAILURE

#: Entries are looked for this long either side of the event's publication (the relay's and Redis's clocks).
SLACK_MS = 60_000
#: Entries read around it at most.
_READ = 2_000


class RedisBrokerLogs:
    """``BrokerLogs`` on Redis: a log's entry ids are Redis times, so an event is looked for around its publication."""

    def __init__(self, client: Redis, keys: RedisKeys, *, retention: int) -> None:
        self._client = client
        self._keys = keys
        self._retention = retention

    async def places(self, event: Addressed, around: datetime) -> Sequence[LogPlace]:
        places = []
        for name, audience in logs_of(event):
            if audience is None:
                key = self._keys.broadcast_log
            elif isinstance(audience, Group):
                key = self._keys.group_log(audience)
            else:
                key = self._keys.user_log(audience)
            try:
                places.append(await self._place(name, key, event, around))
            except REDIS_FAILURE as error:
                places.append(LogPlace(name, None, f"Redis could not be read ({type(error).__name__})"))
        return places

    async def _place(self, name: str, key: str, event: Addressed, around: datetime) -> LogPlace:
        if not self._retention:
            return LogPlace(name, None, "retention is off (HERALD_SSE_RETENTION=0): nothing is kept for resume")
        needle = f'"event_id":"{event.event_id}"'.encode()
        at = int(around.timestamp() * 1000)
        near = cast(
            "list[tuple[bytes, dict[bytes, Any]]]",
            await self._client.xrange(key, str(at - SLACK_MS), str(at + SLACK_MS), count=_READ),
        )
        for entry_id, fields in near:
            if needle in fields.get(b"e", b""):
                return LogPlace(name, entry_id.decode(), "retained: a stream resuming from before it gets it again")
        first = cast("list[tuple[bytes, Any]]", await self._client.xrange(key, "-", "+", count=1))
        if not first:
            return LogPlace(
                name, None, "the log is empty: it expired (HERALD_REDIS_RETENTION_TTL_SECONDS) or was never written"
            )
        oldest = Position.parse(first[0][0])
        if oldest.ms > at - SLACK_MS:
            return LogPlace(name, None, f"dropped by retention: the log now starts at {oldest}")
        return LogPlace(name, None, "not in the log around its publication: it was not written to it")
