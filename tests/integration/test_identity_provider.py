"""Access tokens from a real OpenID Connect key server on loopback: algorithms, claims, rotation, outages."""

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from application.principal import CredentialError, CredentialsUnavailableError
from infrastructure.auth.claims import principal_from_claims, user_id_of
from infrastructure.auth.credentials import AccessCredentials
from infrastructure.container import Container, resolve, start, stop
from infrastructure.settings import Settings, SettingsError
from tests.conftest import fast_settings
from tests.support.key_server import KeyServer, key_server
from tests.support.server import serve
from tests.support.streams import StreamReader, finished_report


@pytest.fixture
def provider() -> Iterator[KeyServer]:
    with key_server() as server:
        for algorithm in ("RS256", "ES256", "EdDSA"):
            server.publish(algorithm)
        yield server


def container_for(provider: KeyServer, **overrides: Any) -> Container:
    container = Container()
    container.settings.override(fast_settings(oidc_issuer=provider.issuer, **overrides))
    return container


@pytest.fixture
async def credentials(provider: KeyServer) -> AsyncIterator[AccessCredentials]:
    container = container_for(provider)
    await start(container)
    try:
        yield await resolve(container.credentials)
    finally:
        await stop(container)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    return head + "." + _b64(signature)


async def test_tokens_signed_with_each_allowed_algorithm_are_accepted(
    provider: KeyServer, credentials: AccessCredentials
) -> None:
    for key in provider.keys:
        user = uuid.uuid4()
        principal = await credentials.verify(provider.token(key, sub=str(user), roles=["admin"], sid="s-1"))
        assert principal.user_id == user, key.algorithm
        assert principal.roles == frozenset({"admin"})
        assert principal.session_id == "s-1"


def doubtful_tokens(provider: KeyServer) -> dict[str, str]:
    """Tokens that must all be refused, by what is wrong with them."""
    rsa_key = provider.keys[0]
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": "herald", "sub": str(uuid.uuid4()), "exp": now + 600}
    public_pem = (
        rsa_key.private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    confused_head = unsigned({"alg": "HS256", "kid": rsa_key.kid, "typ": "JWT"}, claims).rsplit(".", 1)[0]
    confusion = hmac.new(public_pem.encode(), confused_head.encode(), hashlib.sha256).digest()
    head, _, signature = provider.token(rsa_key).split(".")
    tampered_body = _b64(json.dumps({**claims, "roles": ["admin"]}).encode())
    return {
        "alg none": unsigned({"alg": "none", "kid": rsa_key.kid}, claims),
        "HS256 keyed with the public key": confused_head + "." + _b64(confusion),
        "another issuer": provider.token(rsa_key, iss="https://elsewhere.example"),
        "another audience": provider.token(rsa_key, audience="someone-else"),
        "expired": provider.token(rsa_key, exp=now - 3600),
        "not yet valid": provider.token(rsa_key, nbf=now + 3600),
        "unknown kid": unsigned({"alg": "RS256", "kid": "nobody"}, claims, b"x" * 256),
        "tampered payload": f"{head}.{tampered_body}.{signature}",
        "not a JWT": "not-a-jwt",
    }


async def test_doubtful_tokens_are_refused(provider: KeyServer, credentials: AccessCredentials) -> None:
    accepted = []
    for name, token in doubtful_tokens(provider).items():
        try:
            await credentials.verify(token)
        except CredentialError:
            continue
        accepted.append(name)
    assert not accepted


async def test_a_rotated_key_is_taken_without_restart_and_the_withdrawn_one_refused(provider: KeyServer) -> None:
    container = container_for(provider, jwks_refresh_seconds=0)
    await start(container)
    try:
        credentials = await resolve(container.credentials)
        old = provider.keys[0]
        old_token = provider.token(old)
        await credentials.verify(old_token)
        new = provider.publish("RS256")
        provider.keys.remove(old)
        await credentials.verify(provider.token(new))  # an unknown kid: the key set is read again
        with pytest.raises(CredentialError):
            await credentials.verify(old_token)
    finally:
        await stop(container)


async def test_a_flood_of_unknown_kids_reads_the_key_set_at_most_once_per_interval(
    provider: KeyServer, credentials: AccessCredentials
) -> None:
    await credentials.verify(provider.token(provider.keys[0]))
    before = provider.jwks_fetches
    claims = {"iss": provider.issuer, "aud": "herald", "sub": str(uuid.uuid4()), "exp": int(time.time()) + 600}
    for _ in range(1000):
        with pytest.raises(CredentialError):
            await credentials.verify(unsigned({"alg": "RS256", "kid": uuid.uuid4().hex}, claims, b"x" * 256))
    assert provider.jwks_fetches - before <= 1


async def test_while_the_provider_is_down_held_keys_verify_and_unknown_ones_are_unavailable(
    provider: KeyServer,
) -> None:
    # Keys always due for a read, and no pause between reads: each verification asks the provider.
    container = container_for(provider, jwks_refresh_seconds=0, jwks_cache_seconds=0)
    await start(container)
    try:
        credentials = await resolve(container.credentials)
        known = provider.keys[0]
        await credentials.verify(provider.token(known))
        provider.down = True
        await credentials.verify(provider.token(known))
        later = provider.publish("ES256")
        with pytest.raises(CredentialsUnavailableError):
            await credentials.verify(provider.token(later))
        verifier = await resolve(container.identity_provider)
        assert verifier is not None
        assert verifier.keys.state["last_error"] == "HTTPStatusError"
        provider.down = False
        await credentials.verify(provider.token(later))
    finally:
        await stop(container)


@pytest.mark.parametrize(
    ("provider_name", "claims", "user_claim", "roles_path"),
    [
        ("Keycloak", {"realm_access": {"roles": ["admin", "offline_access"]}}, "sub", "realm_access.roles"),
        (
            "Keycloak client roles",
            {"resource_access": {"herald": {"roles": ["admin"]}}},
            "sub",
            "resource_access.herald.roles",
        ),
        ("Auth0", {"permissions": ["admin", "read:reports"]}, "sub", "permissions"),
        ("Cognito", {"cognito:groups": ["admin"]}, "sub", "cognito:groups"),
        ("Entra ID", {"roles": ["admin"], "oid": "USER"}, "oid", "roles"),
    ],
)
def test_each_providers_claim_shape_maps_to_the_user_and_roles(
    provider_name: str, claims: dict[str, Any], user_claim: str, roles_path: str
) -> None:
    user = uuid.uuid4()
    claims = {**claims, "exp": int(time.time()) + 60}
    claims[user_claim] = str(user)
    principal = principal_from_claims(claims, user_claim=user_claim, roles_path=roles_path)
    assert principal.user_id == user, provider_name
    assert "admin" in principal.roles, provider_name


async def test_through_http_a_provider_token_opens_routes_and_a_missing_key_is_a_503(provider: KeyServer) -> None:
    container = container_for(provider, jwks_refresh_seconds=0)
    key = provider.keys[1]
    async with serve(container) as herald, httpx.AsyncClient(base_url=herald.base_url, timeout=10) as client:
        good = {"Authorization": f"Bearer {provider.token(key)}"}
        assert (await client.post("/api/v1/events/tickets", headers=good)).status_code == 201
        for name, token in doubtful_tokens(provider).items():
            refused = await client.post("/api/v1/events/tickets", headers={"Authorization": f"Bearer {token}"})
            assert refused.status_code == 401, name
            assert refused.headers["content-type"].startswith("application/problem+json"), name
        health = (await client.get("/health")).json()
        assert health["identity_provider_keys"]["keys"] == 3
        provider.down = True
        newer = provider.publish("EdDSA")
        unavailable = await client.post(
            "/api/v1/events/tickets", headers={"Authorization": f"Bearer {provider.token(newer)}"}
        )
        assert unavailable.status_code == 503
        assert unavailable.headers["retry-after"] == "5"
        assert (await client.get("/health")).json()["identity_provider_keys"]["last_error"] == "HTTPStatusError"


@pytest.mark.parametrize("algorithms", ["RS256,HS256", "none", "HS512", ""])
def test_the_algorithm_allow_list_takes_asymmetric_algorithms_only(algorithms: str) -> None:
    environ = {"HERALD_OIDC_ISSUER": "https://id.example.com", "HERALD_OIDC_ALGORITHMS": algorithms or " , "}
    with pytest.raises(SettingsError, match="HERALD_OIDC_ALGORITHMS"):
        Settings.from_env(environ)


async def test_a_subject_that_is_not_a_uuid_gets_its_own_events_and_nobody_elses(provider: KeyServer) -> None:
    container = container_for(provider)
    key = provider.keys[0]
    alice = {"Authorization": f"Bearer {provider.token(key, sub='auth0|64f1c0ffee', roles=[])}"}
    bob = {"Authorization": f"Bearer {provider.token(key, sub='google-oauth2|1234567890')}"}
    async with (
        serve(container) as herald,
        httpx.AsyncClient(base_url=herald.base_url, timeout=10) as client,
        StreamReader(client, "/api/v1/events", headers=bob) as bobs,
    ):
        await finished_report(client, alice, title="alice's")  # alice's own stream sees it through
        await finished_report(client, bob, title="bob's")
        await bobs.wait_until(lambda events: any(e.event == "report.completed" for e in events))
        owners = {json.loads(e.data)["owner_id"] for e in bobs.events if e.event.startswith("report.")}
    assert owners == {str(user_id_of("google-oauth2|1234567890", provider.issuer))}


async def wall_time_when(event: asyncio.Event) -> float:
    await event.wait()
    return time.time()


def test_the_providers_admin_role_grants_heralds_admin_and_its_own_admin_nothing() -> None:
    claims = {"sub": str(uuid.uuid4()), "exp": int(time.time()) + 60, "iss": "https://id.example.com"}
    named = principal_from_claims({**claims, "roles": ["herald-admin"]}, admin_role="herald-admin")
    assert named.has_role("admin")
    generic = principal_from_claims({**claims, "roles": ["admin"]}, admin_role="herald-admin")
    assert not generic.has_role("admin")


async def test_a_stream_outlives_its_withdrawn_key_until_expiry_and_its_session_can_be_revoked(
    provider: KeyServer,
) -> None:
    container = container_for(provider, jwks_refresh_seconds=0, jwks_cache_seconds=0)  # every check reads the keys
    key = provider.keys[0]
    session = provider.token(provider.keys[1], sid="provider-session-1")
    async with serve(container) as herald, httpx.AsyncClient(base_url=herald.base_url, timeout=10) as client:
        expiry = int(time.time()) + 5  # long enough to open both streams and revoke one on a busy machine
        short = provider.token(key, exp=expiry)
        async with (
            StreamReader(client, "/api/v1/events", headers={"Authorization": f"Bearer {short}"}) as expiring,
            StreamReader(client, "/api/v1/events", headers={"Authorization": f"Bearer {session}"}) as revocable,
        ):
            ended_at = asyncio.create_task(wall_time_when(expiring.ended))
            provider.keys.remove(key)
            provider.publish("RS256")  # rotation: the stream's key is gone from the JWKS
            revoked = await client.delete(
                "/api/v1/sessions/provider-session-1", headers={"Authorization": f"Bearer {session}"}
            )
            assert revoked.status_code == 204
            await revocable.wait_until(lambda events: any(e.event == "stream.end" for e in events))
            await expiring.wait_until(lambda events: any(e.event == "stream.end" for e in events), timeout=15)
            # Open on a key the provider no longer publishes until the token's own expiry, not a moment less.
            assert await ended_at >= expiry
            ends = [
                json.loads(e.data)["reason"] for r in (revocable, expiring) for e in r.events if e.event == "stream.end"
            ]
            assert ends == ["session_revoked", "credential_expired"]
        with pytest.raises(CredentialError):
            await (await resolve(container.credentials)).verify(provider.token(key))
