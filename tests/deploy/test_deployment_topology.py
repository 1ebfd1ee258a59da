"""The topology of compose.yaml, carried for real without containers.

Herald installed the way the Dockerfile installs it (``uv sync --locked
--no-dev --no-editable`` into a fresh virtual environment: uv.lock's runtime
dependencies), two replicas in production mode as a non-root user on a
private Redis and a private PostgreSQL, and nginx with the shipped
``deploy/nginx.conf`` in front (its upstream pointed at the two replicas'
ports, its timeouts shortened so the test sees them act).
"""

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from infrastructure.auth import TokenService
from tests.deploy.test_deployment_files import NGINX_CONF, healthcheck_code
from tests.support.prerequisites import nginx_binary
from tests.support.processes import HeraldProcess, PrivateRedis, free_port, private_redis
from tests.support.uv import uv_binary

pytestmark = [pytest.mark.needs("redis-server", "postgresql", "nginx"), pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "deployment-test-secret-" + "x" * 32
TOKENS = TokenService(SECRET, issuer="herald", audience="herald")
#: Shorter than the test waits: a stream must outlive several of nginx's read timeouts on heartbeats alone.
NGINX_READ_TIMEOUT, HEARTBEAT_SECONDS = 1, 0.25


@pytest.fixture(scope="module")
def installed() -> Iterator[Path]:
    """A fresh virtual environment with Herald installed as the Dockerfile does, readable by a non-root user."""
    uv = uv_binary()
    assert uv.exists(), "the Makefile's uv is missing: run `make install`"
    workdir = Path(tempfile.mkdtemp(prefix="herald-install-"))
    workdir.chmod(0o755)
    venv = workdir / "venv"
    # The Dockerfile's step (the locked runtime dependencies and Herald, no extras), with uv's cache
    # allowed so that a second run does not download again.
    environment = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run(
        [str(uv), "sync", "--locked", "--no-dev", "--no-editable", "--python", base_python()],
        check=True,
        capture_output=True,
        timeout=600,
        cwd=ROOT,
        env=environment,
    )
    try:
        yield venv
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def base_python() -> str:
    """The system's Python, as an image has it: one that a non-root user can run, unlike one under /root.

    The environment is made with it and run with it, as in the image.
    """
    system = Path("/usr/bin/python3")
    return str(system) if system.exists() else sys.executable


def as_non_root(command: list[str]) -> list[str]:
    """The image's user (uid 10001) when the suite runs as root, as the Dockerfile's ``USER`` does."""
    if os.geteuid() != 0 or not base_python().startswith("/usr/"):
        return command
    return ["setpriv", "--reuid=10001", "--regid=10001", "--clear-groups", *command]


@contextlib.contextmanager
def replicas(venv: Path, redis: PrivateRedis, database: str, logs: Path) -> Iterator[list[HeraldProcess]]:
    env = {
        "HERALD_ENV": "production",
        "HERALD_JWT_SECRET": SECRET,
        "HERALD_REDIS_URL": redis.url,
        "HERALD_DATABASE_URL": database,
        "HERALD_REDIS_PREFIX": f"deploy-{uuid.uuid4().hex[:8]}",
        "HERALD_SSE_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "HOME": "/nonexistent",  # the image's user has no home
    }
    started: list[HeraldProcess] = []
    try:
        for name in ("a", "b"):
            process = HeraldProcess(
                env, logs / f"{name}.log", command=as_non_root([str(venv / "bin" / "herald"), "run"])
            )
            process.start()
            started.append(process)
        yield started
    finally:
        for process in started:
            process.stop()


def proxy_config(upstream_ports: list[int], port: int, workdir: Path) -> str:
    """deploy/nginx.conf with the compose service name replaced by the replicas' ports, and shorter timeouts."""
    config = NGINX_CONF
    config = re.sub(r"\s*resolver [^;]+;", "", config)
    servers = "".join(f"        server 127.0.0.1:{p};\n" for p in upstream_ports)
    upstream = f"    upstream herald_replicas {{\n{servers}    }}\n\n    server {{"
    config = config.replace("    server {", upstream, 1)
    config = config.replace("set $herald http://herald:8000;", "set $herald http://herald_replicas;")
    config = config.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    config = config.replace("proxy_read_timeout 1h;", f"proxy_read_timeout {NGINX_READ_TIMEOUT}s;")
    temp_paths = "".join(
        f"\n    {kind}_temp_path {workdir / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = config.replace("http {", "http {" + temp_paths, 1)
    for wanted in ("herald_replicas;", f"127.0.0.1:{port}", f"proxy_read_timeout {NGINX_READ_TIMEOUT}s"):
        assert wanted in config, f"deploy/nginx.conf changed shape: {wanted} not placed"
    return config


@contextlib.contextmanager
def nginx(upstream_ports: list[int], workdir: Path) -> Iterator[str]:
    binary = nginx_binary()
    port = free_port()
    config = workdir / "nginx.conf"
    config.write_text(proxy_config(upstream_ports, port, workdir))
    log = (workdir / "nginx.log").open("ab")
    command = [binary, "-p", str(workdir), "-c", str(config), "-g", f"daemon off; pid {workdir / 'nginx.pid'};"]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).status_code == 200:
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError((workdir / "nginx.log").read_text())
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


class RawStream:
    """An SSE stream read line by line, heartbeat comments included."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.events: list[dict[str, str]] = []
        self.arrived: list[float] = []
        self.comments = 0
        self.ended = asyncio.Event()
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._read(client, headers))

    async def _read(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        event: dict[str, str] = {}
        try:
            async with client.stream("GET", "/api/v1/events", headers=headers) as response:
                assert response.status_code == 200, response.status_code
                async for line in response.aiter_lines():
                    if line.startswith(":"):
                        self.comments += 1
                    elif line:
                        field, _, value = line.partition(":")
                        event[field] = value.lstrip(" ")
                        continue
                    elif "event" in event:
                        self.events.append(event)
                        self.arrived.append(time.monotonic())
                    event = {}
                    async with self._changed:
                        self._changed.notify_all()
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()
            async with self._changed:
                self._changed.notify_all()

    async def wait_for(self, done: object, timeout: float = 10) -> None:
        assert callable(done)
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: done(self) or self.ended.is_set())
        assert done(self), f"the stream ended first; {len(self.events)} events"

    def messages(self) -> list[str]:
        return [json.loads(e["data"])["message"] for e in self.events if e.get("event") == "system.announcement"]

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def stream(client: httpx.AsyncClient, headers: dict[str, str]) -> AsyncIterator[RawStream]:
    opened = RawStream(client, headers)
    try:
        await opened.wait_for(lambda s: s.comments > 0 or s.events)  # the retry hint or a first heartbeat
        yield opened
    finally:
        await opened.close()


def bearer(*roles: str, user: uuid.UUID | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS.issue(user or uuid.uuid4(), roles)}"}


async def test_the_shipped_topology_carries_streams(installed: Path, tmp_path: Path, postgres_database: str) -> None:
    admin = bearer("admin")
    with private_redis(tmp_path) as redis, replicas(installed, redis, postgres_database, tmp_path) as (a, b):
        # The image's health check, as Docker runs it, on each replica.
        for replica in (a, b):
            code = healthcheck_code().replace("127.0.0.1:8000", f"127.0.0.1:{replica.port}")
            check = await asyncio.create_subprocess_exec(str(installed / "bin" / "python"), "-c", code)
            assert await check.wait() == 0
        with nginx([a.port, b.port], tmp_path) as entry:
            async with httpx.AsyncClient(base_url=entry, timeout=30) as client:
                assert (await client.get(f"{a.base_url}/metrics")).status_code == 404  # not on the public port
                assert (await client.get(a.metrics_url)).status_code == 200  # on the replica's metrics listener

                user = uuid.uuid4()
                # Round robin: two streams opened one after the other land on different replicas.
                async with stream(client, bearer(user=user)) as first, stream(client, bearer(user=user)) as second:
                    started = time.monotonic()
                    response = await client.post("/api/v1/announcements", json={"message": "m1"}, headers=admin)
                    assert response.status_code in (201, 202), response.text
                    await first.wait_for(lambda s: "m1" in s.messages())
                    await second.wait_for(lambda s: "m1" in s.messages())
                    latency = max(first.arrived[-1], second.arrived[-1]) - started
                    print(f"\nthrough nginx: {latency * 1000:.0f} ms from raising the event to the last stream")

                    # Quiet for several of nginx's read timeouts: heartbeats keep both streams open.
                    comments = first.comments
                    await first.wait_for(lambda s: s.comments >= comments + 3 * NGINX_READ_TIMEOUT / HEARTBEAT_SECONDS)
                    await client.post("/api/v1/announcements", json={"message": "m2"}, headers=admin)
                    await first.wait_for(lambda s: "m2" in s.messages())
                    await second.wait_for(lambda s: "m2" in s.messages())

                    # Replica a stops (a deploy): its stream ends, and the client resumes through nginx on b.
                    await asyncio.to_thread(a.stop)
                    ends = {asyncio.create_task(opened.ended.wait()): opened for opened in (first, second)}
                    done, pending = await asyncio.wait(ends, timeout=10, return_when=asyncio.FIRST_COMPLETED)
                    for task in pending:
                        task.cancel()
                    assert done, "neither stream ended when its replica stopped"
                    dropped = ends[done.pop()]
                    assert dropped.events[-1]["event"] == "stream.end"
                    await client.post("/api/v1/announcements", json={"message": "m3"}, headers=admin)
                    last_id = [e["id"] for e in dropped.events if "id" in e][-1]
                    async with stream(client, {**bearer(user=user), "Last-Event-ID": last_id}) as resumed:
                        await resumed.wait_for(lambda s: "m3" in s.messages())
                        assert [*dropped.messages(), *resumed.messages()] == ["m1", "m2", "m3"]
                # Last: proxied, it would take a turn of the round robin the two streams above rely on.
                assert (await client.get("/metrics")).status_code == 404  # scraped per replica, never public
    print(f"\nthrough nginx: an event reached both replicas' streams {latency * 1000:.0f} ms after it was raised")
