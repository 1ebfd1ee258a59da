"""Use cases of access: who is calling (a live session's token), and logging a session out."""

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from application.ports import Clock, Credentials, RevocationUnavailableError, SessionRevocations
from application.principal import CredentialError, CredentialsUnavailableError, Principal, session_id_problem
from application.refusals import UNAVAILABLE, RefusalKind, Refused, keys_unavailable, unauthenticated

ADMIN_ROLE = "admin"


async def live_session(principal: Principal, revocations: SessionRevocations) -> Principal | Refused:
    """``principal``, unless its session was revoked."""
    if principal.session_id is not None and await revocations.is_revoked(principal.session_id):
        return unauthenticated("the session was revoked; sign in again")
    return principal


class Authenticate:
    """The caller of an API route: the principal of a valid access token whose session is live."""

    refuses: ClassVar[frozenset[RefusalKind]] = frozenset({RefusalKind.UNAUTHENTICATED, RefusalKind.UNAVAILABLE})

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
    The revocation lasts ``lasts`` from now: as long as the session could
    still hand out tokens (a refresh gives a new token with the same ``sid``)
    and those tokens live. Tokens are taken ``leeway`` past their ``exp``,
    so the revocation lasts that much longer, and never ends before the
    caller's own token could pass.
    """

    refuses: ClassVar[frozenset[RefusalKind]] = frozenset(
        {RefusalKind.NOT_FOUND, RefusalKind.FORBIDDEN, RefusalKind.UNAVAILABLE}
    )

    def __init__(self, revocations: SessionRevocations, clock: Clock, *, lasts: timedelta, leeway: timedelta) -> None:
        self._revocations = revocations
        self._clock = clock
        self._lasts = lasts
        self._leeway = leeway

    async def __call__(self, caller: Principal, session_id: str) -> Refused | None:
        problem = session_id_problem(session_id)
        if problem is not None:
            return Refused(RefusalKind.NOT_FOUND, f"no such session: {problem}")
        own = session_id == caller.session_id
        if not own and not caller.has_role(ADMIN_ROLE):
            return Refused(RefusalKind.FORBIDDEN, f"only your own session, or any with the {ADMIN_ROLE!r} role")
        until = self._clock.now() + self._lasts
        if own:
            until = max(until, caller.expires_at)
        try:
            until += self._leeway
        except OverflowError:  # a token that lives until the end of the calendar: so does its revocation
            until = datetime.max.replace(tzinfo=UTC)
        try:
            await self._revocations.revoke(session_id, until=until)
        except RevocationUnavailableError:
            return UNAVAILABLE
        return None
