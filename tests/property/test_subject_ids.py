"""Every provider's subject becomes one user id of its own: stable, distinct, and a UUID kept as it is."""

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.principal import CredentialError
from infrastructure.auth.claims import user_id_of

subjects = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=255)
issuers = st.sampled_from(["https://tenant.auth0.com/", "https://id.example.com/realms/app", "https://other.example"])


@given(subjects, issuers)
def test_a_subject_always_maps_to_the_same_user(subject: str, issuer: str) -> None:
    assert user_id_of(subject, issuer) == user_id_of(subject, issuer)


@given(subjects, subjects, issuers)
def test_different_subjects_are_different_users(first: str, second: str, issuer: str) -> None:
    if first != second and not _is_uuid(first) and not _is_uuid(second):
        assert user_id_of(first, issuer) != user_id_of(second, issuer)


@given(subjects)
def test_the_same_subject_from_another_provider_is_another_user(subject: str) -> None:
    if not _is_uuid(subject):
        assert user_id_of(subject, "https://a.example") != user_id_of(subject, "https://b.example")


@given(st.uuids())
def test_a_uuid_subject_is_the_user_id_itself(user: uuid.UUID) -> None:
    assert user_id_of(str(user), "https://id.example.com") == user


@pytest.mark.parametrize("subject", ["", "with space", "tab\there", "x" * 256, "naïve", "line\nbreak"])
def test_a_subject_outside_the_safe_set_is_refused(subject: str) -> None:
    with pytest.raises(CredentialError):
        user_id_of(subject, "https://id.example.com")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
