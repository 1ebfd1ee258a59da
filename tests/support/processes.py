"""Real processes for integration tests: private redis-server instances and Herald servers."""

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import redis

from tests.support.prerequisites import require

#: Servers the tests start listen on ports from here up, below the kernel's ephemeral range
#: (32768 and up), where every outgoing connection takes its local port.
FIRST_PORT = 10_000
#: A Redis Cluster node's bus listens this much higher than its port.
CLUSTER_BUS_OFFSET = 10_000


def _worker_ports() -> range:
    """This test process's own ports: pytest-xdist workers split the range, so none picks another's port.

    A port is probed free and then handed to a server that binds it a moment later; a port of the
    ephemeral range, or one shared with another worker, could be taken in between, and the test
    would then talk to somebody else's server.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    span = CLUSTER_BUS_OFFSET // workers
    start = FIRST_PORT + worker * span
    return range(start, start + span)


def free_port(*, bus: bool = False) -> int:
    """A TCP port of this worker's that nothing listens on right now (and its cluster bus port, with ``bus``)."""
    ports = _worker_ports()
    while True:
        port = random.choice(ports)
        if _is_free(port) and (not bus or _is_free(port + CLUSTER_BUS_OFFSET)):
            return port


class PrivateRedis:
    """A redis-server of the test's own on a free port, which the test may stop and restart."""

    def __init__(self, workdir: Path, *, persistent: bool = False) -> None:
        self.persistent = persistent
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        require("redis-server")
        log = (self._workdir / f"redis-{self.port}.log").open("ab")
        # With persistence (AOF, fsync on every write) the Streams survive a restart, as in production.
        aof = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *aof]
        self._process = subprocess.Popen([*command, "--dir", str(self._workdir)], stdout=log, stderr=subprocess.STDOUT)
        _wait_for_ping(self.port, self._process)

    def stop(self) -> None:
        if self._process is not None:
            self.thaw()
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its connections but answers nothing, like a hung host."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT: the server reads what waited in its sockets and goes on."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)


@contextlib.contextmanager
def private_redis(workdir: Path, *, persistent: bool = False) -> Iterator[PrivateRedis]:
    """Start a private redis-server; stop it at the end whatever happened."""
    server = PrivateRedis(workdir, persistent=persistent)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class PrivateRedisCluster:
    """Six private redis-server processes made into a cluster: three primaries, each with a replica."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self.ports: list[int] = []
        while len(self.ports) < 6:  # six different ones: none is bound before start()
            if (port := free_port(bus=True)) not in self.ports:
                self.ports.append(port)
        self.url = f"redis://127.0.0.1:{self.ports[0]}/0"
        self._processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        require("redis-server")
        for port in self.ports:
            node_dir = self._workdir / f"node-{port}"
            node_dir.mkdir()
            log = (node_dir / "redis.log").open("ab")
            command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            command += ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000", "--dir", str(node_dir)]
            command += ["--repl-diskless-sync-delay", "0"]  # replicas in sync at once, not after 5 s
            self._processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        for port, process in zip(self.ports, self._processes, strict=True):
            _wait_for_ping(port, process)
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "1", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        """Until every node sees three primaries, each with a replica in sync (after a failover too)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(_ready_node(port) for port in self.ports):
                return
            time.sleep(0.1)
        raise RuntimeError("the private Redis Cluster did not become ready")

    def send_signal(self, port: int, signum: signal.Signals) -> None:
        """Signal one node: SIGSTOP freezes it (a replica falls behind), SIGKILL is a crashed host."""
        self._processes[self.ports.index(port)].send_signal(signum)

    def stop(self) -> None:
        for process in self._processes:
            process.send_signal(signal.SIGCONT)
            process.terminate()
        for process in self._processes:
            process.wait(timeout=10)
        self._processes = []


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ready_node(port: int) -> bool:
    """The node sees a healthy cluster of three primaries, each with a replica in sync.

    A failover asked of a replica that is still loading its first copy, or
    whose primary has not yet heard that it is its replica, times out.
    """
    with redis.Redis(port=port) as node:
        if node.cluster("INFO").get("cluster_state") != "ok":
            return False
        seen = node.cluster("NODES").values()
        replication = node.info("replication")
    replicas = [info for info in seen if "slave" in info["flags"] and info["master_id"] != "-" and info["connected"]]
    in_sync = replication["role"] == "master" or replication.get("master_link_status") == "up"
    return len(replicas) == 3 and in_sync


def _wait_for_ping(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until the redis-server just started answers; it may have exited instead (its port was taken)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited at start-up on port {port} (see its log)")
        with contextlib.suppress(redis.ConnectionError):
            if redis.Redis(port=port, socket_connect_timeout=0.2).ping():
                return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not start on port {port}")


@contextlib.contextmanager
def private_redis_cluster(workdir: Path) -> Iterator[PrivateRedisCluster]:
    """Start a private Redis Cluster; stop it at the end whatever happened."""
    cluster = PrivateRedisCluster(workdir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


#: The longest a process may take to answer its health check: a bound on a failure, not a wait (it is ready
#: in a second or two; a machine running the suite's workers beside other work has taken ten times that).
START_SECONDS = 60
#: The longest a process may take to exit after SIGTERM: its own shutdown bound, with room for a loaded machine.
STOP_SECONDS = 30


class HeraldProcess:
    """``python -m presentation run`` in its own process, as production runs it."""

    def __init__(self, env: dict[str, str], log_path: Path, *, command: list[str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.metrics_port = free_port()
        while self.metrics_port == self.port:
            self.metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        # A database of its own beside its log, unless the test names one (never a file in the working directory).
        database = f"sqlite:///{log_path.parent / f'herald-{self.port}.sqlite3'}"
        self._env = {
            "HERALD_DATABASE_URL": database,
            **os.environ,
            **env,
            "HERALD_PORT": str(self.port),
            "HERALD_HOST": "127.0.0.1",
            "HERALD_METRICS_PORT": str(self.metrics_port),
            "HERALD_METRICS_HOST": "127.0.0.1",
        }
        self._log_path = log_path
        self._command = command or [sys.executable, "-m", "presentation", "run"]
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self._log_path.open("ab")
        self._process = subprocess.Popen(self._command, env=self._env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Herald exited at start-up:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/health", timeout=0.5).status_code == 200:
                    return
            time.sleep(0.1)
        self._process.kill()  # not left behind to hold its port and its database
        self._process.wait(timeout=10)
        raise RuntimeError(f"Herald did not become ready in {START_SECONDS} s:\n{self.log()}")

    def stop(self) -> int:
        """SIGTERM, as an orchestrator would; return the exit code."""
        if self._process is None:
            return 0
        self._process.send_signal(signal.SIGTERM)
        try:
            code = self._process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()  # not left behind; its log says where the shutdown stopped
            raise RuntimeError(f"Herald did not stop within {STOP_SECONDS} s of SIGTERM:\n{self.log()}") from None
        self._process = None
        return code

    def kill(self) -> None:
        """SIGKILL: the process ends at once, mid-work, as in a crash or an OOM kill."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def log(self) -> str:
        return self._log_path.read_text(errors="replace")

    @property
    def exit_code(self) -> int | None:
        """The code the process exited with (after a failed :meth:`start`, say); None while it runs."""
        return None if self._process is None else self._process.poll()


@contextlib.contextmanager
def herald_process(env: dict[str, str], log_path: Path) -> Iterator[HeraldProcess]:
    process = HeraldProcess(env, log_path)
    process.start()
    try:
        yield process
    finally:
        process.stop()
