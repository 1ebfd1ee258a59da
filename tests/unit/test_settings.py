"""Settings come from HERALD_* variables and bad values are refused by name."""

import pytest

from infrastructure.settings import Settings, SettingsError


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.broker_kind == "memory"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert (settings.sse_heartbeat_seconds, settings.sse_retry_ms, settings.sse_retention) == (15.0, 3000, 1000)
    assert settings.jwt_secret_is_generated
    assert settings.jwt_secret not in repr(settings)


def test_variables_are_read() -> None:
    settings = Settings.from_env(
        {
            "HERALD_REDIS_URL": "redis://redis.example:6380/0",  # parsed only: no server is asked
            "HERALD_PORT": "9000",
            "HERALD_SSE_RETENTION": "0",
            "HERALD_JWT_SECRET": "s" * 32,
            "HERALD_SSE_HEARTBEAT_SECONDS": "2.5",
        }
    )
    assert settings.broker_kind == "redis"
    assert (settings.port, settings.sse_retention, settings.sse_heartbeat_seconds) == (9000, 0, 2.5)
    assert not settings.jwt_secret_is_generated


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"HERALD_ENV": "staging"}, "HERALD_ENV must be"),
        ({"HERALD_ENV": "production"}, "HERALD_JWT_SECRET is required"),
        ({"HERALD_JWT_SECRET": "short"}, "at least 32 bytes"),
        ({"HERALD_PORT": "eighty"}, "HERALD_PORT must be a int"),
        ({"HERALD_PORT": "70000"}, "HERALD_PORT must be between 0 and 65535"),
        ({"HERALD_SSE_RETENTION": "-1"}, "HERALD_SSE_RETENTION must be at least 0"),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


@pytest.mark.parametrize(
    ("environ", "log_format"),
    [
        ({}, "console"),
        ({"HERALD_ENV": "production", "HERALD_JWT_SECRET": "s" * 32}, "json"),
        ({"HERALD_LOG_FORMAT": "json"}, "json"),
        ({"HERALD_ENV": "production", "HERALD_JWT_SECRET": "s" * 32, "HERALD_LOG_FORMAT": "console"}, "console"),
    ],
)
def test_logs_are_json_in_production_unless_the_format_is_set(environ: dict[str, str], log_format: str) -> None:
    assert Settings.from_env(environ).log_format == log_format


def test_the_log_level_is_read_case_insensitively() -> None:
    assert Settings.from_env({}).log_level == "INFO"
    assert Settings.from_env({"HERALD_LOG_LEVEL": "debug"}).log_level == "DEBUG"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"HERALD_LOG_FORMAT": "yaml"}, "HERALD_LOG_FORMAT must be 'json' or 'console'"),
        ({"HERALD_LOG_LEVEL": "loud"}, "HERALD_LOG_LEVEL must be .DEBUG., .INFO., .WARNING. or .ERROR."),
    ],
)
def test_bad_logging_values_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_metrics_listen_on_loopback_apart_from_the_public_port_by_default() -> None:
    settings = Settings.from_env({})
    assert (settings.metrics_host, settings.metrics_port) == ("127.0.0.1", 9180)
    assert settings.metrics_port != settings.port
    assert Settings.from_env({"HERALD_METRICS_HOST": "10.0.0.5", "HERALD_METRICS_PORT": "9300"}).metrics_port == 9300


def test_the_metrics_port_may_not_be_the_public_port() -> None:
    with pytest.raises(SettingsError, match="HERALD_METRICS_PORT must differ from HERALD_PORT"):
        Settings.from_env({"HERALD_PORT": "9000", "HERALD_METRICS_PORT": "9000"})


@pytest.mark.parametrize("claim", ["org_id", "tenant", "organization.id", "https://example.com/tenant"])
def test_the_tenant_claim_is_a_claim_name_or_a_dotted_path(claim: str) -> None:
    assert Settings.from_env({}).oidc_tenant_claim is None  # unset: no tenant from the provider
    assert Settings.from_env({"HERALD_OIDC_TENANT_CLAIM": claim}).oidc_tenant_claim == claim


@pytest.mark.parametrize("claim", [" ", ".", "organization..id", ".org_id", "org_id.", "org id", "x" * 257])
def test_a_tenant_claim_with_an_empty_part_or_a_space_is_refused(claim: str) -> None:
    with pytest.raises(SettingsError, match="HERALD_OIDC_TENANT_CLAIM must be a claim name or a dotted path"):
        Settings.from_env({"HERALD_OIDC_TENANT_CLAIM": claim})
