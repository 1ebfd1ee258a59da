"""One process per SQLite file: an exclusive lock on a file beside the database, held while a process uses it.

Inside a process, Herald gives SQLite's single writer one transaction at a
time (:mod:`infrastructure.persistence.database`); a second process on the
same file would wait on SQLite's own lock instead, fail on its busy timeout,
and run a second outbox relay over the same rows. Several processes share
state on PostgreSQL. The lock is the operating system's (``flock``): it
ends with the process however the process ends, so a crash leaves nothing
to clean up. The lock file itself stays (removing it could let two
processes hold locks on two different files of the same name).
"""

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url


class DatabaseInUseError(RuntimeError):
    """Another process holds the SQLite file."""


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names, absolute; None for PostgreSQL and for in-memory SQLite."""
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or name in (None, "", ":memory:"):
        return None
    if name.startswith("file:") and str(parsed.query.get("uri", "")).lower() in ("true", "1"):
        if parsed.query.get("mode") == "memory":
            return None
        name = urlsplit(name).path
        if name in ("", ":memory:"):
            return None
    return Path(name).resolve()


@contextlib.contextmanager
def claimed(url: str) -> Iterator[Path | None]:
    """Hold the SQLite file of ``url`` for this process until the block ends (nothing for other databases).

    Raises :class:`DatabaseInUseError` when another process holds it.
    """
    database = sqlite_file(url)
    if database is None:
        yield None
        return
    descriptor = os.open(database.with_name(f"{database.name}.lock"), os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            msg = (
                f"the SQLite database {database} is in use by another process; a SQLite file serves one Herald "
                "process. To run several processes, set HERALD_DATABASE_URL to a PostgreSQL database they share "
                "(postgresql://user:password@host:5432/herald); for a second, separate instance, give it a "
                "HERALD_DATABASE_URL of its own"
            )
            raise DatabaseInUseError(msg) from None
        yield database
    finally:
        os.close(descriptor)  # releases the lock
