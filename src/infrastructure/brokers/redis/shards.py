"""The subscriber's shard channels: one pub/sub connection per node that owns some of them."""

import asyncio
import contextvars
import functools
import logging
import os
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import key_slot

from infrastructure.brokers.redis.channels import ChannelMultiplexer
from infrastructure.redis_errors import REDIS_FAILURE

logger = logging.getLogger(__name__)

_SINGLE = "single"
#: How often the slot map is read again while channels wait for a new owner (a failover takes seconds).
_FOLLOW_SECONDS = 0.1


class ShardedChannels:
    """Routes each shard channel to a :class:`ChannelMultiplexer` on the node that owns its slot.

    On a single Redis there is one node and one connection. On a cluster there
    is one connection per primary, each with its own reader, so a quiet node
    never delays a busy one. When a node drops channels (its slots moved: a
    failover, a reshard) or its connection is lost, the slot map is read again
    and every channel goes to the node that owns it now; then every stream
    catches up from the logs, as after an outage.
    """

    def __init__(
        self,
        client: Redis,
        *,
        name: str,
        on_message: Callable[[bytes, bytes], None],
        on_connected: Callable[[bool, frozenset[bytes] | None], Coroutine[Any, Any, None]],
        on_disconnected: Callable[[frozenset[bytes] | None], None],
        retry: Retry,
    ) -> None:
        self._client = client
        self._name = name
        self._on_message = on_message
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._retry = retry
        self._nodes: dict[str, ChannelMultiplexer] = {}
        self._node_clients: dict[str, Redis] = {}
        self._started = False
        self._early: list[bytes] = []  # wanted before the slot map was known
        self._following: asyncio.Task[None] | None = None
        self._homeless: dict[bytes, str] = {}  # channels a node dropped, and which node dropped them
        # A break in live delivery: channels dropped by their node, or a node's connection lost.
        self._breaks: Counter[bytes] = Counter()  # breaks so far, by channel
        self._broken: set[bytes] = set()  # channels of a break not yet followed (placed and confirmed again)
        self._retired_outages = 0
        self._retired_reconnects = 0

    async def start(self) -> None:
        """Open the connections (in the background: the service starts while a single Redis is down).

        On a cluster the slot map is read first, so its nodes must be reachable.
        """
        if isinstance(self._client, RedisCluster):
            await self._client.initialize()
        self._started = True
        for channel in self._early:
            self.want(channel)
        self._early.clear()

    async def aclose(self) -> None:
        if self._following is not None:
            self._following.cancel()
        for multiplexer in self._nodes.values():
            await multiplexer.aclose()
        for client in self._node_clients.values():
            await client.aclose()

    # -- what the subscriber asks ------------------------------------------
    def want(self, channel: bytes) -> None:
        if not self._started:
            self._early.append(channel)
            return
        self._multiplexer(channel).want(channel)

    def unwant(self, channel: bytes) -> None:
        self._homeless.pop(channel, None)
        for multiplexer in self._nodes.values():
            multiplexer.unwant(channel)

    async def wait_subscribed(self, channel: bytes) -> None:
        await self._multiplexer(channel).wait_subscribed(channel)

    def is_connected(self) -> bool:
        """Every node's connection is up and subscribed."""
        return bool(self._nodes) and all(m.connected.is_set() for m in self._nodes.values())

    def unbroken_since(self, channels: tuple[bytes, ...]) -> int | None:
        """A token that stays the same while ``channels`` deliver live without a break; None during one.

        A catch-up may let a stream go live only if the token of its channels
        read before replaying is still the token after: then everything
        published to them since it started reading arrived live (and was
        held), so nothing fell between the replay and the live messages.
        """
        if any(channel in self._broken for channel in channels):
            return None
        return sum(self._breaks[channel] for channel in channels)

    @property
    def subscribed_channels(self) -> frozenset[bytes]:
        return frozenset().union(*(m.subscribed_channels for m in self._nodes.values()))

    @property
    def outages(self) -> int:
        return self._retired_outages + sum(m.outages for m in self._nodes.values())

    @property
    def reconnects(self) -> int:
        return self._retired_reconnects + sum(m.reconnects for m in self._nodes.values())

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
            multiplexer = ChannelMultiplexer(
                self._node_client(name, host, port),
                on_message=self._on_message,
                on_connected=functools.partial(self._node_connected, name),
                on_disconnected=functools.partial(self._node_disconnected, name),
                on_dropped=functools.partial(self._channel_dropped, node=name),
                one_command_per_slot=name != _SINGLE,
                retry=self._retry,
            )
            self._nodes[name] = multiplexer
            multiplexer.start()
        return multiplexer

    def _node_client(self, name: str, host: str, port: int) -> Redis:
        if name == _SINGLE:
            return self._client
        client = self._node_clients.get(name)
        if client is None:
            # The multiplexer drives its own reconnects: no retries in the client.
            client = Redis(
                host=host,
                port=port,
                retry=Retry(NoBackoff(), retries=0),
                client_name=f"{self._name}:{os.getpid()}",
                socket_connect_timeout=2.0,
                socket_keepalive=True,
            )
            self._node_clients[name] = client
        return client

    # -- following the cluster's topology ----------------------------------
    async def _node_connected(self, name: str, reconnected: bool) -> None:
        if name == _SINGLE:  # the connection's own reconnect is all there is
            self._broken.clear()
            await self._on_connected(reconnected, None)
        # On a cluster the follower catches the streams up, once every channel has its place again.

    def _node_disconnected(self, name: str) -> None:
        multiplexer = self._nodes.get(name)
        self._break(multiplexer.wanted_channels if multiplexer is not None else frozenset())

    def _channel_dropped(self, channel: bytes, node: str) -> None:
        if not self._homeless:
            logger.warning("Redis node %s dropped shard channels (their slots moved); following them", node)
        self._homeless[channel] = node
        self._break(frozenset((channel,)))

    def _break(self, channels: frozenset[bytes]) -> None:
        """Live delivery on ``channels`` broke: their streams hold until they have caught up."""
        self._breaks.update(channels)
        self._broken.update(channels)
        self._on_disconnected(channels)
        if isinstance(self._client, RedisCluster) and (self._following is None or self._following.done()):
            self._following = asyncio.get_running_loop().create_task(
                self._follow(), name="herald-redis-topology", context=contextvars.Context()
            )

    async def _follow(self) -> None:
        """Read the slot map until every wanted channel is subscribed on the node that owns it.

        The nodes learn of a failover one after another, so a map read soon
        after may still name the node that dropped a channel: it is read again
        until every dropped channel has a new owner, nothing else moves and
        every channel is confirmed. Then every stream catches up from the logs.
        """
        assert isinstance(self._client, RedisCluster)
        while True:
            await self._until_settled(self._client)
            # A break while these streams catch up keeps its streams held: one more round for them.
            followed, self._broken = frozenset(self._broken), set()
            await self._on_connected(True, followed)
            if not self._broken:
                return

    async def _until_settled(self, cluster: RedisCluster) -> None:
        while True:
            await asyncio.sleep(_FOLLOW_SECONDS)
            try:
                await cluster.nodes_manager.initialize()
            except REDIS_FAILURE as error:
                logger.warning("could not read the cluster's slot map (%s); trying again", type(error).__name__)
                continue
            if await self._move_misplaced() or not self._settled():
                continue
            # Settled again after the owners answered: a channel dropped (or a connection lost) meanwhile is in
            # the break the caller is about to take as followed, yet subscribed nowhere.
            if await self._owners_confirm() and self._settled():
                return

    def _settled(self) -> bool:
        connected = all(
            m.connected.is_set() and m.wanted_channels <= m.subscribed_channels for m in self._nodes.values()
        )
        return connected and not self._homeless

    async def _owners_confirm(self) -> bool:
        """Ask each node whether it serves, as primary, the slots of the channels subscribed on it.

        A map read from a node that has not yet heard of a failover can send
        channels to the old primary after it became a replica. A replica takes
        shard subscriptions too, but hears nothing of what its new primary
        publishes until that primary knows of it, and it never drops them: a
        silent gap. Asked after the subscriptions were confirmed, a node that
        says it owns their slots will drop them (and so wake the follower) when
        it loses them. Channels a node disowns are followed again.
        """
        confirmed = True
        for name, multiplexer in list(self._nodes.items()):
            client = self._node_clients[name]
            try:
                owned = _owned_slots(await client.execute_command("CLUSTER NODES"))  # type: ignore[no-untyped-call]
            except REDIS_FAILURE as error:
                logger.warning("could not ask Redis node %s for its slots (%s)", name, type(error).__name__)
                return False
            disowned = frozenset(
                channel
                for channel in multiplexer.subscribed_channels
                if not any(first <= key_slot(channel) <= last for first, last in owned)
            )
            for channel in disowned:
                multiplexer.unwant(channel)
                self._homeless[channel] = name
            if disowned:
                self._break(disowned)
                confirmed = False
        return confirmed

    async def _move_misplaced(self) -> int:
        """Move each channel to the node that owns its slot now; close connections left with none."""
        moved = 0
        for channel, dropped_by in list(self._homeless.items()):
            if self._node_of(channel)[0] != dropped_by:  # the map has caught up with the move
                del self._homeless[channel]
                self._multiplexer(channel).want(channel)
                moved += 1
        for name, multiplexer in list(self._nodes.items()):
            misplaced = frozenset(c for c in multiplexer.wanted_channels if self._node_of(c)[0] != name)
            if misplaced:
                self._break(misplaced)  # unsubscribed here before subscribed there: a break
            for channel in misplaced:
                multiplexer.unwant(channel)
                self._multiplexer(channel).want(channel)
                moved += 1
            if not multiplexer.wanted_channels:
                self._retired_outages += multiplexer.outages
                self._retired_reconnects += multiplexer.reconnects
                del self._nodes[name]
                await multiplexer.aclose()
        if moved:
            logger.warning("followed %d shard channel(s) to their new node(s)", moved)
        return moved


def _owned_slots(nodes: dict[str, dict[str, Any]]) -> list[tuple[int, int]]:
    """The slot ranges a node serves as a primary, by its own account (its line of CLUSTER NODES)."""
    me = next((node for node in nodes.values() if "myself" in node["flags"].split(",")), None)
    if me is None or "master" not in me["flags"].split(","):
        return []
    return [(int(bounds[0]), int(bounds[-1])) for bounds in me["slots"]]
