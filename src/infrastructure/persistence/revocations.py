"""Revoked sessions in the database, for a process without Redis: a restart must not end a logout."""

from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from application.ports import RevocationUnavailableError
from application.ports.unit_of_work import StorageUnavailableError
from infrastructure.persistence.database import Database
from infrastructure.persistence.tables import revoked_sessions


class StoredRevocations:
    """Written on each revocation, read once when the process starts (every check is then in memory)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def save(self, session_id: str, until: datetime) -> None:
        """Keep ``session_id`` revoked until ``until`` (a later end already stored stays); expired rows go."""
        table = revoked_sessions
        try:
            async with self._database.connect() as connection:
                await connection.execute(delete(table).where(table.c.revoked_until < datetime.now(UTC)))
                known = await connection.scalar(select(table.c.revoked_until).where(table.c.session_id == session_id))
                if known is None:
                    await connection.execute(insert(table).values(session_id=session_id, revoked_until=until))
                elif known < until:
                    await connection.execute(
                        update(table).where(table.c.session_id == session_id).values(revoked_until=until)
                    )
                await connection.commit()
        except IntegrityError:  # the same session revoked at the same moment: that one is stored
            await self.save(session_id, until)
        except (StorageUnavailableError, DBAPIError) as error:
            raise RevocationUnavailableError(str(error)) from error

    async def unexpired(self) -> list[tuple[str, datetime]]:
        """Every revocation still in force."""
        table = revoked_sessions
        async with self._database.connect() as connection:
            rows = await connection.execute(
                select(table.c.session_id, table.c.revoked_until).where(table.c.revoked_until >= datetime.now(UTC))
            )
            return [(session_id, until) for session_id, until in rows]
