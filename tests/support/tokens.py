"""Hand-made JWTs for tests that need tokens Herald would never issue."""

import uuid
from datetime import UTC, datetime, timedelta

import jwt

from tests.conftest import TEST_SECRET


def forged(key: str = TEST_SECRET, algorithm: str = "HS256", **claims: object) -> str:
    """A token with valid-looking defaults (a fresh user, Herald's issuer and audience, 5 minutes left).

    ``claims`` override the defaults; ``key`` and ``algorithm`` make bad signatures.
    """
    base: dict[str, object] = {
        "sub": str(uuid.uuid4()),
        "iss": "herald",
        "aud": "herald",
        "exp": datetime.now(UTC) + timedelta(minutes=5),
    }
    base.update(claims)
    return jwt.encode(base, key, algorithm=algorithm)
