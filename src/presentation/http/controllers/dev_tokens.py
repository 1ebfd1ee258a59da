"""``POST /api/v1/dev/tokens``: tokens for trying the service locally (never in production, nor with a provider)."""

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from application.ports import TokenIssuer
from application.principal import TENANT_RULE
from domain.sse.groups import GROUP_ID_PATTERN
from infrastructure.container import Container
from presentation.http.from_container import from_container

_ROLE_PATTERN = r"^[a-z][a-z0-9_-]*$"
Role = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=_ROLE_PATTERN)]
_ROLE_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": _ROLE_PATTERN}
Tenant = Annotated[
    str, msgspec.Meta(pattern=rf"^{GROUP_ID_PATTERN.pattern}\Z", description=f"the organisation: {TENANT_RULE}")
]


class TokenRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Who the token is for."""

    user_id: UUID
    roles: Annotated[
        list[Role],
        # Litestar's schema leaves out the constraints of a list's items: named here for the document.
        msgspec.Meta(max_length=16, extra_json_schema={"extra": {"items": _ROLE_SCHEMA}}),
    ] = []
    tenant: Tenant | None = None


class TokenResponse(msgspec.Struct):
    """An OAuth-style bearer token."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret


class DevTokensController(Controller):
    """Issues tokens for any user id; registered only outside production and without an identity provider."""

    path = "/api/v1/dev/tokens"
    tags = ["development"]
    dependencies = {"token_issuer": from_container(Container.token_service)}

    @post("/", status_code=200, summary="Issue a development token")
    async def issue(self, data: JSONBody[TokenRequest], token_issuer: NamedDependency[TokenIssuer]) -> TokenResponse:
        """Anyone can become anyone here: that is why production does not have this route."""
        return TokenResponse(access_token=token_issuer.issue(data.user_id, data.roles, tenant=data.tenant))
