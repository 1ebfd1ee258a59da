"""The pub/sub watchdog: a connection that answers PING is never taken for dead; one that does not, is."""

import asyncio
import time

import pytest
from redis.exceptions import TimeoutError as RedisTimeoutError

from infrastructure.brokers.redis.channels import ChannelMultiplexer
from tests.integration.helpers import eventually

INTERVAL = 0.05


class AnsweringPubSub:
    """Answers each PING after ``delay`` seconds (None: never), as the reader would record it."""

    def __init__(self, channels: ChannelMultiplexer, delay: float | None) -> None:
        self.channels, self.delay, self.pings = channels, delay, 0

    async def ping(self) -> None:
        self.pings += 1
        if self.delay is not None:
            loop = asyncio.get_running_loop()
            loop.call_later(self.delay, lambda: setattr(self.channels, "_last_read", loop.time()))


def watched(delay: float | None) -> tuple[ChannelMultiplexer, AnsweringPubSub]:
    async def connected(_: bool) -> None:
        return None

    channels = ChannelMultiplexer(
        None,  # type: ignore[arg-type]  # only the watchdog runs
        on_message=lambda _channel, _data: None,
        on_connected=connected,
        on_disconnected=lambda: None,
        retry=None,  # type: ignore[arg-type]
        health_interval=INTERVAL,
    )
    pubsub = AnsweringPubSub(channels, delay)
    channels._pubsub = pubsub  # type: ignore[assignment]
    channels._last_read = asyncio.get_running_loop().time()
    return channels, pubsub


@pytest.mark.parametrize("answer_after", [0.0002, 0.001, 0.003, 0.02])
async def test_an_idle_connection_that_answers_ping_is_kept(answer_after: float) -> None:
    channels, pubsub = watched(answer_after)
    watchdog = asyncio.create_task(channels._watch_silence())
    try:
        # Ten answered pings, each a chance to give up, are the later marker: it is still watching then.
        await eventually(lambda: pubsub.pings >= 10 or watchdog.done(), timeout=60 * INTERVAL, step=INTERVAL / 5)
        assert not watchdog.done(), watchdog
    finally:
        watchdog.cancel()


async def test_a_connection_that_stops_answering_is_given_up_within_three_intervals() -> None:
    channels, pubsub = watched(None)
    started = time.monotonic()
    with pytest.raises(RedisTimeoutError, match="stopped answering PING"):
        await asyncio.wait_for(channels._watch_silence(), 20 * INTERVAL)
    assert pubsub.pings == 1
    assert time.monotonic() - started <= 3 * INTERVAL + 0.15  # the slack: a busy machine's scheduling, a GC pause
