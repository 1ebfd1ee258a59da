"""``DELETE /api/v1/sessions/{session_id}``: log a session out everywhere, streams included."""

from litestar import Controller, delete
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from application.access import RevokeSession
from application.principal import Principal
from infrastructure.container import Container
from presentation.http.auth import authenticated, provide_principal
from presentation.http.from_container import from_container
from presentation.http.refusals import refuse


class SessionsController(Controller):
    """Login sessions (the ``sid`` claim of access tokens)."""

    path = "/api/v1/sessions"
    tags = ["sessions"]
    guards = [authenticated]
    dependencies = {
        "principal": Provide(provide_principal, sync_to_thread=False),
        "revoke_session": from_container(Container.revoke_session),
    }

    @delete("/{session_id:str}", status_code=204, summary="Revoke a session and end its streams")
    async def revoke(
        self,
        session_id: FromPath[str],
        principal: NamedDependency[Principal],
        revoke_session: NamedDependency[RevokeSession],
    ) -> None:
        """Your own session (log out), or any session with the ``admin`` role.

        Every process ends that session's streams with a ``stream.end`` event,
        and every token of that session is refused from then on, refreshed ones
        included, for ``HERALD_SESSION_REVOCATION_SECONDS`` (and never less than
        the caller's own token could pass). A session id that cannot be one
        (see docs/architecture/security.md) names no session: 404.
        """
        refused = await revoke_session(principal, session_id)
        if refused is not None:
            refuse(refused)
