"""Why a use case at the edge said no: typed outcomes the edge turns into HTTP responses."""

import enum
from uuid import UUID

import attrs

from application.ports import UserRate


class RefusalKind(enum.Enum):
    """What the caller can do about a refusal.

    Each use case at the edge names the kinds it may answer in a ``refuses``
    class attribute; the HTTP contract documents their statuses from it.
    """

    INVALID = "invalid"
    """The request itself is malformed: correct it."""
    UNAUTHENTICATED = "unauthenticated"
    """Present a valid credential (sign in again)."""
    FORBIDDEN = "forbidden"
    """This caller may not do this at all."""
    NOT_FOUND = "not_found"
    """No such resource, as far as this caller may know (one it may not see is answered the same)."""
    CONFLICT = "conflict"
    """The resource's state does not allow it: change that first (waiting does not help)."""
    TOO_MANY = "too_many"
    """Slow down; try again later."""
    UNAVAILABLE = "unavailable"
    """The service cannot do it right now; retry (perhaps on another instance)."""


@attrs.frozen
class Refused:
    """A use case's refusal: the kind, a message safe to show, and when to retry if that helps."""

    kind: RefusalKind
    detail: str
    retry_after_seconds: int | None = None


def over_rate(rate: UserRate, user_id: UUID, detail: str) -> Refused | None:
    """None when ``rate`` lets ``user_id`` act now (and counts it); else ``detail``, with when to retry."""
    if rate.take(user_id):
        return None
    return Refused(RefusalKind.TOO_MANY, detail, rate.retry_after_seconds(user_id))


def unauthenticated(detail: str) -> Refused:
    return Refused(RefusalKind.UNAUTHENTICATED, detail)


#: The broker, ticket store or revocation store is unreachable (or too slow): come back shortly.
UNAVAILABLE = Refused(RefusalKind.UNAVAILABLE, "events are unavailable; retry", retry_after_seconds=2)


def keys_unavailable(retry_after_seconds: int) -> Refused:
    """The token's key is not held and cannot be looked up before ``retry_after_seconds``: come back then."""
    return Refused(
        RefusalKind.UNAVAILABLE, "the token's signing key cannot be looked up right now; retry", retry_after_seconds
    )
