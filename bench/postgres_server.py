"""The PostgreSQL the outbox measurement runs on: a private server of the bench's own by default, or one by URL.

The private server keeps PostgreSQL's own durability settings (fsync and
synchronous commit on), unlike the test suite's: the outbox's figure is
only worth quoting with commits that reach the disk.
"""

import contextlib
from collections.abc import Iterator

from tests.support.postgres import private_postgres

from infrastructure.settings import Settings

#: ``--postgres`` values: a server of the bench's own, or no outbox measurement; anything else is a URL.
PRIVATE, SKIP = "private", "none"


@contextlib.contextmanager
def postgres_for_bench(choice: str) -> Iterator[str | None]:
    """The server URL to create the run's databases on (None: skip the outbox measurement)."""
    if choice == SKIP:
        yield None
    elif choice == PRIVATE:
        with private_postgres(durable=True) as server:
            yield server.url
    else:  # with the driver Herald uses, as HERALD_DATABASE_URL would get it
        yield Settings.from_env({"HERALD_DATABASE_URL": choice}).database_url
