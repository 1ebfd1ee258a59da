"""Credentials' adapters as the container's resources: the identity provider and session revocations."""

from collections.abc import AsyncIterator

import httpx
from redis.asyncio import Redis

from infrastructure.auth.oidc import OidcTokenVerifier
from infrastructure.auth.provider_keys import ProviderKeys
from infrastructure.auth.sessions import MemorySessionRevocations, RedisSessionRevocations, SessionRevoked
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.brokers.redis.subscriber import RedisSubscriber
from infrastructure.persistence.database import Database
from infrastructure.persistence.revocations import StoredRevocations
from infrastructure.settings import Settings
from infrastructure.sse.wire_format import WireFormat


async def open_identity_provider(settings: Settings) -> AsyncIterator[OidcTokenVerifier | None]:
    """The identity provider's token verifier, when one is configured (None: Herald's own HS256 tokens only)."""
    if not settings.has_identity_provider:
        yield None
        return
    # Keys are fetched in a request's path only when one is missing: kept short, and never redirected.
    async with httpx.AsyncClient(timeout=3.0, follow_redirects=False) as client:
        algorithms = frozenset(settings.oidc_algorithms)
        keys = ProviderKeys(
            client,
            issuer=settings.oidc_issuer,
            jwks_url=settings.jwks_url,
            algorithms=algorithms,
            cache_seconds=settings.jwks_cache_seconds,
            refresh_seconds=settings.jwks_refresh_seconds,
            clock_skew_seconds=settings.jwt_leeway_seconds,
            https_only=settings.is_production,
        )
        yield OidcTokenVerifier(
            keys,
            issuer=settings.provider_issuer,
            audiences=settings.provider_audiences,
            algorithms=algorithms,
            leeway_seconds=settings.jwt_leeway_seconds,
            user_claim=settings.oidc_user_claim,
            roles_claim=settings.oidc_roles_claim,
            admin_role=settings.oidc_admin_role,
            tenant_claim=settings.oidc_tenant_claim,
        )


def keys_of(provider: OidcTokenVerifier | None) -> ProviderKeys | None:
    """The identity provider's keys, for ``/health``; None without a provider."""
    return None if provider is None else provider.keys


async def open_memory_revocations(database: Database) -> AsyncIterator[MemorySessionRevocations]:
    """Revocations without Redis: checked in memory, kept in the database so that a restart keeps them."""
    revocations = MemorySessionRevocations(StoredRevocations(database))
    await revocations.recall()
    yield revocations


async def open_redis_revocations(
    client: Redis, keys: RedisKeys, subscriber: RedisSubscriber, wire_format: WireFormat, *, timeout_seconds: float
) -> AsyncIterator[RedisSessionRevocations]:
    """Revocations shared through Redis; this process hears them on its pub/sub connection."""
    revocations = RedisSessionRevocations(client, keys, wire_format, timeout_seconds=timeout_seconds)
    subscriber.listen(
        revocations.channel, SessionRevoked, revocations.on_control_message, after_reconnect=revocations.resync
    )
    yield revocations
