"""The locked environment (docs/dependencies.md): what uv.lock holds, and what keeps it moving.

``make install`` refuses a uv.lock that no longer matches pyproject.toml
(``uv sync --locked``); these tests check what that cannot: that the lock
pins every package to a hash from PyPI, covers the runtime and both extras,
and that the update bot's configuration is valid and still finds what it
must update.
"""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.uv import uv_version

ROOT = Path(__file__).resolve().parents[2]
LOCK = tomllib.loads((ROOT / "uv.lock").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RENOVATE = json.loads((ROOT / "renovate.json").read_text())
MAKEFILE = (ROOT / "Makefile").read_text()


def requirement_name(requirement: str) -> str:
    return re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_locked_package_is_pinned_to_hashed_files_from_pypi() -> None:
    third_party = [package for package in LOCK["package"] if package["name"] != "herald"]
    assert third_party
    for package in third_party:
        assert package["source"] == {"registry": "https://pypi.org/simple"}, package["name"]
        files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        assert files, f"{package['name']} {package['version']} has no file in the lock"
        assert all(file["hash"].startswith("sha256:") for file in files), package["name"]


def test_the_lock_covers_the_runtime_and_both_extras() -> None:
    [service] = [package for package in LOCK["package"] if package["name"] == "herald"]
    locked = {package["name"] for package in LOCK["package"]}
    assert (
        set(service["optional-dependencies"])
        == set(PYPROJECT["project"]["optional-dependencies"])
        == {
            "dev",
            "testing",
        }
    )
    wanted = [*PYPROJECT["project"]["dependencies"]]
    wanted += [r for extra in PYPROJECT["project"]["optional-dependencies"].values() for r in extra]
    missing = {requirement_name(requirement) for requirement in wanted} - locked
    assert not missing, f"in pyproject.toml but not in uv.lock: {missing} (run `make lock`)"


def test_the_lock_asks_for_the_python_that_pyproject_does() -> None:
    assert LOCK["requires-python"] == PYPROJECT["project"]["requires-python"]


def test_the_makefile_installs_a_uv_that_reads_this_lock() -> None:
    assert PYPROJECT["tool"]["uv"]["required-version"] == f">={uv_version()}"
    assert "sync --locked" in MAKEFILE, "the environment must be installed from the lock, never re-resolved"


def test_the_update_bot_configuration_is_valid_renovate() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    command = [str(checker), "--builtin-schema", "vendor.renovate", str(ROOT / "renovate.json")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("manager", ["pep621", "npm", "dockerfile", "github-actions"])
def test_the_update_bot_covers(manager: str) -> None:
    assert manager in RENOVATE["enabledManagers"]


@pytest.mark.parametrize("name", ["Makefile", "Dockerfile"])
def test_the_update_bot_finds_the_uv_version(name: str) -> None:
    [custom] = [m for m in RENOVATE["customManagers"] if m["depNameTemplate"] == "uv"]
    assert any(re.search(files.strip("/"), name) for files in custom["managerFilePatterns"])
    text = (ROOT / name).read_text()
    found = [re.search(pattern.replace("(?<", "(?P<"), text) for pattern in custom["matchStrings"]]
    versions = {match["currentValue"] for match in found if match is not None}
    assert versions == {uv_version()}, f"Renovate would not see {name}'s uv version, or it differs from the Makefile's"
