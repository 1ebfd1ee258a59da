"""Why a use case at the edge said no: typed outcomes the edge turns into HTTP responses."""

import enum

import attrs


class RefusalKind(enum.Enum):
    """What the caller can do about a refusal."""

    INVALID = "invalid"
    """The request itself is malformed: correct it."""
    UNAUTHENTICATED = "unauthenticated"
    """Present a valid credential (sign in again)."""
    FORBIDDEN = "forbidden"
    """This caller may not do this at all."""
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


def unauthenticated(detail: str) -> Refused:
    return Refused(RefusalKind.UNAUTHENTICATED, detail)


#: The broker, ticket store or revocation store is unreachable (or too slow): come back shortly.
UNAVAILABLE = Refused(RefusalKind.UNAVAILABLE, "events are unavailable; retry", retry_after_seconds=2)
#: The identity provider's keys cannot be fetched, and the token needs one not held yet.
KEYS_UNAVAILABLE = Refused(
    RefusalKind.UNAVAILABLE, "the sign-in keys cannot be fetched right now; retry", retry_after_seconds=5
)
