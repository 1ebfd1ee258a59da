"""The programs some tests drive, from Debian's packages: installed when missing and run as root, else named.

Only the tests that use a program ask for it, so a run of a few contract tests
installs nothing. ``install_for`` runs once the selection is known, before any
test (a package download must not eat a test's timeout); ``require`` is what a
test's helper calls, and it fails that test, naming the package, when it could
not be installed. Never a skip: a missing program must not pass CI by omission.

``python -m tests.support.prerequisites NAME...`` installs them for the
Makefile's targets (the benchmark, the TypeScript client).
"""

import contextlib
import fcntl
import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator

import attrs
import pytest


@attrs.frozen
class Program:
    """A program and the Debian packages that bring it."""

    packages: tuple[str, ...]
    present: Callable[[], bool]


def _on_path(*commands: str) -> Callable[[], bool]:
    return lambda: all(shutil.which(command) for command in commands)


def _nginx() -> str | None:
    # Debian puts it in /usr/sbin, which a non-root user's PATH may lack.
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


PROGRAMS = {
    "chromium": Program(("chromium",), lambda: os.path.exists("/usr/bin/chromium")),
    "nginx": Program(("nginx",), lambda: _nginx() is not None),
    "node": Program(("nodejs", "npm"), _on_path("node", "npm")),
    "postgresql": Program(("postgresql",), lambda: bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))),
    "promtool": Program(("prometheus",), _on_path("promtool")),
    "redis-server": Program(("redis-server",), _on_path("redis-server", "redis-cli")),
}


class MissingProgram(Exception):
    """A program is missing and could not be installed here (not root, or apt-get failed)."""


def missing_message(name: str) -> str:
    packages = " ".join(PROGRAMS[name].packages)
    return f"{name} is missing: run 'sudo apt-get install {packages}' (as root, the tests install it themselves)"


@contextlib.contextmanager
def exclusive(name: str) -> Iterator[None]:
    """Held by one process of the machine at a time: parallel test workers install a thing once, in turn."""
    with open(f"/tmp/herald-{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def install(names: Iterable[str]) -> None:
    """Install the Debian packages of every missing program of ``names`` (root only); raise what is left missing."""
    with exclusive("prerequisites"):
        wanted = sorted({name for name in names if not PROGRAMS[name].present()})
        if not wanted:
            return
        if os.geteuid() == 0:
            packages = [package for name in wanted for package in PROGRAMS[name].packages]
            environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", "update", "-qq"], check=False, env=environment, capture_output=True)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", *packages], check=False, env=environment, capture_output=True
            )
        still = [name for name in wanted if not PROGRAMS[name].present()]
        if still:
            raise MissingProgram("; ".join(missing_message(name) for name in still))


def require(name: str) -> None:
    """Fail the calling test, naming the package to install, unless ``name`` is (or could be made) present."""
    try:
        install([name])
    except MissingProgram as missing:
        pytest.fail(str(missing), pytrace=False)


def nginx_binary() -> str:
    """nginx's path, once it is installed (or the calling test has failed naming its package)."""
    require("nginx")
    path = _nginx()
    assert path is not None
    return path


def needed_by(items: Iterable[pytest.Item]) -> set[str]:
    """The programs the selected tests declared with ``@pytest.mark.needs(...)``."""
    return {name for item in items for mark in item.iter_markers("needs") for name in mark.args}


def install_for(items: Iterable[pytest.Item]) -> None:
    """Before the first test: install what the selection needs; what cannot be installed fails its tests later."""
    with contextlib.suppress(MissingProgram):  # each test that needs it fails through require(), naming it
        install(needed_by(items))


if __name__ == "__main__":
    try:
        install(sys.argv[1:])
    except MissingProgram as missing:
        sys.exit(str(missing))
