"""Schemathesis against a Herald served on loopback: the suite's fixed-seed run, and ``make fuzz``'s long one.

Every check, over the coverage, fuzzing and stateful phases, with an admin's
bearer token; only the stream is left out, because it never ends (its
contract is tested on its own). ``python -m tests.support.fuzz --seconds N``
serves a fresh Herald and fuzzes it unseeded for N seconds.
"""

import argparse
import asyncio
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

from infrastructure.container import Container
from tests.conftest import fast_settings
from tests.support.server import RunningHerald, serve

#: Never ends, so it cannot be one of the fuzzer's requests.
STREAM_PATH = "/api/v1/events"


def command(service: RunningHerald, *extra: str) -> list[str]:
    """The ``schemathesis run`` command line for ``service``, with every check and an admin's token."""
    token = service.container.token_service().issue(uuid.uuid4(), ["admin"])
    return [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{service.base_url}/schema/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--phases",
        "coverage,fuzzing,stateful",
        "--exclude-path",
        STREAM_PATH,
        "--no-color",
        *extra,
    ]


async def run(service: RunningHerald, *extra: str) -> tuple[int, str]:
    """Run Schemathesis against ``service`` (which keeps serving meanwhile): its exit code and its output."""
    process = await asyncio.create_subprocess_exec(
        *command(service, *extra), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def _fuzz(seconds: int, extra: Sequence[str]) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        container = Container()
        container.settings.override(fast_settings(database_url=f"sqlite+aiosqlite:///{scratch}/herald.sqlite3"))
        async with serve(container) as service:
            code, output = await run(service, "--max-time", str(seconds), *extra)
    print(output)
    return code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=600, help="how long to fuzz (default 600)")
    arguments, extra = parser.parse_known_args()
    sys.exit(asyncio.run(_fuzz(arguments.seconds, extra)))


if __name__ == "__main__":
    main()
