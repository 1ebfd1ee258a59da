"""An OpenID Connect provider's signing keys: fetched without blocking, cached, and followed through rotation."""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from application.principal import CredentialError, CredentialsUnavailableError

logger = logging.getLogger(__name__)


class ProviderKeys:
    """The provider's public keys by ``kid``, from its JWKS.

    The key set is read when first needed and again once ``cache_seconds``
    old; a token whose ``kid`` is not held triggers a read at once, but at
    most one per ``refresh_seconds`` and one at a time, so a flood of made-up
    kids cannot hammer the provider. While the provider cannot be reached,
    the keys already held still verify; a token that needs a key not held
    then gets :class:`CredentialsUnavailableError` (503, retry), since the
    key may well exist. Only keys for the allowed algorithms are kept, so a
    JWKS can never enable an algorithm the settings do not.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        issuer: str | None,
        jwks_url: str | None,
        algorithms: frozenset[str],
        cache_seconds: float,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if issuer is None and jwks_url is None:
            raise ValueError("an issuer (for discovery) or a JWKS URL is needed")
        self._client = client
        self._issuer = issuer
        self._jwks_url = jwks_url
        self._algorithms = algorithms
        self._cache_seconds = cache_seconds
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._tried_at: float | None = None
        self._failure: str | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    @property
    def state(self) -> dict[str, Any]:
        """For ``/health``: how many keys are held, how old they are, and why the last read failed."""
        age = None if self._fetched_at is None else round(self._clock() - self._fetched_at, 1)
        return {"keys": len(self._keys), "age_seconds": age, "last_error": self._failure}

    async def key(self, kid: str) -> jwt.PyJWK:
        """The key ``kid``; ``CredentialError`` if the provider has no such key, or
        ``CredentialsUnavailableError`` if it cannot be asked right now."""
        if self._fetched_at is None or self._clock() - self._fetched_at > self._cache_seconds:
            await self._refresh(kid)  # stale: read again, but keep what is held if the provider is down
        elif kid not in self._keys:
            await self._refresh(kid)
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._failure is not None:
            raise CredentialsUnavailableError(f"the identity provider's keys cannot be fetched ({self._failure})")
        raise CredentialError("the token is signed with an unknown key")

    async def _refresh(self, kid: str) -> None:
        async with self._lock:
            now = self._clock()
            if kid in self._keys and self._fetched_at is not None and now - self._fetched_at <= self._cache_seconds:
                return  # read by whoever held the lock before
            if self._tried_at is not None and now - self._tried_at < self._refresh_seconds:
                return  # read moments ago: a kid unknown then is unknown now
            self._tried_at = now
            self.fetches += 1
            try:
                self._keys = await self._fetch()
            except (httpx.HTTPError, ValueError, KeyError, jwt.PyJWKError) as error:
                self._failure = type(error).__name__
                logger.warning(
                    "could not read the identity provider's keys (%s); keeping %d", self._failure, len(self._keys)
                )
                return
            self._fetched_at = self._clock()
            self._failure = None

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        url = self._jwks_url or await self._discover()
        response = await self._client.get(url)
        response.raise_for_status()
        keys: dict[str, jwt.PyJWK] = {}
        for entry in response.json()["keys"]:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or not isinstance(entry.get("kid"), str):
                continue
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWKError:
                continue  # a key type or curve this build cannot use: not one of ours
            if key.algorithm_name in self._algorithms:
                keys[entry["kid"]] = key
        return keys

    async def _discover(self) -> str:
        assert self._issuer is not None
        response = await self._client.get(f"{self._issuer.rstrip('/')}/.well-known/openid-configuration")
        response.raise_for_status()
        document = response.json()
        if document.get("issuer") != self._issuer:
            raise ValueError("the discovery document names another issuer")
        url = document["jwks_uri"]
        if not isinstance(url, str):
            raise ValueError("the discovery document has no jwks_uri")
        self._jwks_url = url
        return url
