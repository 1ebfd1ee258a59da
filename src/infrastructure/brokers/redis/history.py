"""Reading the logs: where a log ends, whether a position in it can be resumed, and the replay."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from infrastructure.brokers.redis.keys import ORIGIN, Position
from infrastructure.brokers.redis.read_batch import ReadBatch
from infrastructure.streams.signals import ResetReason

Entry = tuple[Position, bytes]


class ReplayGapError(Exception):
    """Entries of ``key`` after the replay position were trimmed while the replay read them."""

    def __init__(self, key: str) -> None:
        super().__init__(f"{key} was trimmed during replay")
        self.key = key


class LogReader:
    """Read-only access to Herald's logs (Redis Streams) for resume.

    Its reads of one key go through a :class:`ReadBatch`: the streams that open or resume together (a
    reconnect storm) share round trips.
    """

    def __init__(self, client: Redis, *, page_size: int = 500) -> None:
        self._client = client
        self._reads = ReadBatch(client)
        self._page = page_size

    async def heads(self, *keys: str) -> list[Position]:
        """The newest position of each log (``ORIGIN`` for a log that does not exist)."""
        # Side by side, and with the heads other streams opening now ask for (one pipeline on a single Redis).
        newest = await asyncio.gather(*(self._reads.read("XREVRANGE", key, "+", "-", "COUNT", 1) for key in keys))
        results = cast("list[list[Any]]", newest)
        return [Position.parse(result[0][0]) if result else ORIGIN for result in results]

    async def check(self, key: str, position: Position) -> ResetReason | None:
        """None when everything after ``position`` is still retained; otherwise why not.

        Trimming removes a log's oldest entries, so a position that is still
        in the log proves nothing after it is gone. ``ORIGIN`` (the client
        has seen nothing of this log since it existed) is safe unless the
        log has dropped entries.
        """
        if position != ORIGIN and await self._reads.read("XRANGE", key, str(position), str(position), "COUNT", 1):
            return None
        info = await self._info(key)
        if info is None:  # the log does not exist (expired, or never written)
            return None if position == ORIGIN else ResetReason.RETENTION_EXCEEDED
        if position == ORIGIN:
            return ResetReason.RETENTION_EXCEEDED if int(info["entries-added"]) > int(info["length"]) else None
        if position > Position.parse(info["last-generated-id"]):
            return ResetReason.UNKNOWN_POSITION
        return ResetReason.RETENTION_EXCEEDED

    async def _info(self, key: str) -> dict[str, Any] | None:
        # Only "no such key" means missing; any other error (Redis still loading
        # its data after a restart, say) must not be mistaken for lost history.
        try:
            info: dict[str, Any] = await self._client.xinfo_stream(key)
        except ResponseError as error:
            if "no such key" in str(error).lower():
                return None
            raise
        return info

    async def after(self, key: str, position: Position) -> AsyncIterator[Entry]:
        """Every entry strictly after ``position``, oldest first, read in pages.

        Each page starts *at* the last position read and must find it again:
        if trimming removed it meanwhile, entries after it may be gone too, and
        :class:`ReplayGapError` says so instead of silently starting later.
        """
        anchor = position
        while True:
            if anchor == ORIGIN:
                raw = await self._reads.read("XRANGE", key, "-", "+", "COUNT", self._page)
                page = cast("list[tuple[bytes, dict[bytes, bytes]]]", raw)
            else:
                raw = await self._reads.read("XRANGE", key, str(anchor), "+", "COUNT", self._page + 1)
                found = cast("list[tuple[bytes, dict[bytes, bytes]]]", raw)
                if not found or Position.parse(found[0][0]) != anchor:
                    raise ReplayGapError(key)
                page = found[1:]
            for raw_id, fields in page:
                yield Position.parse(raw_id), fields[b"e"]
            if len(page) < self._page:
                return
            anchor = Position.parse(page[-1][0])
