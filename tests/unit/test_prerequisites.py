"""Tests install the Debian programs they drive, and only those: never a silent skip, never a needless install."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import prerequisites
from tests.support.prerequisites import PROGRAMS, Program, require

ROOT = Path(__file__).resolve().parents[2]


def collected(*arguments: str) -> list[str]:
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *arguments]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in (0, 5), done.stdout + done.stderr  # 5: nothing collected
    return [line for line in done.stdout.splitlines() if "::" in line]


@pytest.mark.spawns  # pytest processes of its own
def test_one_mappings_contracts_need_no_program() -> None:
    """What the README's ``PYTEST_ARGS="-k invoice.paid" make pytest`` selects, for a mapping of the registry."""
    selection = "test_mapping_contracts and report.completed"
    assert len(collected("tests/property", "-k", selection)) == 7
    assert collected("tests/property", "-k", selection, "-m", "needs") == []  # so nothing is installed before


@pytest.mark.spawns
def test_the_browser_and_redis_tests_declare_what_they_drive() -> None:
    assert collected("tests/e2e", "tests/integration/test_redis_delivery.py", "-m", "not needs") == []
    assert collected("tests/integration/test_redis_delivery.py", "-m", "spawns")


def test_a_program_missing_without_root_fails_the_test_naming_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROGRAMS, "frobnicator", Program(("frobnicator-bin", "frob-data"), lambda: False))
    monkeypatch.setattr(prerequisites.os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.fail.Exception, match=r"run 'sudo apt-get install frobnicator-bin frob-data'"):
        require("frobnicator")


def test_a_present_program_is_not_installed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("apt-get ran for a program that is present")

    monkeypatch.setitem(PROGRAMS, "frobnicator", Program(("frobnicator-bin",), lambda: True))
    monkeypatch.setattr(prerequisites.subprocess, "run", refuse)
    require("frobnicator")
