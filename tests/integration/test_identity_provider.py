"""Access tokens from a real OpenID Connect key server on loopback: algorithms, claims, rotation, outages."""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from application.principal import CredentialError, CredentialsUnavailableError
from infrastructure.auth.claims import principal_from_claims, user_id_of
from infrastructure.auth.credentials import AccessCredentials
from infrastructure.auth.provider_keys import ProviderKeys
from infrastructure.container import Container, resolve, start, stop
from infrastructure.settings import Settings, SettingsError
from tests.conftest import TEST_SECRET, fast_settings
from tests.integration.helpers import eventually
from tests.support.key_server import Document, KeyServer, key_server
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
    claims = {"iss": provider.issuer, "aud": "herald", "sub": str(uuid.uuid4()), "iat": now - 3600, "exp": now + 600}
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


async def accepts(credentials: AccessCredentials, token: str) -> bool:
    """Whether ``token`` verifies now; False while its key cannot be looked up yet (a 503)."""
    try:
        await credentials.verify(token)
    except CredentialsUnavailableError:
        return False
    return True


async def test_a_rotated_key_is_taken_without_restart_and_the_withdrawn_one_refused(provider: KeyServer) -> None:
    container = container_for(provider, jwks_refresh_seconds=1)
    await start(container)
    try:
        credentials = await resolve(container.credentials)
        old = provider.keys[0]
        old_token = provider.token(old, iat=int(time.time()) - 60)
        await credentials.verify(old_token)
        new = provider.publish("RS256")
        provider.keys.remove(old)
        await eventually(lambda: accepts(credentials, provider.token(new)))  # an unknown kid: read again
        with pytest.raises(CredentialError):
            await credentials.verify(old_token)
    finally:
        await stop(container)


async def test_a_flood_of_unknown_kids_reads_the_key_set_at_most_once_per_interval(
    provider: KeyServer, credentials: AccessCredentials
) -> None:
    await credentials.verify(provider.token(provider.keys[0]))
    before = provider.jwks_fetches
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": "herald", "sub": str(uuid.uuid4()), "exp": now + 600}
    for _ in range(500):  # issued before the key set was read: the kid does not exist
        made_up = {"alg": "RS256", "kid": uuid.uuid4().hex}
        with pytest.raises(CredentialError):
            await credentials.verify(unsigned(made_up, {**claims, "iat": now - 3600}, b"x" * 256))
    for _ in range(500):  # issued at an unknown time: the kid may be new, and the next read is not due
        with pytest.raises(CredentialsUnavailableError):
            await credentials.verify(unsigned({"alg": "RS256", "kid": uuid.uuid4().hex}, claims, b"x" * 256))
    assert provider.jwks_fetches - before <= 1


async def test_while_the_provider_is_down_held_keys_verify_and_unknown_ones_are_unavailable(
    provider: KeyServer,
) -> None:
    # Keys always due for a read, and the shortest pause between reads the settings allow.
    container = container_for(provider, jwks_refresh_seconds=1, jwks_cache_seconds=0)
    await start(container)
    try:
        credentials = await resolve(container.credentials)
        verifier = await resolve(container.identity_provider)
        assert verifier is not None
        known = provider.keys[0]
        await credentials.verify(provider.token(known))
        provider.down = True

        async def read_failed() -> bool:
            await credentials.verify(provider.token(known))
            return verifier.keys.state["last_error"] == "HTTPStatusError"

        await eventually(read_failed)
        later = provider.publish("ES256")
        with pytest.raises(CredentialsUnavailableError):
            await credentials.verify(provider.token(later))
        provider.down = False
        await eventually(lambda: accepts(credentials, provider.token(later)))
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
    container = container_for(provider, jwks_refresh_seconds=REFRESH)
    key = provider.keys[1]
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
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

        async def read_failed() -> bool:
            assert_try_again(await client.post("/api/v1/events/tickets", headers=bearer(provider.token(newer))))
            return (await client.get("/health")).json()["identity_provider_keys"]["last_error"] == "HTTPStatusError"

        await eventually(read_failed, timeout=REFRESH + 10, step=0.2)


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
        serve(container) as service,
        httpx.AsyncClient(base_url=service.base_url, timeout=10) as client,
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
    container = container_for(provider, jwks_refresh_seconds=1, jwks_cache_seconds=0)  # keys read when allowed
    key = provider.keys[0]
    session = provider.token(provider.keys[1], sid="provider-session-1")
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
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


# --- A provider's documents of the wrong shape, rotation within the read interval, cleartext in production ---

#: The unknown-kid throttle of the tests below: long enough that a request a moment after a read is inside it.
REFRESH = 3.0

#: Key sets Herald cannot use, served where the JWKS belongs.
WRONG_KEY_SETS: dict[str, Document] = {
    "a list": [],
    "null": b"null",
    "a string": "keys",
    "a number": 42,
    "an object without keys": {},
    "keys null": {"keys": None},
    "keys a string": {"keys": "RS256"},
    "keys an object": {"keys": {}},
    "a key that is a number": {"keys": [1]},
    "a key that is a string": {"keys": ["RS256"]},
    "a key that is a list": {"keys": [[]]},
    "not JSON": b"<html>down for maintenance</html>",
    "not UTF-8": b"\xff\xfe{",
    "empty": b"",
    "nested too deeply": b"[" * 100_000,
    "too large": b'{"keys": [' + b'{"kty": "oct", "kid": "padding"},' * 40_000 + b"{}]}",
    "no usable key": {
        "keys": [
            {"kty": "RSA", "kid": "missing-members"},
            {"kty": "RSA", "kid": "alg-a-list", "alg": ["RS256"], "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "symmetric"},
            {"kty": "RSA", "kid": 7},
        ]
    },
}


def wrong_discovery(issuer: str) -> dict[str, Document]:
    """Discovery documents Herald cannot use."""
    return {
        "a list": [],
        "null": b"null",
        "not JSON": b"{issuer",
        "issuer a list": {"issuer": [issuer], "jwks_uri": f"{issuer}/jwks"},
        "another issuer": {"issuer": "https://elsewhere.example", "jwks_uri": f"{issuer}/jwks"},
        "no jwks_uri": {"issuer": issuer},
        "jwks_uri null": {"issuer": issuer, "jwks_uri": None},
        "jwks_uri a number": {"issuer": issuer, "jwks_uri": 5},
        "jwks_uri not a URL": {"issuer": issuer, "jwks_uri": "http://[::1"},
        "jwks_uri relative": {"issuer": issuer, "jwks_uri": "/jwks"},
        "jwks_uri of another scheme": {"issuer": issuer, "jwks_uri": "file:///etc/passwd"},
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_try_again(response: httpx.Response) -> None:
    """503 problem+json, with a ``Retry-After`` no later than the next read Herald may make."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(response.headers["retry-after"]) <= REFRESH


#: Every shape of each document, read by the key store from the key server.
WRONG_DOCUMENTS = [
    *(("jwks", shape) for shape in WRONG_KEY_SETS),
    *(("discovery", shape) for shape in wrong_discovery("")),
]


def serve_wrong(provider: KeyServer, document: str, shape: str) -> None:
    if document == "jwks":
        provider.jwks = WRONG_KEY_SETS[shape]
    else:
        provider.discovery = wrong_discovery(provider.issuer)[shape]


@pytest.mark.parametrize(("document", "shape"), WRONG_DOCUMENTS)
async def test_a_provider_document_of_any_wrong_shape_is_a_failed_read_that_says_why(
    provider: KeyServer, document: str, shape: str
) -> None:
    serve_wrong(provider, document, shape)
    async with httpx.AsyncClient(timeout=10) as client:
        keys = ProviderKeys(
            client,
            issuer=provider.issuer,
            jwks_url=None,
            algorithms=frozenset({"RS256", "ES256", "EdDSA"}),
            cache_seconds=300,
            refresh_seconds=REFRESH,
        )
        with pytest.raises(CredentialsUnavailableError) as refused:
            await keys.key(provider.keys[0].kid, issued_at=time.time)
    assert 1 <= refused.value.retry_after_seconds <= REFRESH
    assert keys.state["keys"] == 0
    assert keys.state["last_error"], keys.state
    if shape in ("too large", "nested too deeply"):  # refused as such, before it is taken apart
        assert shape.rsplit(maxsplit=1)[-1] in keys.state["last_error"], keys.state


#: Through HTTP (the 503, /health, no error logged): two shapes of each document stand for the rest.
@pytest.mark.parametrize(
    ("document", "shape"),
    [("jwks", "a list"), ("jwks", "no usable key"), ("discovery", "null"), ("discovery", "no jwks_uri")],
)
async def test_a_provider_document_of_the_wrong_shape_is_a_recorded_provider_error_and_a_503(
    provider: KeyServer, document: str, shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    serve_wrong(provider, document, shape)
    container = container_for(provider, jwks_refresh_seconds=REFRESH)
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        for _ in range(2):  # the read that fails, then the same answer while no new read is allowed
            assert_try_again(
                await client.post("/api/v1/events/tickets", headers=bearer(provider.token(provider.keys[0])))
            )
        keys = (await client.get("/health")).json()["identity_provider_keys"]
    assert keys["keys"] == 0
    assert keys["last_error"], keys
    assert not [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize("shape", ["a list", "no usable key"])
async def test_a_key_set_turning_to_the_wrong_shape_keeps_the_keys_held_and_says_why(
    provider: KeyServer, shape: str
) -> None:
    container = container_for(provider, jwks_refresh_seconds=1, jwks_cache_seconds=0)
    held = bearer(provider.token(provider.keys[0]))
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        assert (await client.post("/api/v1/events/tickets", headers=held)).status_code == 201
        provider.jwks = WRONG_KEY_SETS[shape]

        async def error_shown() -> bool:
            answer = await client.post("/api/v1/events/tickets", headers=held)
            assert answer.status_code == 201, answer.text  # the keys held still verify
            return (await client.get("/health")).json()["identity_provider_keys"]["last_error"] is not None

        await eventually(error_shown)
        newer = provider.publish("ES256")
        assert_try_again(await client.post("/api/v1/events/tickets", headers=bearer(provider.token(newer))))
        provider.jwks = None
        await eventually(
            lambda: _status(client, provider.token(newer), 201),
        )
        assert (await client.get("/health")).json()["identity_provider_keys"]["last_error"] is None


@contextlib.asynccontextmanager
async def just_after_a_read(provider: KeyServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of Herald that has just read the key set (for a token of a key it holds) and may not again
    for ``REFRESH`` seconds."""
    container = container_for(provider, jwks_refresh_seconds=REFRESH)
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        held = bearer(provider.token(provider.keys[0]))
        assert (await client.post("/api/v1/events/tickets", headers=held)).status_code == 201
        yield client


async def _status(client: httpx.AsyncClient, token: str, expected: int) -> bool:
    answer = await client.post("/api/v1/events/tickets", headers=bearer(token))
    return answer.status_code == expected


async def test_a_key_published_just_after_a_read_is_try_again_until_the_next_read_never_invalid(
    provider: KeyServer,
) -> None:
    async with just_after_a_read(provider) as client:
        rotated = provider.publish("RS256")
        token = provider.token(rotated)
        answers: list[httpx.Response] = []

        async def accepted() -> bool:
            answers.append(await client.post("/api/v1/events/tickets", headers=bearer(token)))
            return answers[-1].status_code == 201

        await eventually(accepted, timeout=REFRESH + 10, step=0.2)
    assert len(answers) > 1  # the first came within the interval
    for answer in answers[:-1]:
        assert_try_again(answer)
    assert provider.jwks_fetches == 2


async def test_while_the_provider_is_down_a_key_not_held_is_try_again_even_just_after_a_read(
    provider: KeyServer,
) -> None:
    async with just_after_a_read(provider) as client:
        provider.down = True
        token = provider.token(provider.publish("ES256"))
        assert_try_again(await client.post("/api/v1/events/tickets", headers=bearer(token)))

        async def read_failed() -> bool:
            assert_try_again(await client.post("/api/v1/events/tickets", headers=bearer(token)))
            return (await client.get("/health")).json()["identity_provider_keys"]["last_error"] == "HTTPStatusError"

        await eventually(read_failed, timeout=REFRESH + 10, step=0.2)
        provider.down = False
        await eventually(lambda: _status(client, token, 201), timeout=REFRESH + 10, step=0.2)


async def test_a_kid_missing_from_a_read_made_after_the_token_was_issued_is_refused_at_once(
    provider: KeyServer,
) -> None:
    container = container_for(provider, jwks_refresh_seconds=600)  # no second read during the test
    withdrawn = provider.keys.pop(0)
    issued_earlier = int(time.time()) - 60
    claims = {"iss": provider.issuer, "aud": "herald", "sub": str(uuid.uuid4()), "exp": int(time.time()) + 600}
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        assert await _status(client, provider.token(provider.keys[0]), 201)  # the read
        assert await _status(client, provider.token(withdrawn, iat=issued_earlier), 401)
        made_up = {"alg": "RS256", "kid": "made-up"}
        assert await _status(client, unsigned(made_up, {**claims, "iat": issued_earlier}, b"x" * 256), 401)
        # Issued after the read (or at an unknown time): the key may be new, and Herald may not ask yet.
        later = await client.post("/api/v1/events/tickets", headers=bearer(unsigned(made_up, claims, b"x" * 256)))
        assert later.status_code == 503
        assert 1 <= int(later.headers["retry-after"]) <= 600
        assert provider.jwks_fetches == 1


@pytest.mark.spawns
@pytest.mark.parametrize("variable", ["HERALD_OIDC_ISSUER", "HERALD_JWKS_URL"])
def test_production_refuses_to_start_with_a_cleartext_identity_provider(
    provider: KeyServer, variable: str, tmp_path: Path
) -> None:
    url = provider.issuer if variable == "HERALD_OIDC_ISSUER" else f"{provider.issuer}/jwks"
    environ = {"HERALD_ENV": "production", "HERALD_JWT_SECRET": TEST_SECRET, variable: url, "HERALD_PORT": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "presentation", "run"],
        env={"PATH": "/usr/bin:/bin", **environ},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert f"{variable} must be an https:// URL" in result.stdout + result.stderr
    with pytest.raises(SettingsError, match=f"{variable} must be an https:// URL"):
        Settings.from_env(environ)
    assert Settings.from_env({**environ, "HERALD_ENV": "development"}).env == "development"
    assert Settings.from_env({**environ, variable: url.replace("http://", "https://")}).is_production


async def test_in_production_a_discovered_key_set_over_plain_http_is_refused(provider: KeyServer) -> None:
    # The settings refuse this cleartext issuer in production (above); built directly here, the loopback
    # key server stands for a provider whose discovery document names a key set at an http:// URL.
    container = container_for(provider, env="production", jwks_refresh_seconds=REFRESH)
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        assert_try_again(await client.post("/api/v1/events/tickets", headers=bearer(provider.token(provider.keys[0]))))
        last_error = (await client.get("/health")).json()["identity_provider_keys"]["last_error"]
    assert "https" in last_error
    assert provider.jwks_fetches == 0


@pytest.mark.parametrize("value", ["0", "-1", "0.5", "nan", "NaN", "inf", "-inf"])
def test_the_unknown_kid_throttle_cannot_be_turned_off(value: str) -> None:
    with pytest.raises(SettingsError, match="HERALD_JWKS_REFRESH_SECONDS"):
        Settings.from_env({"HERALD_OIDC_ISSUER": "https://id.example.com", "HERALD_JWKS_REFRESH_SECONDS": value})


async def stream_status(client: httpx.AsyncClient, **request: Any) -> int:
    """The status of a stream open, without reading the stream."""
    async with client.stream("GET", "/api/v1/events", **request) as response:
        return response.status_code


async def test_a_token_not_yet_valid_calls_the_api_within_the_leeway_but_opens_no_stream(provider: KeyServer) -> None:
    container = container_for(provider, jwt_leeway_seconds=120)
    early = bearer(provider.token(provider.keys[0], nbf=int(time.time()) + 60))
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        issued = await client.post("/api/v1/events/tickets", headers=early)
        assert issued.status_code == 201  # API calls: the leeway allows for clock skew
        assert (await client.post("/api/v1/events/cookie", headers=early)).status_code == 204
        cookie = client.cookies.get("herald_stream")
        client.cookies.clear()
        by_bearer = await stream_status(client, headers=early)
        by_ticket = await stream_status(client, params={"ticket": issued.json()["ticket"]})
        by_cookie = await stream_status(client, cookies={"herald_stream": cookie or ""})
    assert [by_bearer, by_ticket, by_cookie] == [401, 401, 401]


async def test_with_an_identity_provider_the_development_token_route_is_not_served(provider: KeyServer) -> None:
    container = container_for(provider)  # development
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        minted = await client.post("/api/v1/dev/tokens", json={"user_id": str(uuid.uuid4())})
    assert minted.status_code == 404


@pytest.mark.parametrize(
    ("tenant_claim", "claims"),
    [
        ("https://example.com/tenant", {"https://example.com/tenant": "acme", "https://example": {"com/tenant": "x"}}),
        ("organization.id", {"organization": {"id": "acme", "name": "Acme Ltd"}}),
    ],
    ids=["namespaced name", "nested path"],
)
async def test_the_tenant_claim_is_found_by_a_namespaced_name_or_a_nested_path(
    provider: KeyServer, tenant_claim: str, claims: dict[str, Any]
) -> None:
    container = container_for(provider, oidc_tenant_claim=tenant_claim)
    await start(container)
    try:
        credentials = await resolve(container.credentials)
        for key in provider.keys:
            assert (await credentials.verify(provider.token(key, **claims))).tenant == "acme", key.algorithm
        assert (await credentials.verify(provider.token(provider.keys[0]))).tenant is None  # no such claim
    finally:
        await stop(container)


async def test_without_a_tenant_claim_setting_provider_tokens_carry_no_tenant(
    provider: KeyServer, credentials: AccessCredentials
) -> None:
    assert (await credentials.verify(provider.token(provider.keys[0], tenant="acme"))).tenant is None


async def test_a_provider_tenant_that_cannot_name_a_group_is_a_401_and_a_good_one_reaches_the_ticket(
    provider: KeyServer,
) -> None:
    container = container_for(provider, oidc_tenant_claim="organization.id")
    key = provider.keys[0]
    async with serve(container) as service, httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        for value in ["ac me", "x" * 65, 42, ["acme"]]:
            token = provider.token(key, organization={"id": value})
            refused = await client.post("/api/v1/events/tickets", headers=bearer(token))
            assert refused.status_code == 401, value
            assert refused.json()["detail"] == (
                "the token's tenant claim must be 1 to 64 characters of letters, digits, '_', '.' and '-'"
            )
        issued = await client.post(
            "/api/v1/events/tickets", headers=bearer(provider.token(key, organization={"id": "acme"}))
        )
        assert issued.status_code == 201
        held = await (await resolve(service.container.ticket_store)).peek(issued.json()["ticket"])
    assert held is not None
    assert held.tenant == "acme"
