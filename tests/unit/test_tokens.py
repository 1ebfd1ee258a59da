"""Bearer tokens: only our algorithm, issuer and audience, and never past expiry."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from application.principal import CredentialError
from infrastructure.auth import TokenService
from tests.support.tokens import forged

SECRET = "k" * 40


@pytest.fixture
def tokens() -> TokenService:
    return TokenService(SECRET, issuer="herald", audience="herald", leeway_seconds=0)


def test_a_token_round_trips(tokens: TokenService) -> None:
    user = uuid.uuid4()
    principal = tokens.verify(tokens.issue(user, ["admin"]))
    assert principal.user_id == user
    assert principal.has_role("admin")
    assert principal.expires_at > datetime.now(UTC)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        # Made when the test runs, not when it is collected: a long suite would see them all expire.
        (lambda: forged(SECRET, exp=datetime.now(UTC) - timedelta(seconds=5)), "expired"),
        (lambda: forged(SECRET, aud="someone-else"), "invalid"),
        (lambda: forged(SECRET, iss="someone-else"), "invalid"),
        (lambda: forged("z" * 40), "invalid"),
        (lambda: forged(SECRET, sub="not-a-uuid"), "subject"),
        (lambda: forged(SECRET, roles="admin"), "roles"),
        (lambda: forged("", "none"), "invalid"),
        (lambda: "garbage", "invalid"),
    ],
)
def test_doubtful_tokens_are_refused(tokens: TokenService, token: Callable[[], str], message: str) -> None:
    with pytest.raises(CredentialError, match=message):
        tokens.verify(token())


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the forger's short key for HS512
def test_a_token_signed_with_the_right_secret_but_another_algorithm_is_refused(tokens: TokenService) -> None:
    with pytest.raises(CredentialError, match="invalid"):
        tokens.verify(forged(SECRET, "HS512"))


def test_stream_tokens_only_open_streams(tokens: TokenService) -> None:
    access = tokens.issue(uuid.uuid4())
    stream = tokens.issue_stream_token(tokens.verify(access))
    assert tokens.verify_stream_token(stream).user_id == tokens.verify(access).user_id
    with pytest.raises(CredentialError):
        tokens.verify(stream)
    with pytest.raises(CredentialError):
        tokens.verify_stream_token(access)


def test_a_token_carries_its_users_tenant_and_a_token_without_one_has_none(tokens: TokenService) -> None:
    assert tokens.verify(tokens.issue(uuid.uuid4(), tenant="acme.eu-1")).tenant == "acme.eu-1"
    assert tokens.verify(tokens.issue(uuid.uuid4())).tenant is None


def test_a_stream_token_keeps_the_tenant_of_the_access_token_it_came_from(tokens: TokenService) -> None:
    access = tokens.verify(tokens.issue(uuid.uuid4(), tenant="acme"))
    assert tokens.verify_stream_token(tokens.issue_stream_token(access)).tenant == "acme"


@pytest.mark.parametrize("tenant", ["", "ac me", "acme/eu", "é", "x" * 65, 42, ["acme"], {"id": "acme"}, True])
def test_a_tenant_claim_that_cannot_name_a_group_is_refused(tokens: TokenService, tenant: object) -> None:
    with pytest.raises(CredentialError, match="tenant claim must be 1 to 64 characters of letters, digits"):
        tokens.verify(forged(SECRET, tenant=tenant))


def test_no_token_is_issued_with_a_tenant_verification_would_refuse(tokens: TokenService) -> None:
    with pytest.raises(ValueError, match="a tenant is 1 to 64 characters"):
        tokens.issue(uuid.uuid4(), tenant="acme\n")
