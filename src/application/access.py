"""Use cases of access: who is calling (a live session's token), and logging a session out."""

from datetime import timedelta

from application.ports import Clock, Credentials, RevocationUnavailableError, SessionRevocations
from application.principal import CredentialError, CredentialsUnavailableError, Principal
from application.refusals import UNAVAILABLE, RefusalKind, Refused, keys_unavailable, unauthenticated

ADMIN_ROLE = "admin"

#: How long an administrator's revocation of another session is kept: longer
#: than any access token Herald issues lives.
FOREIGN_SESSION_HORIZON = timedelta(days=1)


async def live_session(principal: Principal, revocations: SessionRevocations) -> Principal | Refused:
    """``principal``, unless its session was revoked."""
    if principal.session_id is not None and await revocations.is_revoked(principal.session_id):
        return unauthenticated("the session was revoked; sign in again")
    return principal


class Authenticate:
    """The caller of an API route: the principal of a valid access token whose session is live."""

    def __init__(self, credentials: Credentials, revocations: SessionRevocations) -> None:
        self._credentials = credentials
        self._revocations = revocations

    async def __call__(self, token: str) -> Principal | Refused:
        try:
            principal = await self._credentials.verify(token)
        except CredentialError as error:
            return unauthenticated(str(error))
        except CredentialsUnavailableError as error:
            return keys_unavailable(error.retry_after_seconds)
        return await live_session(principal, self._revocations)


class RevokeSession:
    """Log a session out everywhere: its tokens are refused and its streams end, on every process.

    A caller may revoke its own session; the ``admin`` role may revoke any.
    """

    def __init__(self, revocations: SessionRevocations, clock: Clock) -> None:
        self._revocations = revocations
        self._clock = clock

    async def __call__(self, caller: Principal, session_id: str) -> Refused | None:
        own = session_id == caller.session_id
        if not own and not caller.has_role(ADMIN_ROLE):
            return Refused(RefusalKind.FORBIDDEN, f"only your own session, or any with the {ADMIN_ROLE!r} role")
        until = caller.expires_at if own else self._clock.now() + FOREIGN_SESSION_HORIZON
        try:
            await self._revocations.revoke(session_id, until=until)
        except RevocationUnavailableError:
            return UNAVAILABLE
        return None
