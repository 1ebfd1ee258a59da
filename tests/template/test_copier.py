"""A service made from the template with Copier: named once, checked, and updated to a later template commit.

The template is the working tree (tracked and new files, committed to a scratch repository), so
the suite checks what is about to be committed; the update goes to a second commit that changes
files the service changed too, away from the service's own lines.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.template.test_naming import ROOT, tracked_files

pytestmark = pytest.mark.spawns
SLUG = "acme-notify"
#: The generated service's `make check`: its own environment from its lock, then lint, types, layers, tests.
CHECK_SECONDS = 900


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Template Test", "-c", "user.email=template@example.invalid", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def copier(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "copier", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=300
    )


def template_repository(where: Path) -> Path:
    """The working tree as commit A of a scratch repository."""
    where.mkdir()
    for path in tracked_files():
        target = where / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    git(where, "init", "-q", "-b", "main")
    git(where, "add", "-A")
    git(where, "commit", "-q", "-m", "A")
    return where


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path}"
    path.write_text(text.replace(old, new))


def recorded_commit(project: Path) -> str:
    """The template commit the service was last rendered from, as its answers file records it."""
    return str(yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"])


def leftovers(project: Path) -> list[str]:
    """Where the template's name is left in the generated service (the credit line aside)."""
    found = []
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project).as_posix()
        if relative.startswith((".git/", ".venv/", ".uv/")) or not path.is_file():
            continue
        if "herald" in relative.lower():
            found.append(relative)
        text = path.read_text(errors="replace")
        found += [
            f"{relative}: {line.strip()}"
            for line in text.splitlines()
            if "herald" in line.lower() and "template-credit" not in line
        ]
    return found


def clean_environment() -> dict[str, str]:
    """This run's environment without what ties a process to this suite's venv and workers."""
    return {
        name: value
        for name, value in os.environ.items()
        if name not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"} and not name.startswith(("PYTEST_", "HERALD_"))
    }


@pytest.mark.timeout(CHECK_SECONDS + 300)
def test_a_generated_service_is_renamed_and_takes_a_template_update_cleanly(tmp_path: Path) -> None:
    template = template_repository(tmp_path / "template")
    first = git(template, "rev-parse", "HEAD")
    project = tmp_path / SLUG

    made = copier(
        "copy",
        "--trust",
        "--defaults",
        "--quiet",
        "--vcs-ref",
        first,
        "--data",
        f"service_slug={SLUG}",
        str(template),
        str(project),
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    assert leftovers(project) == []
    assert (project / f"src/{SLUG.replace('-', '_')}_contracts").is_dir()
    assert "ACME_NOTIFY_REDIS_URL" in (project / "README.md").read_text()
    assert f"{SLUG} = " in (project / "pyproject.toml").read_text()
    assert first.startswith(recorded_commit(project))
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "acme-notify from the template")

    # The service's own work: a line in the README's last section and a module of its own.
    edit(project / "README.md", "runs a subset.", "runs a subset.\n\nAcme Notify's billing tests: `-k invoice`.")
    (project / "src/domain/model/invoice.py").write_text('"""Acme Notify\'s invoices."""\n')
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "Our own work")

    # The template's later commit changes the README's first paragraph and the name's module.
    edit(template / "README.md", "Fork it as the skeleton of your service:", "Fork it as the base of your service:")
    edit(
        template / "src/infrastructure/service_name.py",
        '"""The service\'s name, written once.',
        '"""The service\'s name, written in one place.',
    )
    git(template, "commit", "-q", "-am", "B")
    second = git(template, "rev-parse", "HEAD")

    updated = copier("update", "--trust", "--defaults", "--quiet", "--vcs-ref", second, cwd=project)
    assert updated.returncode == 0, updated.stderr
    status = git(project, "status", "--porcelain")
    assert not list(project.rglob("*.rej")), status
    assert "<<<<<<<" not in git(project, "diff"), git(project, "diff")
    readme = (project / "README.md").read_text()
    assert "Fork it as the base of your service:" in readme  # the template's change
    assert "Acme Notify's billing tests" in readme  # ours, kept
    assert (project / "src/domain/model/invoice.py").exists()
    assert "written in one place" in (project / "src/infrastructure/service_name.py").read_text()
    assert second.startswith(recorded_commit(project))
    assert leftovers(project) == []
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "Template update")

    checked = subprocess.run(
        ["make", "check"],
        cwd=project,
        env=clean_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=CHECK_SECONDS,
    )
    assert checked.returncode == 0, checked.stdout[-6000:] + checked.stderr[-3000:]
    assert re.search(r"\d+ passed", checked.stdout), checked.stdout[-2000:]


def test_the_template_named_after_itself_is_the_repository(tmp_path: Path) -> None:
    """The rule is the identity for the template's own name: what Copier writes is what the suite tested."""
    template = template_repository(tmp_path / "template")
    made = copier(
        "copy",
        "--trust",
        "--defaults",
        "--quiet",
        "--data",
        "service_slug=herald",
        str(template),
        str(tmp_path / "herald"),
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    excluded = ("copier.yml", "template/", "tests/template/", ".copier-answers.yml")
    for path in tracked_files():
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(excluded):
            continue
        assert (tmp_path / "herald" / relative).read_bytes() == path.read_bytes(), relative
