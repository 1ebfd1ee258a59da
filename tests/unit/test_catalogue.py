"""The event catalogue in the docs is the registry's, generated; it cannot drift."""

from pathlib import Path

import pytest

from domain.registry import REGISTRY
from presentation.process.catalogue import catalogue_markdown
from presentation.process.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_the_documented_catalogue_is_the_registry() -> None:
    assert DOCS.read_text() == catalogue_markdown(REGISTRY), "regenerate: .venv/bin/herald registry > docs/events.md"


def test_every_mapping_is_listed_once() -> None:
    text = catalogue_markdown(REGISTRY)
    for mapping in REGISTRY:
        assert text.count(f"| `{mapping.sse_event_type}` |") == 1


def test_herald_registry_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["registry"]) == 0
    assert capsys.readouterr().out == catalogue_markdown(REGISTRY)
