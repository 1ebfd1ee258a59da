"""One Redis pub/sub connection per process, shared by every open stream (shard channels: SSUBSCRIBE)."""

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.crc import key_slot
from redis.exceptions import TimeoutError as RedisTimeoutError

from infrastructure.redis_errors import REDIS_OUTAGE

logger = logging.getLogger(__name__)


def _innermost(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real exception in (possibly nested) task-group exception groups."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


class ChannelMultiplexer:
    """Keeps one pub/sub connection subscribed to exactly the channels wanted.

    Streams say which channels they want (:meth:`want` / :meth:`unwant`); a
    single reconcile step turns the difference into batched SSUBSCRIBE and
    SUNSUBSCRIBE commands, so hundreds of streams opening at once cost a few
    commands on one connection and never race to create a second one.
    :meth:`wait_subscribed` returns once Redis has confirmed a channel: from
    then on, everything published to it arrives.

    A broken connection is replaced with a new one under redis-py's ``Retry``
    (exponential backoff with jitter, retrying for ever); ``on_connected`` is
    then awaited with ``reconnected=True`` so streams can catch up from the
    logs on what was published meanwhile.
    """

    def __init__(
        self,
        client: Redis,
        *,
        on_message: Callable[[bytes, bytes], None],
        on_connected: Callable[[bool], Coroutine[Any, Any, None]],
        on_disconnected: Callable[[], None],
        retry: Retry,
        on_dropped: Callable[[bytes], None] | None = None,
        one_command_per_slot: bool = False,
        health_interval: float = 5.0,
    ) -> None:
        self._client = client
        self._on_message = on_message
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._on_dropped = on_dropped
        self._one_command_per_slot = one_command_per_slot
        self._retry = retry
        self._health_interval = health_interval
        self._wanted: set[bytes] = set()
        self._requested: set[bytes] = set()
        self._changed: set[bytes] = set()
        self._in_flight: dict[bytes, int] = {}
        self._confirmed: set[bytes] = set()
        self._waiters: dict[bytes, list[asyncio.Future[None]]] = {}
        self._dirty = asyncio.Event()
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.connected = asyncio.Event()
        self.reconnects = 0
        self.outages = 0
        self._last_read = 0.0

    @property
    def wanted_channels(self) -> frozenset[bytes]:
        """Channels the streams want on this connection."""
        return frozenset(self._wanted)

    @property
    def subscribed_channels(self) -> frozenset[bytes]:
        """Channels Redis has confirmed on the current connection."""
        return frozenset(self._confirmed)

    def start(self) -> None:
        """Connect in the background (the service starts even while Redis is down)."""
        # A fresh context: the task outlives the request that happened to start it (and its log context).
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name="herald-redis-pubsub", context=contextvars.Context()
        )

    async def aclose(self) -> None:
        if self._task is not None:
            self._closing = True
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._discard_connection()

    def want(self, channel: bytes) -> None:
        self._wanted.add(channel)
        self._changed.add(channel)
        self._dirty.set()

    def unwant(self, channel: bytes) -> None:
        self._wanted.discard(channel)
        self._changed.add(channel)
        self._dirty.set()

    async def wait_subscribed(self, channel: bytes) -> None:
        """Return once Redis has confirmed ``channel`` (the caller bounds the wait)."""
        if self.connected.is_set() and channel in self._confirmed and not self._in_flight.get(channel):
            return
        waiter = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(channel, [])
        waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters and self._waiters.get(channel) is waiters:
                del self._waiters[channel]

    # -- connection lifecycle -----------------------------------------------
    async def _run(self) -> None:
        first = True
        while True:
            try:
                await self._retry.call_with_retry(self._connect, self._connect_failed)
            except Exception:
                # Not a connection problem (an ACL refusing SUBSCRIBE, say): keep trying, loudly.
                logger.exception("Redis pub/sub could not subscribe; retrying")
                await self._discard_connection()
                await asyncio.sleep(1.0)
                continue
            if self._closing:  # connecting is where redis-py can swallow the stop: the pump would never hear of it
                raise asyncio.CancelledError
            if not first:
                self.reconnects += 1
                logger.warning("Redis pub/sub reconnected; catching streams up from the logs")
            try:
                await self._pump(reconnected=not first)
            except* REDIS_OUTAGE as group:
                self.outages += 1
                cause = _innermost(group)
                logger.warning("Redis pub/sub connection lost (%s: %s); reconnecting", type(cause).__name__, cause)
            except* Exception:
                # A bug must not silently end live delivery for the whole process.
                self.outages += 1
                logger.exception("Redis pub/sub reader failed; reconnecting")
                await asyncio.sleep(1.0)
            first = False
            self.connected.clear()
            self._on_disconnected()
            await self._discard_connection()

    async def _connect(self) -> None:
        await self._discard_connection()
        self._pubsub = self._client.pubsub()
        self._requested, self._confirmed, self._in_flight = set(), set(), {}
        self._changed = set(self._wanted)
        try:
            async with asyncio.timeout(self._health_interval * 2):
                await self._reconcile()
                while not self._wanted <= self._confirmed:
                    await self._read_one(self._health_interval)
                    if self._dirty.is_set():
                        await self._reconcile()
        except TimeoutError:
            raise RedisTimeoutError("Redis did not confirm the subscriptions") from None
        self.connected.set()
        # A stream that asked while the connection was still being made waits even if its channel
        # was confirmed meanwhile (confirmed is not served until connected): let it go now.
        for channel in self._confirmed:
            if not self._in_flight.get(channel):
                self._wake(channel)

    async def _connect_failed(self, error: Exception) -> None:
        logger.warning("Redis pub/sub unavailable (%s); retrying", type(error).__name__)
        await self._discard_connection()

    async def _discard_connection(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed only since redis 8.2

    async def _pump(self, *, reconnected: bool) -> None:
        # Catching streams up runs beside the reader, which keeps buffering
        # live messages (and subscribing new streams) meanwhile.
        async with asyncio.TaskGroup() as group:
            group.create_task(self._read_forever())
            group.create_task(self._reconcile_forever())
            group.create_task(self._on_connected(reconnected))

    # -- reading ----------------------------------------------------------
    async def _read_forever(self) -> None:
        # Reads block without a deadline (a timer per message would cost more than
        # the message); a watchdog beside them notices a connection gone silent.
        self._last_read = asyncio.get_running_loop().time()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._watch_silence())
            while True:
                await self._read_one(None)
                _end_if_cancelled()

    async def _watch_silence(self) -> None:
        # Dead only when a PING went unanswered for a whole interval: a late wake-up
        # or a busy loop never counts as silence on its own.
        loop = asyncio.get_running_loop()
        ping_sent_at: float | None = None
        while True:
            await asyncio.sleep(self._health_interval / 2)
            now = loop.time()
            if ping_sent_at is not None and self._last_read >= ping_sent_at:
                ping_sent_at = None  # answered (or anything else arrived)
            if ping_sent_at is not None:
                if now - ping_sent_at > self._health_interval:
                    raise RedisTimeoutError("the pub/sub connection stopped answering PING")
            elif now - self._last_read >= self._health_interval:
                assert self._pubsub is not None
                ping_sent_at = now
                await self._pubsub.ping()  # its PONG arrives as a message, read by the reader
                _end_if_cancelled()

    async def _read_one(self, wait_seconds: float | None) -> bool:
        """Handle one message; False when none came within ``wait_seconds`` (None: wait for one)."""
        assert self._pubsub is not None
        message: dict[str, Any] | None = await self._pubsub.get_message(timeout=wait_seconds)
        if message is None:
            return False
        self._last_read = asyncio.get_running_loop().time()
        kind = message["type"]
        if kind == "smessage":
            self._on_message(message["channel"], message["data"])
        elif kind in ("ssubscribe", "sunsubscribe"):
            self._confirm(message["channel"], subscribed=kind == "ssubscribe")
        return True

    def _confirm(self, channel: bytes, *, subscribed: bool) -> None:
        if not subscribed and channel not in self._in_flight:
            # Not asked for: the server dropped the channel (on a cluster, its slot moved away).
            # It is no longer wanted here: whoever listens for drops finds it a new home.
            self._wanted.discard(channel)
            self._requested.discard(channel)
            self._confirmed.discard(channel)
            if self._on_dropped is not None:
                self._on_dropped(channel)
            return
        remaining = self._in_flight.get(channel, 0) - 1
        if remaining > 0:
            self._in_flight[channel] = remaining
            return
        self._in_flight.pop(channel, None)
        if channel in self._requested:
            self._confirmed.add(channel)
            self._wake(channel)
        elif not subscribed:
            self._confirmed.discard(channel)

    def _wake(self, channel: bytes) -> None:
        for waiter in self._waiters.pop(channel, ()):
            if not waiter.done():
                waiter.set_result(None)

    # -- reconciling ------------------------------------------------------
    async def _reconcile_forever(self) -> None:
        while True:
            await self._dirty.wait()
            await self._reconcile()
            _end_if_cancelled()

    async def _reconcile(self) -> None:
        # Only the channels touched since the last step are looked at, so opening
        # thousands of streams costs work in proportion to them, not to all open ones.
        self._dirty.clear()
        assert self._pubsub is not None
        changed, self._changed = self._changed, set()
        to_subscribe = [c for c in changed if c in self._wanted and c not in self._requested]
        to_unsubscribe = [c for c in changed if c not in self._wanted and c in self._requested]
        for channel in to_subscribe:
            self._in_flight[channel] = self._in_flight.get(channel, 0) + 1
            self._requested.add(channel)
        for channel in to_unsubscribe:
            self._in_flight[channel] = self._in_flight.get(channel, 0) + 1
            self._requested.discard(channel)
            self._confirmed.discard(channel)
        # A cluster refuses shard channels of several slots in one command; a single Redis takes them all.
        for channels in self._commands(to_unsubscribe):
            await self._pubsub.sunsubscribe(*channels)
        for channels in self._commands(to_subscribe):
            await self._pubsub.ssubscribe(*channels)

    def _commands(self, channels: list[bytes]) -> list[list[bytes]]:
        if not channels:
            return []
        return _by_slot(channels) if self._one_command_per_slot else [channels]


def _end_if_cancelled() -> None:
    """Re-raise a cancellation that a redis-py call swallowed.

    A cancellation that lands while redis-py sends a command can be lost there;
    the task would then wait for ever and hold up the process's shutdown.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _by_slot(channels: list[bytes]) -> list[list[bytes]]:
    groups: dict[int, list[bytes]] = {}
    for channel in channels:
        groups.setdefault(key_slot(channel), []).append(channel)
    return list(groups.values())
