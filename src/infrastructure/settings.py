"""Settings read from ``HERALD_*`` environment variables, validated at start-up.

Each setting is written once: its field holds the default, the docstring and
how its variable is read (:func:`choice`, :func:`number`, :func:`text`, …).
The variable is always ``HERALD_<FIELD NAME>`` (:meth:`ServiceName.variable`).
"""

import math
import os
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import attrs

from infrastructure.auth.oidc import ASYMMETRIC
from infrastructure.service_name import SERVICE

Environment = Literal["development", "production"]
LogFormat = Literal["json", "console"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
ClusterMode = Literal["auto", "true", "false"]

#: Turns a variable's raw text into the field's value, or raises SettingsError naming the variable.
Reader = Callable[[str, str], object]
_READER = "reader"


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot run with."""


def _either(options: tuple[str, ...]) -> str:
    quoted = [repr(option) for option in options]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def choice(default: str, options: object, *, upper: bool = False) -> Any:
    """One of a ``Literal``'s values (case-insensitively when ``upper``)."""
    allowed: tuple[str, ...] = get_args(options)

    def read(name: str, raw: str) -> object:
        value = raw.upper() if upper else raw
        if value not in allowed:
            raise SettingsError(f"{name} must be {_either(allowed)}, got {raw!r}")
        return value

    return attrs.field(default=default, metadata={_READER: read})


def number(default: float, *, at_least: float, at_most: float | None = None, why: str = "") -> Any:
    """An int or a float (the default's type), finite and within bounds (inclusive); ``why`` explains the bounds."""
    kind = type(default)

    def read(name: str, raw: str) -> object:
        try:
            value = kind(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a {kind.__name__}, got {raw!r}") from None
        if not math.isfinite(value) or value < at_least or (at_most is not None and value > at_most):
            bound = f"between {at_least} and {at_most}" if at_most is not None else f"at least {at_least}"
            raise SettingsError(f"{name} must be {bound}{f' ({why})' if why else ''}, got {raw!r}")
        return value

    return attrs.field(default=default, metadata={_READER: read})


def text(default: str | None, *, pattern: str | None = None, means: str = "") -> Any:
    """Free text, or text matching ``pattern`` (``means`` says what it must look like)."""

    def read(name: str, raw: str) -> object:
        if pattern is not None and not re.fullmatch(pattern, raw):
            raise SettingsError(f"{name} must be {means}")
        return raw

    return attrs.field(default=default, metadata={_READER: read})


def _secret_at_least(min_bytes: int) -> Any:
    def read(name: str, raw: str) -> object:
        if len(raw.encode()) < min_bytes:
            raise SettingsError(f"{name} must be at least {min_bytes} bytes long")
        return raw

    return attrs.field(factory=lambda: secrets.token_urlsafe(32), repr=False, metadata={_READER: read})


def _words(name: str, raw: str) -> object:
    return tuple(word.strip() for word in raw.split(",") if word.strip())


def _algorithms(name: str, raw: str) -> object:
    chosen = tuple(word.strip() for word in raw.split(",") if word.strip())
    refused = [algorithm for algorithm in chosen if algorithm not in ASYMMETRIC]
    if refused or not chosen:
        raise SettingsError(f"{name} must list asymmetric algorithms ({', '.join(sorted(ASYMMETRIC))}), got {raw!r}")
    return chosen


#: Plain URLs are taken too, and given the async driver Herald runs on.
_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def _database_url(name: str, raw: str) -> object:
    scheme, separator, rest = raw.partition("://")
    scheme = _DRIVERS.get(scheme, scheme)
    if not separator or scheme not in _DRIVERS.values():
        raise SettingsError(f"{name} must be a sqlite:/// or postgresql:// URL")
    return f"{scheme}://{rest}"


def server_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as the address clients reach a service at (None: nothing)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number from 0 to 65535
    except ValueError as error:
        return f"{url!r} is not a URL ({error})"
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return f"{url!r} is not a server address like https://events.example.com or http://host:8000/prefix"
    if parts.username is not None or parts.password is not None:
        return f"{url!r} holds credentials, which would be published in the AsyncAPI document"
    if port == 0:
        return f"{url!r} names port 0"
    return None


def _public_url(name: str, raw: str) -> object:
    problem = server_url_problem(raw)
    if problem is not None:
        raise SettingsError(f"{name}: {problem}")
    return raw


def _origins(name: str, raw: str) -> object:
    origins = tuple(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", origin):
            raise SettingsError(f"{name}: {origin!r} is not an origin like https://app.example.com")
    return origins


@attrs.frozen(kw_only=True)
class Settings:
    """Everything the container needs to choose and configure adapters."""

    env: Environment = choice("development", Environment)
    """``production`` disables dev-only routes and requires a real JWT secret."""
    log_format: LogFormat = choice("console", LogFormat)
    """``json`` (one object per line, for log collectors) or ``console`` (readable); JSON in production."""
    log_level: LogLevel = choice("INFO", LogLevel, upper=True)
    """Least severe level logged (``DEBUG`` adds every SSE publication)."""
    host: str = text("127.0.0.1")
    """Bind address of ``herald run``."""
    port: int = number(8000, at_least=0, at_most=65535)
    """Bind port of ``herald run``."""
    metrics_host: str = text("127.0.0.1")
    """Bind address of the Prometheus listener: loopback, or an interface only the scraper reaches."""
    metrics_port: int = number(9180, at_least=0, at_most=65535)
    """Port of ``GET /metrics``, apart from the public port, so a proxy that fronts Herald never serves metrics."""
    public_url: str | None = attrs.field(default=None, metadata={_READER: _public_url})
    """Where clients reach the service (behind a proxy, say): the server named in the AsyncAPI document."""
    database_url: str = attrs.field(
        default=f"sqlite+aiosqlite:///{SERVICE.slug}.sqlite3", repr=False, metadata={_READER: _database_url}
    )
    """Reports, announcements and the outbox: SQLite (a file in the working directory) or ``postgresql://…``."""
    database_pool_size: int = number(10, at_least=2)
    """PostgreSQL connections each process keeps open and shares (the outbox relay takes two at a time); a use
    case waits up to 5 s for its turn and up to 5 s more for a connection, then gets 503."""
    redis_url: str | None = text(None)
    """Unset: the embedded in-memory broker; set: the Redis adapters (any node, for a cluster)."""
    redis_cluster: ClusterMode = choice("auto", ClusterMode)
    """``auto``: ask the server at start (``INFO cluster``); ``true``/``false`` say it, and skip the question."""
    redis_prefix: str = text(
        SERVICE.slug, pattern=r"[A-Za-z0-9_.:-]{1,64}", means="1-64 characters of letters, digits and _ . : -"
    )
    """Prefix of every Redis key and channel, so several deployments can share one server."""
    redis_retention_ttl_seconds: int = number(86_400, at_least=1)
    """A user's log (a Redis Stream) expires after this long without a new event."""
    redis_publish_retry_seconds: float = number(30.0, at_least=0)
    """How long a publish that failed (Redis down) is retried before it is dropped and counted."""
    redis_publish_buffer: int = number(10_000, at_least=1)
    """Failed publishes held for retry; the oldest is dropped (and counted) beyond this."""
    redis_timeout_seconds: float = number(2.0, at_least=0.1)
    """Longest a request waits on Redis in all; then 503 with ``Retry-After`` (or, for a publish, its answer)."""
    jwt_secret: str = _secret_at_least(32)
    """HS256 key for bearer tokens; a random per-process key in development."""
    jwt_secret_is_generated: bool = True
    """True when no secret was configured (only allowed in development)."""
    jwt_issuer: str = text(SERVICE.slug)
    """Expected ``iss`` claim."""
    jwt_audience: str = text(SERVICE.slug)
    """Expected ``aud`` claim."""
    oidc_issuer: str | None = text(
        None, pattern=r"https?://\S+", means="an http(s) URL like https://id.example.com/realms/app"
    )
    """An OpenID Connect provider: access tokens are its, verified with the keys its discovery document names
    (``https://`` in production)."""
    jwks_url: str | None = text(None, pattern=r"https?://\S+", means="an http(s) URL")
    """The provider's key set, when there is no discovery (tokens' ``iss`` must then be ``HERALD_JWT_ISSUER``;
    ``https://`` in production)."""
    oidc_audience: tuple[str, ...] = attrs.field(default=(), metadata={_READER: _words})
    """Accepted ``aud`` values of provider tokens, comma-separated (default: ``HERALD_JWT_AUDIENCE``)."""
    oidc_algorithms: tuple[str, ...] = attrs.field(default=("RS256", "ES256", "EdDSA"), metadata={_READER: _algorithms})
    """Algorithms provider tokens may use: asymmetric ones only (``HS*`` and ``none`` are refused here)."""
    oidc_user_claim: str = text("sub", pattern=r"[A-Za-z0-9_:.-]{1,64}", means="a claim name")
    """The claim that names the user (a UUID)."""
    oidc_roles_claim: str = text(
        "roles", pattern=r"[A-Za-z0-9_:.-]{1,128}", means="a claim path like realm_access.roles"
    )
    """Where the roles are: a dotted path (``realm_access.roles``, ``permissions``, ``cognito:groups``)."""
    oidc_admin_role: str = text("admin", pattern=r"[A-Za-z0-9_:./-]{1,128}", means="a role name")
    """The provider's role that grants Herald's ``admin`` role (announcements, revoking others' sessions)."""
    oidc_tenant_claim: str | None = text(
        None,
        pattern=r"(?=.{1,256}\Z)[^\s.]+(?:\.[^\s.]+)*",
        means="a claim name or a dotted path like org_id, organization.id or https://example.com/tenant "
        "(no empty part, no spaces)",
    )
    """Where provider tokens name the caller's tenant: a claim name, tried whole first (``org_id``,
    ``https://example.com/tenant``), else a dotted path (``organization.id``); unset: no tenant."""
    jwt_leeway_seconds: float = number(10.0, at_least=0, at_most=300)
    """Clock skew allowed on ``exp`` and ``nbf`` of API calls (a stream opens on the token's own times)."""
    session_revocation_seconds: int = number(2_678_400, at_least=3600, at_most=3_153_600_000)
    """How long a revoked session stays revoked: the provider's longest session plus its access tokens'
    lifetime (the default covers a 30-day session and day-long tokens; at least Herald's own hour-long tokens)."""
    jwks_cache_seconds: float = number(300.0, at_least=0)
    """How long the provider's keys are used before they are read again."""
    jwks_refresh_seconds: float = number(
        10.0, at_least=1, why="it bounds how often tokens with unknown keys make Herald read the provider's keys"
    )
    """At most one read of the keys this often for tokens with an unknown ``kid`` (who then get 503 until it)."""
    sse_heartbeat_seconds: float = number(15.0, at_least=0.05)
    """An idle stream gets a comment at most this often."""
    sse_retry_ms: int = number(3000, at_least=0)
    """``retry:`` hint sent at the start of every stream."""
    sse_retention: int = number(1000, at_least=0)
    """Events kept per user for ``Last-Event-ID`` resume; 0 turns resume off."""
    sse_queue_size: int = number(1000, at_least=1)
    """Frames a stream may have waiting before the client counts as too slow and is disconnected."""
    sse_max_retained_users: int = number(100_000, at_least=1)
    """Users whose history the embedded broker keeps (least recently addressed dropped first)."""
    sse_send_timeout_seconds: float = number(10.0, at_least=0.1)
    """A client that takes no data for this long is disconnected (half-open or stalled connections)."""
    sse_ticket_seconds: float = number(15.0, at_least=1)
    """How long a stream ticket stays valid (it is also single-use)."""
    sse_max_streams_per_user: int = number(20, at_least=1)
    """Open streams one user may hold on one process; more get 429."""
    sse_max_watches: int = number(
        16, at_least=0, at_most=16, why="a stream's id holds a position per watched group, within Last-Event-ID's limit"
    )
    """Groups one stream may watch (``?watch=<kind>:<id>``); more get 400. 0 turns watching off."""
    presence_grace_seconds: float = number(5.0, at_least=0, at_most=300)
    """How long a user stays present in a group after their last stream there closed: a reconnect within it
    is neither a ``presence.left`` nor a ``presence.joined``."""
    presence_timeout_seconds: float = number(
        30.0, at_least=1, at_most=3600, why="the bound within which a dead process's users leave"
    )
    """With Redis: a process that stops without a word (SIGKILL, a lost host) has its users leave within this."""
    sse_max_streams: int = number(20_000, at_least=1)
    """Open streams one process holds; more get 503 (the load balancer tries another)."""
    sse_opens_per_minute: int = number(60, at_least=1)
    """Stream opens one user may make per minute on one process; more get 429."""
    sse_opens_at_once: int = number(64, at_least=1)
    """Stream opens one process works on at a time (credential, subscription, catch-up); more wait their turn,
    so a reconnect storm does not hold up the events of the streams already open."""
    sse_tickets_per_minute: int = number(60, at_least=1)
    """Stream tickets one user may obtain per minute from one process; more get 429."""
    http_max_header_bytes: int = number(16_384, at_least=1024)
    """Request line and headers of one request; a larger block gets 431."""
    http_max_body_bytes: int = number(65_536, at_least=1024)
    """Body of one request; a larger one gets 413."""
    http_request_seconds: float = number(10.0, at_least=0.1)
    """Time to send a whole request (headers and body); the connection is closed after it."""
    http_backlog: int = number(4096, at_least=1)
    """Connections the kernel holds for the process before it accepts them (capped by ``net.core.somaxconn``):
    room for the clients of a stopped replica arriving together; beyond it, their connections are dropped."""
    http_keepalive_seconds: float = number(75.0, at_least=1)
    """An idle kept-alive connection is closed after this long (longer than a load balancer's idle timeout)."""
    shutdown_grace_seconds: float = number(5.0, at_least=0.5)
    """On SIGTERM, clients get this long to take their last bytes; then connections are cut and the process exits."""
    cors_origins: tuple[str, ...] = attrs.field(default=(), metadata={_READER: _origins})
    """Origins allowed to call the API from a browser (``*`` for any, without credentials)."""
    report_step_seconds: float = number(0.5, at_least=0)
    """Delay between the sample report's progress events."""
    report_lease_seconds: float = number(15.0, at_least=0.1)
    """A report whose generating process stopped is taken over by another after this long (keep it above a step)."""
    reports_per_minute: int = number(30, at_least=1)
    """Report requests one user may make per minute on one process (bursts up to the same number); more get 429."""
    reports_unfinished_per_user: int = number(20, at_least=1)
    """Reports one user may have waiting or being generated at once, across every process; more get 429."""
    report_shares_max: int = number(100, at_least=1, at_most=10_000, why="the list of a report's shares is one answer")
    """Users one report may be shared with; sharing with one more gets 409."""

    @property
    def broker_kind(self) -> Literal["memory", "redis"]:
        """Which broker adapters the container wires."""
        return "memory" if self.redis_url is None else "redis"

    @property
    def server_url(self) -> str | None:
        """``public_url``; else, outside production, this process's own address (``localhost`` when it binds
        every interface). In production without ``public_url`` there is none: a bind address is no place a
        client can reach."""
        if self.public_url is not None or self.is_production:
            return self.public_url
        host = "localhost" if self.host in ("0.0.0.0", "::", "") else self.host.strip("[]")  # noqa: S104
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def provider_issuer(self) -> str:
        """The ``iss`` of provider tokens: the discovered issuer, else ``HERALD_JWT_ISSUER``."""
        return self.oidc_issuer or self.jwt_issuer

    @property
    def provider_audiences(self) -> tuple[str, ...]:
        return self.oidc_audience or (self.jwt_audience,)

    @property
    def has_identity_provider(self) -> bool:
        """True when access tokens are an OpenID Connect provider's, not Herald's own."""
        return self.oidc_issuer is not None or self.jwks_url is not None

    @property
    def is_production(self) -> bool:
        """True in production."""
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read and validate the ``HERALD_*`` variables; raise :class:`SettingsError` naming the bad one."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in attrs.fields(cls):
            read: Reader | None = field.metadata.get(_READER)
            name = SERVICE.variable(field.name)
            raw = env.get(name, "")
            if read is not None and raw != "":
                values[field.name] = read(name, raw)
        values["log_format"] = log_format_from_env(env)  # its default depends on HERALD_ENV
        values["jwt_secret_is_generated"] = "jwt_secret" not in values
        if values.get("env") == "production":
            if "jwt_secret" not in values:
                raise SettingsError(
                    f"{SERVICE.variable('jwt_secret')} is required when {SERVICE.variable('env')}=production"
                )
            _refuse_cleartext_provider(values)
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.metrics_port == settings.port != 0:
            raise SettingsError(
                f"{SERVICE.variable('metrics_port')} must differ from {SERVICE.variable('port')}: "
                "metrics are never served publicly"
            )
        return settings


def _refuse_cleartext_provider(values: Mapping[str, object]) -> None:
    """Production fetches the keys that decide who is who over TLS only: on plain HTTP anyone on the path could
    substitute them. No exception for loopback; development takes ``http://`` so that a local provider works."""
    for field in ("oidc_issuer", "jwks_url"):
        url = values.get(field)
        if isinstance(url, str) and not url.startswith("https://"):
            raise SettingsError(
                f"{SERVICE.variable(field)} must be an https:// URL when {SERVICE.variable('env')}=production "
                f"(keys fetched over plain HTTP can be replaced by anyone on the path), got {url!r}"
            )


def log_format_from_env(env: Mapping[str, str]) -> LogFormat:
    """The log format alone (to report a settings error in the format the service would have used)."""
    field = attrs.fields(Settings).log_format
    name = SERVICE.variable(field.name)
    raw = env.get(name, "")
    if raw == "":
        return "json" if env.get(SERVICE.variable("env")) == "production" else "console"
    read: Reader = field.metadata[_READER]
    return "json" if read(name, raw) == "json" else "console"
