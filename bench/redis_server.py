"""The Redis the benchmark runs on: a private server or cluster of its own by default, or one named by URL.

A private server keeps the figures free of whatever else a shared Redis is
doing, and leaves a Redis the bench did not start untouched.
"""

import contextlib
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from redis.asyncio import Redis
from tests.support.processes import private_redis, private_redis_cluster

#: ``--redis`` values that start a server of the bench's own; anything else is a URL.
PRIVATE, CLUSTER = "private", "cluster"


@contextlib.contextmanager
def redis_for_bench(choice: str) -> Iterator[str]:
    """The URL to run on: a private redis-server, a private 6-node cluster, or ``choice`` itself."""
    if choice not in (PRIVATE, CLUSTER):
        yield choice
        return
    with tempfile.TemporaryDirectory(prefix="herald-bench-redis-") as workdir:
        if choice == PRIVATE:
            with private_redis(Path(workdir)) as server:
                yield server.url
        else:
            with private_redis_cluster(Path(workdir)) as cluster:
                yield cluster.url


@contextlib.asynccontextmanager
async def primaries(url: str) -> AsyncIterator[list[Redis]]:
    """A client for each primary: the server itself, or every primary of the cluster it belongs to."""
    probe = Redis.from_url(url)
    nodes = [probe]
    try:
        if (await probe.info("cluster")).get("cluster_enabled"):
            seen = await probe.execute_command("CLUSTER NODES")  # type: ignore[no-untyped-call]
            nodes = [
                Redis(host=address.split(":")[0], port=int(address.split(":")[1].split("@")[0]))
                for address, node in seen.items()
                if "master" in node["flags"].split(",") and node["slots"]
            ]
            await probe.aclose()
        yield nodes
    finally:
        for node in nodes:
            await node.aclose()


async def cpu_seconds(nodes: list[Redis]) -> float:
    """CPU the servers have used so far (user and system), summed."""
    total = 0.0
    for node in nodes:
        info = await node.info("cpu")
        total += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return total
