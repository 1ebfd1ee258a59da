"""A Redis Cluster client for bursts: commands wait for a connection instead of being refused."""

import asyncio
from typing import Any

from redis.asyncio import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError

#: Times a command is sent again when redis-py closed its connection before it was written.
_UNSENT_RETRIES = 2


class WaitingRedisCluster(RedisCluster):
    """A cluster client whose commands wait for a connection when a burst needs more than the pools hold.

    redis-py's cluster client refuses a command (``MaxConnectionsError``) when
    a node's pool is exhausted, where the single-node client's blocking pool
    waits. A few thousand streams opening at once would otherwise fail; here
    they queue, within each request's Redis budget. The limit is shared by all
    nodes and stays below any one node's pool, so no pool can run dry. Commands that the client splits into
    a pipeline (multi-key ``EXISTS``, ``DELETE``) bypass it: Herald's adapters
    send single-key commands only.
    """

    def __init__(self, *args: Any, waiting_limit: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting = asyncio.Semaphore(waiting_limit)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self._waiting:
            for attempt in range(_UNSENT_RETRIES + 1):
                try:
                    return await super().execute_command(*args, **kwargs)
                except (AttributeError, RuntimeError) as error:
                    # While it re-reads the slot map (after a failover, say), redis-py's cluster
                    # client can close a connection that another command is about to write on.
                    # Nothing was sent, so sending again is safe; past that, it is an outage.
                    if attempt == _UNSENT_RETRIES:
                        raise RedisConnectionError(f"a connection closed under the command ({error})") from error
                    await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")
