"""Claims found by name or by path, and the tenant a token names."""

import time
import uuid
from typing import Any

import pytest

from application.principal import CredentialError, Principal
from infrastructure.auth.claims import claim_at, principal_from_claims
from infrastructure.sse.wire_format import WireFormat


@pytest.mark.parametrize(
    ("claims", "path", "found"),
    [
        ({"org_id": "acme"}, "org_id", "acme"),
        ({"organization": {"id": "acme", "name": "Acme"}}, "organization.id", "acme"),
        ({"https://example.com/tenant": "acme"}, "https://example.com/tenant", "acme"),
        ({"example.com.tenant": "acme"}, "example.com.tenant", "acme"),  # a dotted name is taken whole first
        ({"a.b": "whole", "a": {"b": "nested"}}, "a.b", "whole"),
        ({"a": {"b": "nested"}}, "a.b", "nested"),
        ({}, "org_id", None),
        ({"organization": "acme"}, "organization.id", None),  # no object to walk into
        ({"organization": {"name": "Acme"}}, "organization.id", None),
    ],
)
def test_a_claim_is_found_by_its_whole_name_else_by_walking_its_dotted_path(
    claims: dict[str, Any], path: str, found: object
) -> None:
    assert claim_at(claims, path) == found


def claims_of(**extra: Any) -> dict[str, Any]:
    return {"sub": str(uuid.uuid4()), "exp": int(time.time()) + 60, **extra}


def test_the_tenant_is_read_where_the_path_says_and_absent_means_none() -> None:
    nested = claims_of(organization={"id": "acme"})
    assert principal_from_claims(nested, tenant_path="organization.id").tenant == "acme"
    assert principal_from_claims(claims_of(tenant="acme"), tenant_path="tenant").tenant == "acme"
    assert principal_from_claims(claims_of(), tenant_path="tenant").tenant is None
    assert principal_from_claims(claims_of(tenant=None), tenant_path="tenant").tenant is None
    assert principal_from_claims(claims_of(tenant="acme")).tenant is None  # no tenant path: the tokens name none


@pytest.mark.parametrize("value", ["", "a b", "x" * 65, 7, ["acme"], {"id": "acme"}])
def test_a_tenant_that_cannot_name_a_group_is_a_credential_error(value: object) -> None:
    claims = claims_of(organization={"id": value})
    with pytest.raises(CredentialError, match="the token's tenant claim must be 1 to 64 characters"):
        principal_from_claims(claims, tenant_path="organization.id")


def test_a_tickets_principal_keeps_its_tenant_through_the_wire_format() -> None:
    wire_format = WireFormat()
    principal = principal_from_claims(claims_of(tenant="acme", sid="s-1", roles=["admin"]), tenant_path="tenant")
    assert wire_format.loads(wire_format.dumps(principal), Principal) == principal
    stored_before_tenants = b'{"user_id":"%s","roles":[],"expires_at":"2030-01-01T00:00:00+00:00"}' % (
        str(principal.user_id).encode()
    )
    assert wire_format.loads(stored_before_tenants, Principal).tenant is None
