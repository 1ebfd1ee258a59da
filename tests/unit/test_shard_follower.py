"""The cluster follower: a channel dropped while the owners are asked is followed too, never left unsubscribed.

A race no real cluster shows on demand (it took about one loaded run in
twenty-four): during a run of failovers, the follower of one asks every node
for its slots while the next old primary drops its channels. The channels
dropped in that window must get a home before the follower takes its round as
done; otherwise their streams are released as live with nothing subscribed,
and every later event of their users is lost.
"""

import asyncio
from unittest import mock

from redis.asyncio import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from infrastructure.brokers.redis.shards import ShardedChannels


async def test_a_channel_dropped_while_the_owners_confirm_gets_a_home_before_its_streams_go_live() -> None:
    cluster = mock.MagicMock(spec=RedisCluster)  # only the follower runs: no node is connected
    cluster.nodes_manager.initialize = mock.AsyncMock()
    caught_up: list[frozenset[bytes]] = []

    async def on_connected(_reconnected: bool, channels: frozenset[bytes] | None) -> None:
        caught_up.append(frozenset(channels or ()))

    channels = ShardedChannels(
        cluster,
        name="follower",
        on_message=lambda _channel, _data: None,
        on_connected=on_connected,
        on_disconnected=lambda _channels: None,
        retry=Retry(NoBackoff(), 0),
    )
    placed: list[bytes] = []
    asked = 0

    async def owners_confirm() -> bool:
        nonlocal asked
        asked += 1
        await asyncio.sleep(0)  # CLUSTER NODES in flight
        if asked == 1:  # meanwhile the next failover's old primary drops a channel
            channels._channel_dropped(b"dropped-meanwhile", node="old-primary")
        return True

    async def move_misplaced() -> int:
        moved = list(channels._homeless)  # each subscribed on its new owner
        placed.extend(moved)
        channels._homeless.clear()
        return len(moved)

    channels._owners_confirm = owners_confirm  # type: ignore[method-assign]
    channels._move_misplaced = move_misplaced  # type: ignore[method-assign]
    channels._break(frozenset((b"broken-before",)))
    assert channels._following is not None
    await asyncio.wait_for(channels._following, 10)

    assert placed == [b"dropped-meanwhile"]
    assert not channels._homeless, "a dropped channel was left with no node"
    assert b"dropped-meanwhile" in frozenset().union(*caught_up)  # its streams caught up once it had a home
