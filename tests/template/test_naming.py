"""The template's renaming rule (template/naming.py), and what keeps a renamed service valid."""

import ast
import subprocess
from pathlib import Path

import pytest

from template.naming import CREDIT_MARKER, SPELLINGS, rename

ROOT = Path(__file__).resolve().parents[2]
MARKERS = ("⟦", "⟧")


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    return [ROOT / name for name in listed.stdout.decode().split("\0") if name and (ROOT / name).is_file()]


def renamed(text: str, slug: str = "acme-notify") -> str:
    return rename(text, lambda spelling: SPELLINGS[spelling](slug))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HERALD_REDIS_URL", "ACME_NOTIFY_REDIS_URL"),
        ("class HeraldStream", "class AcmeNotifyStream"),
        ("RunningHerald,", "RunningAcmeNotify,"),
        ("Herald's registry", "Acme Notify's registry"),
        ("window.heraldSource", "window.acmeNotifySource"),
        ("herald_stream=", "acme_notify_stream="),
        ("from herald_contracts import", "from acme_notify_contracts import"),
        ("set $herald http://herald:8000;", "set $acme_notify http://acme-notify:8000;"),
        ("$(BIN)/herald run", "$(BIN)/acme-notify run"),
        ('name = "herald"', 'name = "acme-notify"'),
        ("x-herald-category", "x-acme-notify-category"),
    ],
)
def test_each_spelling_follows_its_neighbours(text: str, expected: str) -> None:
    assert renamed(text) == expected


def test_a_one_word_name_is_spelled_alike_everywhere() -> None:
    assert renamed("HERALD_X HeraldStream Herald heraldSource herald_x herald", "notes") == (
        "NOTES_X NotesStream Notes notesSource notes_x notes"
    )


def test_the_template_renamed_to_itself_is_unchanged() -> None:
    for path in tracked_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        assert renamed(text, "herald") == text, path


def test_a_credit_line_keeps_the_template_name() -> None:
    line = f"Made from the Herald template <!-- {CREDIT_MARKER} -->\n"
    assert renamed(line + "Herald\n") == line + "Acme Notify\n"
    readme = (ROOT / "README.md").read_text().splitlines()
    assert any(CREDIT_MARKER in line and "Herald" in line for line in readme)


def test_no_python_name_is_the_bare_template_name() -> None:
    """A bare ``herald`` is spelled ``acme-notify`` (the command's spelling), which is no Python name."""
    found = []
    for path in tracked_files():
        if path.suffix != ".py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            name = getattr(node, "id", None) or getattr(node, "arg", None) or getattr(node, "attr", None)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.alias):
                name = node.name
            if name == "herald":
                found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}")
    assert not found, f"rename these Python names (a generated service could not spell them): {found}"


def test_only_the_answers_file_uses_the_template_markers() -> None:
    """Copier reads every file as a Jinja template whose markers are these; elsewhere they would be rendered."""
    using = {
        path.relative_to(ROOT).as_posix()
        for path in tracked_files()
        if path.suffix not in {".png"} and any(marker in path.read_text(errors="replace") for marker in MARKERS)
    }
    assert using <= {".copier-answers.yml", "copier.yml", "tests/template/test_naming.py"}
    assert ".copier-answers.yml" in using
