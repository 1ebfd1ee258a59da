"""A provider's discovery document and key set, read as untrusted input: any other shape is a clear error."""

import json
from typing import Any
from urllib.parse import urlsplit

import jwt

#: Key types of the asymmetric algorithms; any other (``oct`` above all) is never a provider's signing key.
_ASYMMETRIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})


class ProviderDocumentError(ValueError):
    """The provider answered with a document Herald cannot use; the message says what is wrong with it."""


def parsed(body: bytes, what: str) -> object:
    """The JSON document in ``body``."""
    try:
        return json.loads(body)
    except ValueError:  # not UTF-8, or not JSON
        raise ProviderDocumentError(f"the {what} is not JSON") from None
    except RecursionError:  # nested deeper than the parser goes
        raise ProviderDocumentError(f"the {what} is nested too deeply") from None


def jwks_uri_of(document: object, *, issuer: str, https_only: bool) -> str:
    """Where a discovery document says the key set is, once it is shown to be the configured issuer's."""
    if not isinstance(document, dict):
        raise ProviderDocumentError("the discovery document is not a JSON object")
    if document.get("issuer") != issuer:
        raise ProviderDocumentError("the discovery document names another issuer")
    url = document.get("jwks_uri")
    if not isinstance(url, str):
        raise ProviderDocumentError("the discovery document has no jwks_uri")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ProviderDocumentError("the discovery document's jwks_uri is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderDocumentError("the discovery document's jwks_uri is not an absolute http(s) URL")
    if https_only and parts.scheme != "https":
        raise ProviderDocumentError("the discovery document's jwks_uri is not https (required in production)")
    return url


def signing_keys(document: object, algorithms: frozenset[str]) -> dict[str, jwt.PyJWK]:
    """The signing keys of a JWKS, by ``kid``, for the allowed algorithms only.

    A set that is not an object with a ``keys`` list of objects is refused
    as a whole. Within it, a key Herald cannot use (another type or curve,
    an encryption key, no ``kid``, members missing) is passed over, as
    RFC 7517 asks; a set in which no key is usable is refused too, since no
    token could then be verified.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ProviderDocumentError('the key set is not a JSON object with a "keys" list')
    entries: list[Any] = document["keys"]
    if not all(isinstance(entry, dict) for entry in entries):
        raise ProviderDocumentError("the key set holds an entry that is not a JSON object")
    keys = {entry["kid"]: key for entry in entries if (key := _usable(entry, algorithms)) is not None}
    if not keys:
        raise ProviderDocumentError(f"the key set holds no signing key for {', '.join(sorted(algorithms))}")
    return keys


def _usable(entry: dict[str, Any], algorithms: frozenset[str]) -> jwt.PyJWK | None:
    kty, kid, alg = entry.get("kty"), entry.get("kid"), entry.get("alg", "")
    if not (isinstance(kty, str) and isinstance(kid, str) and isinstance(alg, str)):
        return None
    if kty not in _ASYMMETRIC_KEY_TYPES or entry.get("use", "sig") != "sig":
        return None
    try:
        key = jwt.PyJWK(entry)
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None  # members missing or malformed, or a curve this build cannot use
    return key if key.algorithm_name in algorithms else None
