"""The secret deny-list: case and separators ignored, names found inside keys, short names only as words."""

import pytest

from herald_contracts import DEFAULT_SECRET_NAMES, secret_match


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("password", "password"),
        ("newPasswordHash", "password"),
        ("PASSWD", "passwd"),
        ("client_secret", "secret"),
        ("access-token", "token"),
        ("x-api-key", "api_key"),
        ("ApiKey", "api_key"),
        ("apikey", "api_key"),
        ("Authorization", "authorization"),
        ("aws_credentials", "credential"),
        ("privateKeyPem", "private_key"),
        ("user_ssn", "ssn"),
        ("SSN", "ssn"),
    ],
)
def test_secret_looking_keys_match(key: str, name: str) -> None:
    assert secret_match(key, DEFAULT_SECRET_NAMES) == name


@pytest.mark.parametrize("key", ["title", "owner_id", "download_url", "business_name", "classname", "author_id", ""])
def test_ordinary_keys_do_not(key: str) -> None:
    assert secret_match(key, DEFAULT_SECRET_NAMES) is None
