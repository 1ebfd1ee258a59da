"""``DELETE /api/v1/sessions/{session_id}``: log a session out everywhere, streams included."""

from datetime import UTC, datetime, timedelta

from litestar import Controller, delete
from litestar.di import NamedDependency, Provide
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath

from infrastructure.auth import Principal
from infrastructure.auth.sessions import SessionRevocations
from presentation.auth import authenticated, provide_principal
from presentation.controllers.announcements import ADMIN_ROLE

#: How long an administrator's revocation of another session is kept: longer
#: than any access token Herald issues lives.
_FOREIGN_SESSION_HORIZON = timedelta(days=1)


class SessionsController(Controller):
    """Login sessions (the ``sid`` claim of access tokens)."""

    path = "/api/v1/sessions"
    tags = ["sessions"]
    guards = [authenticated]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @delete("/{session_id:str}", status_code=204, summary="Revoke a session and end its streams")
    async def revoke(
        self,
        session_id: FromPath[str],
        principal: NamedDependency[Principal],
        session_revocations: NamedDependency[SessionRevocations],
    ) -> None:
        """Your own session (log out), or any session with the ``admin`` role.

        Every process ends that session's streams with a ``stream.end`` event,
        and its tokens are refused from then on.
        """
        own = session_id == principal.session_id
        if not own and not principal.has_role(ADMIN_ROLE):
            raise PermissionDeniedException(detail="only your own session, or any with the 'admin' role")
        until = principal.expires_at if own else datetime.now(UTC) + _FOREIGN_SESSION_HORIZON
        await session_revocations.revoke(session_id, until=until)
