"""Bearer tokens: JWTs checked against an explicit algorithm allow-list, issuer, audience and expiry."""

import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from application.principal import TENANT_RULE, Principal, is_tenant
from infrastructure.auth.claims import principal_from_claims, verified_claims


class TokenService:
    """Issues and verifies HS256 access tokens.

    Only the algorithms in ``ALGORITHMS`` are accepted, so a token signed with
    ``none`` or with another key type is refused whatever its header says.
    """

    ALGORITHMS = ("HS256",)

    def __init__(
        self,
        secret: str,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: float = 10.0,
        lifetime_seconds: int = 3600,
    ) -> None:
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._lifetime = lifetime_seconds

    @property
    def _stream_audience(self) -> str:
        return f"{self._audience}:stream"

    def issue(
        self,
        user_id: UUID,
        roles: Iterable[str] = (),
        *,
        lifetime_seconds: float | None = None,
        session_id: str | None = None,
        tenant: str | None = None,
    ) -> str:
        """A signed access token for ``user_id`` in a new session (development tokens and tests).

        ``tenant`` is the organisation the user belongs to; ``ValueError`` when it is not one a token
        may carry (verification would refuse the token).
        """
        if tenant is not None and not is_tenant(tenant):
            raise ValueError(f"a tenant is {TENANT_RULE}")
        lifetime = timedelta(seconds=self._lifetime if lifetime_seconds is None else lifetime_seconds)
        principal = Principal(
            user_id=user_id,
            roles=frozenset(roles),
            expires_at=datetime.now(UTC) + lifetime,
            session_id=session_id or secrets.token_urlsafe(12),
            tenant=tenant,
        )
        return self._sign(principal, self._audience)

    def issue_stream_token(self, principal: Principal) -> str:
        """A token that opens the stream and nothing else, expiring with the caller's credential.

        Browsers keep it in an HttpOnly cookie; being valid only for the
        stream, a leaked cookie cannot call the rest of the API.
        """
        return self._sign(principal, self._stream_audience)

    def verify(self, token: str) -> Principal:
        """The principal of an access token; raise :class:`CredentialError` for anything doubtful."""
        return self._verify(token, self._audience)

    def verify_stream_token(self, token: str) -> Principal:
        """The principal of a stream token (see :meth:`issue_stream_token`)."""
        return self._verify(token, self._stream_audience)

    def _sign(self, principal: Principal, audience: str) -> str:
        claims: dict[str, object] = {
            "sub": str(principal.user_id),
            "roles": sorted(principal.roles),
            "iss": self._issuer,
            "aud": audience,
            "iat": datetime.now(UTC),
            "exp": principal.expires_at,
        }
        if principal.session_id is not None:
            claims["sid"] = principal.session_id
        if principal.tenant is not None:
            claims["tenant"] = principal.tenant  # a stream token keeps it: its stream is in the tenant's group
        if principal.not_before is not None:
            claims["nbf"] = principal.not_before  # so the stream cookie opens no stream before its token would
        return jwt.encode(claims, self._secret, algorithm=self.ALGORITHMS[0])

    def _verify(self, token: str, audience: str) -> Principal:
        claims = verified_claims(
            token,
            self._secret,
            algorithms=list(self.ALGORITHMS),
            issuer=self._issuer,
            audience=audience,
            leeway=self._leeway,
            required=["sub", "exp", "iss", "aud"],
        )
        return principal_from_claims(claims, tenant_path="tenant")
