"""A private PostgreSQL server for integration tests, never the machine's own one on port 5432."""

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.prerequisites import require
from tests.support.processes import free_port

SYSTEM_USER = "postgres"  # Debian's postgresql package creates it; the server refuses to run as root


class PrivatePostgres:
    """A postgres server of the test's own on a free port, with a throwaway data directory under /tmp.

    The data directory comes from ``tempfile.mkdtemp`` directly under /tmp, not
    from pytest's tmp dirs: those are mode 700 under root's pytest-of-root,
    which the ``postgres`` user the server runs as (when the suite runs as root)
    cannot enter.
    """

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.port = free_port()
        self.url = f"postgresql+asyncpg://herald@127.0.0.1:{self.port}/herald"
        self.data_dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    @property
    def sync_url(self) -> str:
        """The libpq form of ``url``, for psql and other clients that are not SQLAlchemy's."""
        return f"postgresql://herald@127.0.0.1:{self.port}/herald"

    def start(self) -> None:
        bin_dir = _bin_dir()
        as_user = _as_server_user()
        self.data_dir = data_dir = Path(tempfile.mkdtemp(prefix="herald-pg-", dir="/tmp"))
        if os.geteuid() == 0:
            shutil.chown(data_dir, SYSTEM_USER, SYSTEM_USER)
        initdb = [str(bin_dir / "initdb"), "-D", str(data_dir), "--auth=trust", "--username=herald"]
        initdb += ["--encoding=UTF8", "--locale=C", "--no-sync"]  # C: whatever locales the host lacks
        done = subprocess.run([*as_user, *initdb], cwd=data_dir, env=_env(), capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{(done.stdout + done.stderr).decode(errors='replace')}")
        # Trust on 127.0.0.1 and on the socket in the data directory only: nothing else can reach it.
        hba = data_dir / "pg_hba.conf"
        hba.write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
        if os.geteuid() == 0:
            shutil.chown(hba, SYSTEM_USER, SYSTEM_USER)
        self._log = data_dir / "server.log"
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(data_dir),
            "max_connections": "200",
            "shared_buffers": "16MB",
        }
        if not self.durable:  # durability is not what the tests are about; speed is (the benchmark keeps it)
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        options = [part for name, value in settings.items() for part in ("-c", f"{name}={value}")]
        with self._log.open("ab") as log:
            # The postgres binary itself, not pg_ctl: the test holds its pid to stop, freeze or kill it.
            command = [*as_user, str(bin_dir / "postgres"), "-D", str(data_dir), *options]
            self._process = subprocess.Popen(command, cwd=data_dir, env=_env(), stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready(bin_dir)
        createdb = [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "herald", "herald"]
        done = subprocess.run(createdb, env=_env(), capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"createdb failed: {done.stderr.decode(errors='replace')}")

    def _wait_ready(self, bin_dir: Path) -> None:
        assert self._process is not None
        probe = [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port), "-t", "1"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"postgres exited at start-up:\n{self.log()}")
            if subprocess.run(probe, env=_env(), check=False).returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"postgres did not start on port {self.port}:\n{self.log()}")

    def send_signal(self, signum: signal.Signals) -> None:
        """SIGSTOP freezes the server like a hung host, SIGCONT thaws it, SIGKILL is a crash."""
        assert self._process is not None
        self._process.send_signal(signum)

    def stop(self) -> None:
        """SIGINT, postgres's fast shutdown (SIGKILL after 15 s); then delete the data directory."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.send_signal(signal.SIGCONT)  # a frozen server could not shut down
                self._process.send_signal(signal.SIGINT)
                try:
                    self._process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(timeout=10)
            self._process = None
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def log(self) -> str:
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")


def _bin_dir() -> Path:
    """The bin directory of the newest PostgreSQL under /usr/lib/postgresql, as Debian lays it out."""
    require("postgresql")
    found = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    versions = [path for path in found if path.parent.name.replace(".", "").isdigit()]
    assert versions, f"no PostgreSQL version under /usr/lib/postgresql: {found}"
    return max(versions, key=lambda path: tuple(int(part) for part in path.parent.name.split(".")))


def _as_server_user() -> list[str]:
    """The prefix that runs a command as ``postgres`` when the suite runs as root, which PostgreSQL refuses."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise RuntimeError(f"PostgreSQL's package made no '{SYSTEM_USER}' user to run it as") from None
    return ["setpriv", f"--reuid={SYSTEM_USER}", f"--regid={SYSTEM_USER}", "--init-groups", "--"]


def _env() -> dict[str, str]:
    """The environment without PG* variables, which would point the client tools elsewhere."""
    return {name: value for name, value in os.environ.items() if not name.startswith("PG")}


@contextlib.contextmanager
def private_postgres(*, durable: bool = False) -> Iterator[PrivatePostgres]:
    """Start a private PostgreSQL (``durable``: with PostgreSQL's own fsync and commit settings, not the
    tests' faster ones); stop it and delete its data at the end whatever happened."""
    server = PrivatePostgres(durable=durable)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A new, empty database on the server of ``server_url`` (its URL), dropped at the end."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server_url.rsplit("/", 1)[0] + "/" + name
        finally:  # also when the test failed: the server may be one the suite did not start
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()
