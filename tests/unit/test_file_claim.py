"""Which URLs name a SQLite file, and one claim on a file at a time."""

from pathlib import Path

import pytest

from infrastructure.persistence.file_claim import DatabaseInUseError, claimed, sqlite_file


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite://",
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite:///file::memory:?uri=true",
        "sqlite+aiosqlite:///file:shared?mode=memory&cache=shared&uri=true",
        "postgresql+asyncpg://herald:secret@db:5432/herald",
    ],
)
def test_in_memory_and_postgresql_databases_have_no_file_to_claim(url: str) -> None:
    assert sqlite_file(url) is None
    with claimed(url) as database:
        assert database is None


def test_every_spelling_of_one_file_names_that_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    real = (tmp_path / "data" / "herald.sqlite3").resolve()
    for url in (
        "sqlite+aiosqlite:///data/herald.sqlite3",
        f"sqlite+aiosqlite:///{tmp_path}/data/./herald.sqlite3",
        f"sqlite+aiosqlite:///{tmp_path}/link/herald.sqlite3",
        f"sqlite+aiosqlite:///file:{tmp_path}/data/herald.sqlite3?uri=true",
    ):
        assert sqlite_file(url) == real, url


def test_a_file_is_claimed_once_at_a_time_and_free_again_after(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'herald.sqlite3'}"
    spelled_otherwise = f"sqlite+aiosqlite:///{tmp_path}/./herald.sqlite3"
    with claimed(url) as database:
        assert database == (tmp_path / "herald.sqlite3").resolve()
        with pytest.raises(DatabaseInUseError, match=r"HERALD_DATABASE_URL.*PostgreSQL"), claimed(spelled_otherwise):
            pass
        with claimed(f"sqlite+aiosqlite:///{tmp_path / 'other.sqlite3'}"):
            pass  # another file is another claim
    with claimed(url):
        pass
