"""What every measurement of the benchmark shares: the servers and the publisher it starts, and how it reads them."""

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from tests.support.processes import free_port

from bench.redis_server import primaries

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Target:
    name: str
    port: int
    env: dict[str, str]
    metrics_port: int = field(default_factory=free_port)
    server: subprocess.Popen[bytes] | None = None
    results: dict[str, Any] = field(default_factory=dict)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds_of(pid: int) -> float:
    """User plus system CPU time the process has used (``/proc/<pid>/stat``), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def us_per(seconds: float, count: int) -> float:
    """``seconds`` of CPU spread over ``count`` events or streams, in microseconds each."""
    return seconds * 1e6 / max(1, count)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Publisher:
    """The publisher process of one target, driven over stdin/stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, mode: str, env: dict[str, str]) -> AsyncIterator["Publisher"]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.publisher", mode, env=env, cwd=ROOT, stdin=-1, stdout=-1
        )
        publisher = cls(process)
        await publisher._reply()
        try:
            yield publisher
        finally:
            assert process.stdin is not None
            process.stdin.write(b'{"op":"quit"}\n')
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 10)
            if process.returncode is None:
                process.kill()

    async def _reply(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError("the publisher process died")
        reply: dict[str, Any] = orjson.loads(line)
        return reply

    async def run(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(orjson.dumps(command) + b"\n")
        return await self._reply()


async def http_get(port: int, path: str) -> bytes:
    """The whole response (status line, headers, body) to a one-off ``GET path``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    try:
        return await reader.read()
    finally:
        writer.close()


async def wait_healthy(port: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if (await http_get(port, "/health"))[9:12] == b"200":
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the server on port {port} did not become healthy")


@contextlib.contextmanager
def serving(target: Target) -> Iterator[Target]:
    target.server = subprocess.Popen(
        [sys.executable, "-m", "bench.serve", target.name, str(target.port)],
        env={**target.env, "HERALD_METRICS_PORT": str(target.metrics_port)},
        cwd=ROOT,
    )
    try:
        yield target
    finally:
        target.server.terminate()
        try:
            target.server.wait(15)
        except subprocess.TimeoutExpired:
            target.server.kill()


async def forget_keys(redis_url: str, prefix: str) -> None:
    """Delete this run's keys (never anything else: the Redis may be shared), on every primary."""
    async with primaries(redis_url) as nodes:
        for node in nodes:
            async for key in node.scan_iter(match=f"{prefix}*", count=1000):
                await node.unlink(key)


@dataclass(frozen=True)
class RunEnvironment:
    """What every process of one run shares: its Redis, its key prefix, its JWT secret and its users."""

    redis_url: str
    prefix: str
    secret: str
    users_file: Path
    max_streams: int

    def of(self, name: str) -> dict[str, str]:
        """The environment of target ``name``'s server and publisher: Herald's settings and the bench's own."""
        prefix = f"{self.prefix}-{name}"
        return {
            **os.environ,
            "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
            "BENCH_REDIS_URL": self.redis_url,
            "BENCH_PREFIX": prefix,
            "BENCH_JWT_SECRET": self.secret,
            "BENCH_USERS_FILE": str(self.users_file),
            "HERALD_ENV": "production",
            "HERALD_REDIS_URL": self.redis_url,
            "HERALD_REDIS_PREFIX": prefix,
            "HERALD_SSE_MAX_STREAMS": str(self.max_streams),
            "HERALD_REDIS_RETENTION_TTL_SECONDS": "600",
        }
