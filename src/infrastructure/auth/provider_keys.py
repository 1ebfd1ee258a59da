"""An OpenID Connect provider's signing keys: fetched without blocking, cached, and followed through rotation."""

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from application.principal import CredentialError, CredentialsUnavailableError
from infrastructure.auth.provider_documents import ProviderDocumentError, jwks_uri_of, parsed, signing_keys

logger = logging.getLogger(__name__)

#: Key sets hold a few keys of a few hundred bytes each; a document far beyond that is not one.
MAX_DOCUMENT_BYTES = 1 << 20


class ProviderKeys:
    """The provider's public keys by ``kid``, from its JWKS.

    The key set is read when first needed and again once ``cache_seconds``
    old, but at most one read per ``refresh_seconds`` and one at a time, so a
    flood of made-up kids cannot hammer the provider. A read that fails (the
    provider unreachable, or a document of another shape) keeps the keys
    held, and ``state`` says why.

    A token whose ``kid`` is not held is answered by the freshest read it
    allows: a read at once when one is allowed. Herald says "unknown key"
    (``CredentialError``) only when the kid is missing from a key set read
    after the token was issued (by its ``iat``, give or take
    ``clock_skew_seconds``) or read while this very request waited; else the
    key may well exist: ``CredentialsUnavailableError`` with the seconds
    until the next read is allowed. Only keys for the allowed algorithms are
    kept, so a JWKS can never enable an algorithm the settings do not.
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
        clock_skew_seconds: float = 0.0,
        https_only: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if issuer is None and jwks_url is None:
            raise ValueError("an issuer (for discovery) or a JWKS URL is needed")
        if not 0 < refresh_seconds < math.inf:
            raise ValueError("refresh_seconds must be positive and finite: the unknown-kid throttle cannot be off")
        self._client = client
        self._issuer = issuer
        self._jwks_url = jwks_url
        self._algorithms = algorithms
        self._cache_seconds = cache_seconds
        self._refresh_seconds = refresh_seconds
        self._skew = clock_skew_seconds
        self._https_only = https_only
        self._clock = clock
        self._wall_clock = wall_clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._read_at: float | None = None  # when the last read that succeeded started (clock)
        self._read_at_wall: float | None = None  # the same moment by the wall clock, to compare with an ``iat``
        self._tried_at: float | None = None
        self._failure: str | None = None
        self._lock = asyncio.Lock()

    @property
    def state(self) -> dict[str, Any]:
        """For ``/health``: how many keys are held, how old they are, and why the last read failed."""
        age = None if self._read_at is None else round(self._clock() - self._read_at, 1)
        return {"keys": len(self._keys), "age_seconds": age, "last_error": self._failure}

    async def key(self, kid: str, *, issued_at: Callable[[], float | None] = lambda: None) -> jwt.PyJWK:
        """The key ``kid``; ``CredentialError`` if the provider has no such key, or
        ``CredentialsUnavailableError`` if that cannot be known yet.

        ``issued_at`` gives the token's ``iat`` (None when it has none): a key
        set read before then may not hold its key yet. Asked only for a kid
        that is still missing, so a token of a held key costs nothing more.
        """
        asked_at = self._clock()
        if kid not in self._keys or self._stale(asked_at):
            await self._read(kid)  # stale: read again, but keep what is held if the read fails
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._read_since(asked_at, issued_at):
            raise CredentialError("the token is signed with an unknown key")
        raise CredentialsUnavailableError(self._why_not_known(), retry_after_seconds=self._seconds_to_next_read())

    def _stale(self, now: float) -> bool:
        return self._read_at is None or now - self._read_at > self._cache_seconds

    def _read_since(self, asked_at: float, issued_at: Callable[[], float | None]) -> bool:
        """Whether a key set read after the token was issued (or during this request) is held."""
        if self._read_at is None or self._read_at_wall is None:
            return False
        if self._read_at >= asked_at:
            return True
        # ``iat`` is in whole seconds: a token of second ``t`` may have been signed up to a second later.
        issued = issued_at()
        return issued is not None and self._read_at_wall >= issued + 1 + self._skew

    def _why_not_known(self) -> str:
        if self._failure is not None:
            return f"the identity provider's keys cannot be read ({self._failure})"
        return "the key set has not been read since the token was issued"

    def _seconds_to_next_read(self) -> int:
        since = 0.0 if self._tried_at is None else self._clock() - self._tried_at
        return max(1, math.ceil(self._refresh_seconds - since))

    async def _read(self, kid: str) -> None:
        async with self._lock:
            now = self._clock()
            if kid in self._keys and not self._stale(now):
                return  # read by whoever held the lock before
            if self._tried_at is not None and now - self._tried_at < self._refresh_seconds:
                return  # read moments ago: the throttle
            self._tried_at = now
            started_wall = self._wall_clock()
            try:
                self._keys = await self._fetch()
            except ProviderDocumentError as error:
                self._failed(str(error))
                return
            except (httpx.HTTPError, httpx.InvalidURL) as error:
                self._failed(type(error).__name__)
                return
            self._read_at, self._read_at_wall = now, started_wall
            self._failure = None

    def _failed(self, reason: str) -> None:
        self._failure = reason
        logger.warning("could not read the identity provider's keys (%s); keeping %d", reason, len(self._keys))

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        url = self._jwks_url or await self._discover()
        return signing_keys(parsed(await self._body(url, "key set"), "key set"), self._algorithms)

    async def _discover(self) -> str:
        assert self._issuer is not None
        url = f"{self._issuer.rstrip('/')}/.well-known/openid-configuration"
        document = parsed(await self._body(url, "discovery document"), "discovery document")
        self._jwks_url = jwks_uri_of(document, issuer=self._issuer, https_only=self._https_only)
        return self._jwks_url

    async def _body(self, url: str, what: str) -> bytes:
        """The document at ``url``, read no further than any real provider's would reach."""
        async with self._client.stream("GET", url) as response:
            response.raise_for_status()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise ProviderDocumentError(f"the {what} is larger than {MAX_DOCUMENT_BYTES} bytes")
        return bytes(body)
