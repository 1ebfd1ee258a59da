"""The subscriber's shard channels: one pub/sub connection per node that owns some of them."""

import os
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from infrastructure.brokers.redis.channels import ChannelMultiplexer

_SINGLE = "single"


class ShardedChannels:
    """Routes each shard channel to a :class:`ChannelMultiplexer` on the node that owns its slot.

    On a single Redis there is one node and one connection, as before. On a
    cluster there is one connection per primary, each with its own reader, so a
    quiet node never delays a busy one. The slot map is read when the
    subscriber starts.
    """

    def __init__(
        self,
        client: Redis,
        *,
        name: str,
        permanent: bytes,
        on_message: Callable[[bytes, bytes], None],
        on_connected: Callable[[bool], Coroutine[Any, Any, None]],
        on_disconnected: Callable[[], None],
        retry: Retry,
    ) -> None:
        self._client = client
        self._name = name
        self._permanent = permanent
        self._on_message = on_message
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._retry = retry
        self._nodes: dict[str, ChannelMultiplexer] = {}
        self._node_clients: list[Redis] = []
        self._started = False
        self._early: list[bytes] = []  # wanted before the slot map was known

    async def start(self) -> None:
        """Open the connections (in the background: the service starts while a single Redis is down).

        On a cluster the slot map is read first, so its nodes must be reachable.
        """
        if isinstance(self._client, RedisCluster):
            await self._client.initialize()
        self._started = True
        self.want(self._permanent)
        for channel in self._early:
            self.want(channel)
        self._early.clear()

    async def aclose(self) -> None:
        for multiplexer in self._nodes.values():
            await multiplexer.aclose()
        for client in self._node_clients:
            await client.aclose()

    # -- what the subscriber asks ------------------------------------------
    def want(self, channel: bytes) -> None:
        if not self._started:
            self._early.append(channel)
            return
        self._multiplexer(channel).want(channel)

    def unwant(self, channel: bytes) -> None:
        self._multiplexer(channel).unwant(channel)

    async def wait_subscribed(self, channel: bytes) -> None:
        await self._multiplexer(channel).wait_subscribed(channel)

    def is_connected(self) -> bool:
        """Every node's connection is up and subscribed."""
        return bool(self._nodes) and all(m.connected.is_set() for m in self._nodes.values())

    @property
    def subscribed_channels(self) -> frozenset[bytes]:
        return frozenset().union(*(m.subscribed_channels for m in self._nodes.values()))

    @property
    def outages(self) -> int:
        return sum(m.outages for m in self._nodes.values())

    @property
    def reconnects(self) -> int:
        return sum(m.reconnects for m in self._nodes.values())

    # -- routing ---------------------------------------------------------
    def _node_of(self, channel: bytes) -> tuple[str, str, int]:
        if not isinstance(self._client, RedisCluster):
            return _SINGLE, "", 0
        node = self._client.get_node_from_key(channel)
        return node.name, node.host, node.port

    def _multiplexer(self, channel: bytes) -> ChannelMultiplexer:
        name, host, port = self._node_of(channel)
        multiplexer = self._nodes.get(name)
        if multiplexer is None:
            owns_permanent = self._node_of(self._permanent)[0] == name
            multiplexer = ChannelMultiplexer(
                self._node_client(name, host, port),
                permanent=frozenset({self._permanent}) if owns_permanent else frozenset(),
                on_message=self._on_message,
                on_connected=self._on_connected,
                on_disconnected=self._on_disconnected,
                retry=self._retry,
            )
            self._nodes[name] = multiplexer
            multiplexer.start()
        return multiplexer

    def _node_client(self, name: str, host: str, port: int) -> Redis:
        if name == _SINGLE:
            return self._client
        # The multiplexer drives its own reconnects: no retries in the client.
        client = Redis(
            host=host,
            port=port,
            retry=Retry(NoBackoff(), retries=0),
            client_name=f"{self._name}:{os.getpid()}",
            socket_connect_timeout=2.0,
            socket_keepalive=True,
        )
        self._node_clients.append(client)
        return client
