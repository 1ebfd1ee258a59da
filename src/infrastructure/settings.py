"""Settings read from ``HERALD_*`` environment variables, validated at start-up."""

import os
import re
import secrets
from collections.abc import Mapping
from typing import Literal, TypeVar, cast

import attrs

Environment = Literal["development", "production"]
LogFormat = Literal["json", "console"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
N = TypeVar("N", int, float)


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot run with."""


@attrs.frozen(kw_only=True)
class Settings:
    """Everything the container needs to choose and configure adapters."""

    env: Environment = "development"
    """``production`` disables dev-only routes and requires a real JWT secret."""
    log_format: LogFormat = "console"
    """``json`` (one object per line, for log collectors) or ``console`` (readable); JSON in production."""
    log_level: LogLevel = "INFO"
    """Least severe level logged (``DEBUG`` adds every SSE publication)."""
    host: str = "127.0.0.1"
    """Bind address of ``herald run``."""
    port: int = 8000
    """Bind port of ``herald run``."""
    redis_url: str | None = None
    """Unset: the embedded in-memory broker; set: the Redis adapters."""
    redis_prefix: str = "herald"
    """Prefix of every Redis key and channel, so several deployments can share one server."""
    redis_retention_ttl_seconds: int = 86_400
    """A user's Redis Stream expires after this long without a new event."""
    redis_publish_retry_seconds: float = 30.0
    """How long a publish that failed (Redis down) is retried before it is dropped and counted."""
    redis_publish_buffer: int = 10_000
    """Failed publishes held for retry; the oldest is dropped (and counted) beyond this."""
    redis_timeout_seconds: float = 2.0
    """Longest a request waits on Redis in all; then 503 with ``Retry-After`` (or, for a publish, its answer)."""
    jwt_secret: str = attrs.field(factory=lambda: secrets.token_urlsafe(32), repr=False)
    """HS256 key for bearer tokens; a random per-process key in development."""
    jwt_secret_is_generated: bool = True
    """True when no secret was configured (only allowed in development)."""
    jwt_issuer: str = "herald"
    """Expected ``iss`` claim."""
    jwt_audience: str = "herald"
    """Expected ``aud`` claim."""
    sse_heartbeat_seconds: float = 15.0
    """An idle stream gets a comment at most this often."""
    sse_retry_ms: int = 3000
    """``retry:`` hint sent at the start of every stream."""
    sse_retention: int = 1000
    """Events kept per user for ``Last-Event-ID`` resume; 0 turns resume off."""
    sse_queue_size: int = 1000
    """Frames a stream may have waiting before the client counts as too slow and is disconnected."""
    sse_max_retained_users: int = 100_000
    """Users whose history the embedded broker keeps (least recently addressed dropped first)."""
    sse_send_timeout_seconds: float = 10.0
    """A client that takes no data for this long is disconnected (half-open or stalled connections)."""
    sse_ticket_seconds: float = 15.0
    """How long a stream ticket stays valid (it is also single-use)."""
    sse_max_streams_per_user: int = 20
    """Open streams one user may hold on one process; more get 429."""
    sse_max_streams: int = 20_000
    """Open streams one process holds; more get 503 (the load balancer tries another)."""
    sse_opens_per_minute: int = 60
    """Stream opens one user may make per minute on one process; more get 429."""
    sse_tickets_per_minute: int = 60
    """Stream tickets one user may obtain per minute from one process; more get 429."""
    http_max_header_bytes: int = 16_384
    """Request line and headers of one request; a larger block gets 431."""
    http_max_body_bytes: int = 65_536
    """Body of one request; a larger one gets 413."""
    http_request_seconds: float = 10.0
    """Time to send a whole request (headers and body); the connection is closed after it."""
    http_keepalive_seconds: float = 75.0
    """An idle kept-alive connection is closed after this long (longer than a load balancer's idle timeout)."""
    shutdown_grace_seconds: float = 5.0
    """On SIGTERM, clients get this long to take their last bytes; then connections are cut and the process exits."""
    cors_origins: tuple[str, ...] = ()
    """Origins allowed to call the API from a browser (``*`` for any, without credentials)."""
    report_step_seconds: float = 0.5
    """Delay between the sample report's progress events."""

    @property
    def broker_kind(self) -> Literal["memory", "redis"]:
        """Which broker adapters the container wires."""
        return "memory" if self.redis_url is None else "redis"

    @property
    def is_production(self) -> bool:
        """True in production."""
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read and validate the ``HERALD_*`` variables; raise :class:`SettingsError` naming the bad one."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        mode = env.get("HERALD_ENV", "development")
        if mode not in ("development", "production"):
            raise SettingsError(f"HERALD_ENV must be 'development' or 'production', got {mode!r}")
        values["env"] = mode
        values["log_format"] = log_format_from_env(env)
        level = env.get("HERALD_LOG_LEVEL", "INFO").upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"HERALD_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        values["log_level"] = level
        optional_text = (
            ("host", "HERALD_HOST"),
            ("jwt_issuer", "HERALD_JWT_ISSUER"),
            ("jwt_audience", "HERALD_JWT_AUDIENCE"),
        )
        for field, name in optional_text:
            if env.get(name):
                values[field] = env[name]
        if env.get("HERALD_REDIS_URL"):
            values["redis_url"] = env["HERALD_REDIS_URL"]
        prefix = env.get("HERALD_REDIS_PREFIX")
        if prefix is not None:
            if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", prefix):
                raise SettingsError("HERALD_REDIS_PREFIX must be 1-64 characters of letters, digits and _ . : -")
            values["redis_prefix"] = prefix
        secret = env.get("HERALD_JWT_SECRET")
        if secret:
            if len(secret.encode()) < 32:
                raise SettingsError("HERALD_JWT_SECRET must be at least 32 bytes long")
            values["jwt_secret"] = secret
            values["jwt_secret_is_generated"] = False
        elif mode == "production":
            raise SettingsError("HERALD_JWT_SECRET is required when HERALD_ENV=production")
        defaults = attrs.fields_dict(cls)
        for field, (minimum, maximum) in _NUMBERS.items():
            default = cast("float", defaults[field].default)  # an int for the int fields
            values[field] = _number(env, f"HERALD_{field.upper()}", type(default), default, minimum, maximum)
        values["cors_origins"] = _origins(env.get("HERALD_CORS_ORIGINS", ""))
        return cls(**values)  # type: ignore[arg-type]


#: Numeric settings, each read from ``HERALD_<FIELD NAME>``, with its bounds (inclusive; None: unbounded).
_NUMBERS: dict[str, tuple[float, float | None]] = {
    "port": (0, 65535),
    "sse_heartbeat_seconds": (0.05, None),
    "sse_retry_ms": (0, None),
    "sse_retention": (0, None),
    "sse_queue_size": (1, None),
    "sse_max_retained_users": (1, None),
    "redis_retention_ttl_seconds": (1, None),
    "redis_publish_retry_seconds": (0, None),
    "redis_publish_buffer": (1, None),
    "redis_timeout_seconds": (0.1, None),
    "sse_send_timeout_seconds": (0.1, None),
    "sse_ticket_seconds": (1, None),
    "sse_max_streams_per_user": (1, None),
    "sse_max_streams": (1, None),
    "sse_opens_per_minute": (1, None),
    "sse_tickets_per_minute": (1, None),
    "http_max_header_bytes": (1024, None),
    "http_max_body_bytes": (1024, None),
    "http_request_seconds": (0.1, None),
    "http_keepalive_seconds": (1, None),
    "shutdown_grace_seconds": (0.5, None),
    "report_step_seconds": (0, None),
}


def log_format_from_env(env: Mapping[str, str]) -> LogFormat:
    """``HERALD_LOG_FORMAT`` when set, else JSON in production and readable lines in development."""
    raw = env.get("HERALD_LOG_FORMAT", "")
    if raw == "":
        return "json" if env.get("HERALD_ENV") == "production" else "console"
    if raw not in ("json", "console"):
        raise SettingsError(f"HERALD_LOG_FORMAT must be 'json' or 'console', got {raw!r}")
    return "json" if raw == "json" else "console"


def _number(env: Mapping[str, str], name: str, kind: type[N], default: N, minimum: float, maximum: float | None) -> N:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a {kind.__name__}, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise SettingsError(f"{name} must be {bound}, got {raw!r}")
    return value


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", origin):
            raise SettingsError(f"HERALD_CORS_ORIGINS: {origin!r} is not an origin like https://app.example.com")
    return origins
