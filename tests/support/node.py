"""Node.js for the TypeScript client's tests: its npm packages, as pinned by its lock file, and its tools."""

import subprocess
from pathlib import Path

from tests.support.prerequisites import exclusive, require

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "typescript"


def install_client_packages() -> None:
    """``npm ci`` when the installed packages are not those of the lock file (as ``make clients`` does)."""
    require("node")
    lock = (CLIENT / "package-lock.json").read_bytes()
    installed = CLIENT / "node_modules" / ".herald-lock"
    with exclusive("npm-ci"):  # two test workers must not install into one node_modules at once
        if not installed.exists() or installed.read_bytes() != lock:
            run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"])
            installed.write_bytes(lock)


def run(command: list[str], *, cwd: Path = CLIENT, expect_failure: bool = False) -> str:
    """Run ``command``; its output. Fails the test when it exits otherwise than expected."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    assert (done.returncode != 0) == expect_failure, f"{' '.join(command)} exited {done.returncode}:\n{output}"
    return output


def tsc(*arguments: str, expect_failure: bool = False) -> str:
    """The client's own TypeScript compiler."""
    compiler = CLIENT / "node_modules" / "typescript" / "bin" / "tsc"
    return run(["node", str(compiler), *arguments], expect_failure=expect_failure)
