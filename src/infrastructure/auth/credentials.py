"""The ``Credentials`` port: whose access tokens the service accepts, and its own stream tokens."""

from application.principal import Principal
from infrastructure.auth.oidc import OidcTokenVerifier
from infrastructure.auth.tokens import TokenService


class AccessCredentials:
    """Access tokens from the identity provider when one is configured, else Herald's own (HS256).

    Stream tokens (the browser's stream cookie) are always Herald's own: it
    mints them itself from a verified access token.
    """

    def __init__(self, own: TokenService, provider: OidcTokenVerifier | None = None) -> None:
        self._own = own
        self._provider = provider

    async def verify(self, token: str) -> Principal:
        if self._provider is not None:
            return await self._provider.verify(token)
        return self._own.verify(token)

    def verify_stream_token(self, token: str) -> Principal:
        return self._own.verify_stream_token(token)

    def issue_stream_token(self, principal: Principal) -> str:
        return self._own.issue_stream_token(principal)
