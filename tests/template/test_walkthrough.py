"""docs/your-aggregate.md, done as written on a copy of the repository: every block applied in order, then
the linters, the types, the layers and the walkthrough's own tests. A stale step fails here, naming itself.

Blocks are fenced code whose info string names a ``file=`` (a new file, or with ``after=``/``before=`` a
line to add next to, or ``append``), or ``bash run`` (commands, run in the copy; ``make migration`` runs
as tests/persistence/test_autogenerate.py runs it, on the copy's alembic.ini, with this suite's environment).
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from tests.template.test_copier import template_repository
from tests.template.test_naming import ROOT

pytestmark = pytest.mark.spawns
DOC = ROOT / "docs" / "your-aggregate.md"
BLOCK = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


@attrs.frozen
class Step:
    info: str
    body: str

    @property
    def options(self) -> dict[str, str]:
        words = shlex.split(self.info)
        return dict(word.split("=", 1) if "=" in word else (word, "") for word in words[1:])


def steps() -> list[Step]:
    return [
        Step(match["info"], match["body"])
        for match in BLOCK.finditer(DOC.read_text())
        if "file=" in match["info"] or "run" in match["info"].split()
    ]


def apply(step: Step, copy: Path) -> None:
    options = step.options
    path = copy / options["file"]
    if not ({"after", "before", "append"} & options.keys()):
        assert not path.exists(), f"{options['file']} is a new file in the walkthrough, but exists"
        path.write_text(step.body)
        return
    text = path.read_text()
    if "append" in options:
        path.write_text(text.rstrip("\n") + "\n\n\n" + step.body)
        return
    anchor = options.get("after") or options["before"]
    lines = text.splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if anchor in line), None)
    assert at is not None, f"{options['file']} has no line holding {anchor!r} (the walkthrough's step is stale)"
    at += 1 if "after" in options else 0
    path.write_text("".join([*lines[:at], step.body, *lines[at:]]))


def run(command: str, copy: Path) -> None:
    env = os.environ | {"PYTHONPATH": str(copy / "src"), "VENV": sys.prefix}
    if command.startswith("make migration"):
        env["ALEMBIC_CONFIG"] = str(copy / "alembic.ini")
        where = ROOT
    else:
        where = copy
    done = subprocess.run(
        command, shell=True, cwd=where, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"


@pytest.mark.timeout(900)
def test_the_walkthrough_builds_a_live_invoice_as_written(tmp_path: Path) -> None:
    copy = template_repository(tmp_path / "fork")
    (copy / ".venv").symlink_to(sys.prefix)
    for step in steps():
        if "file" in step.options:
            apply(step, copy)
        else:
            for command in step.body.strip().splitlines():
                run(command, copy)
    assert list((copy / "src/infrastructure/persistence/migrations/versions").glob("*_add_invoices.py"))
    for check in (
        ".venv/bin/ruff check src tests",
        ".venv/bin/ruff format --check src tests",
        ".venv/bin/mypy",
        ".venv/bin/lint-imports",
    ):
        run(check, copy)
