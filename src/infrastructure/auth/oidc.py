"""Access tokens from an OpenID Connect provider, verified with its published keys."""

import math

import jwt

from application.principal import CredentialError, Principal
from infrastructure.auth.claims import principal_from_claims, verified_claims
from infrastructure.auth.provider_keys import ProviderKeys

#: Algorithms a provider's key set may ever enable: asymmetric only, so a public key can never serve as an
#: HMAC secret (algorithm confusion) and ``none`` is impossible.
ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})


class OidcTokenVerifier:
    """Verifies a provider's access tokens: allowed algorithm, known key, issuer, audience, expiry."""

    def __init__(
        self,
        keys: ProviderKeys,
        *,
        issuer: str,
        audiences: tuple[str, ...],
        algorithms: frozenset[str],
        leeway_seconds: float,
        user_claim: str,
        roles_claim: str,
        admin_role: str,
        tenant_claim: str | None,
    ) -> None:
        if not algorithms or not algorithms <= ASYMMETRIC:
            raise ValueError(f"provider tokens must use asymmetric algorithms ({', '.join(sorted(ASYMMETRIC))})")
        self._keys = keys
        self._issuer = issuer
        self._audiences = list(audiences)
        self._algorithms = algorithms
        self._leeway = leeway_seconds
        self._user_claim = user_claim
        self._roles_claim = roles_claim
        self._admin_role = admin_role
        self._tenant_claim = tenant_claim

    @property
    def keys(self) -> ProviderKeys:
        return self._keys

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise CredentialError("the token is invalid") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in self._algorithms or not isinstance(kid, str) or not 0 < len(kid) <= 256:
            raise CredentialError("the token is invalid")
        key = await self._keys.key(kid, issued_at=lambda: _issued_at(token))
        if key.algorithm_name != algorithm:
            raise CredentialError("the token is invalid")
        claims = verified_claims(
            token,
            key.key,
            algorithms=[algorithm],
            issuer=self._issuer,
            audience=self._audiences,
            leeway=self._leeway,
            required=["exp", "iss", "aud", self._user_claim],
        )
        return principal_from_claims(
            claims,
            user_claim=self._user_claim,
            roles_path=self._roles_claim,
            tenant_path=self._tenant_claim,
            any_subject=True,
            admin_role=self._admin_role,
        )


def _issued_at(token: str) -> float | None:
    """The token's ``iat`` before its signature is checked: only to judge whether a key set read is recent
    enough to call its key unknown (a false one earns at most a "retry later"); None if it has none."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise CredentialError("the token is invalid") from None
    issued_at = claims.get("iat")
    if isinstance(issued_at, bool) or not isinstance(issued_at, int | float):
        return None
    try:
        seconds = float(issued_at)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) else None
