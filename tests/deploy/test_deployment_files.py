"""The Dockerfile, compose.yaml and nginx.conf: linted by real linters, and checked for what SSE behind a proxy needs.

Docker cannot run on these machines, so the files are checked, not started:
hadolint lints the Dockerfile, the compose specification's JSON schema
validates compose.yaml, ``nginx -t`` parses the proxy configuration, and each
linter is also shown a broken copy, so a linter that silently checks nothing
fails the suite.
"""

import asyncio
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infrastructure.container import Container
from tests.support.prerequisites import nginx_binary
from tests.support.server import serve
from tests.support.uv import uv_version

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
NGINX_CONF = (ROOT / "deploy" / "nginx.conf").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())


def tool(name: str) -> str | None:
    """A command from the virtual environment (dev dependencies) or the PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


# --- real linters -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hadolint() -> str:
    found = tool("hadolint")
    if found is None:  # pragma: no cover - the dev extra ships it for Linux x86-64 only
        pytest.skip("hadolint is not installed (the dev extra ships it for Linux x86-64)")
    return found


def test_the_dockerfile_passes_hadolint(hadolint: str) -> None:
    result = run(hadolint, str(ROOT / "Dockerfile"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_careless_dockerfile(hadolint: str, tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN apt-get install curl\nCMD herald run\n")
    result = run(hadolint, str(careless))
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the :latest tag


def test_compose_yaml_is_valid_against_the_compose_specification() -> None:
    checker = tool("check-jsonschema")
    assert checker is not None, "check-jsonschema is a dev dependency"
    result = run(checker, "--builtin-schema", "vendor.compose-spec", str(ROOT / "compose.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_schema_rejects_a_broken_file(tmp_path: Path) -> None:
    checker = tool("check-jsonschema")
    assert checker is not None
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  herald:\n    deploy:\n      replicas: two\n    stop_grace_period: [15]\n")
    result = run(checker, "--builtin-schema", "vendor.compose-spec", str(broken))
    assert result.returncode != 0


def nginx_test(config: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on ``config``, with its temporary paths in ``workdir`` (nothing is started)."""
    nginx = nginx_binary()
    temp_paths = "".join(
        f"\n    {kind}_temp_path {workdir / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    copy = workdir / "nginx.conf"
    copy.write_text(config.replace("http {", "http {" + temp_paths, 1))
    return run(nginx, "-t", "-p", str(workdir), "-c", str(copy), "-g", f"pid {workdir / 'nginx.pid'};")


@pytest.mark.needs("nginx")
def test_the_proxy_configuration_passes_nginx_t(tmp_path: Path) -> None:
    result = nginx_test(NGINX_CONF, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.needs("nginx")
def test_nginx_t_rejects_a_broken_configuration(tmp_path: Path) -> None:
    result = nginx_test(NGINX_CONF.replace("proxy_buffering off;", "proxy_buffering sometimes;"), tmp_path)
    assert result.returncode != 0
    assert "proxy_buffering" in result.stderr


# --- the Dockerfile -----------------------------------------------------------------------------


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(DOCKERFILE)
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def test_the_image_is_python_slim_without_dev_extras() -> None:
    bases = [arg for op, arg in instructions(DOCKERFILE) if op == "FROM"]
    assert all(base.startswith("python:3.11-slim") for base in bases)
    assert "[dev]" not in DOCKERFILE


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    [user] = [arg for op, arg in final_stage() if op == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0


def test_the_image_stops_on_sigterm_and_serves_production_on_all_interfaces() -> None:
    stage = dict(final_stage())
    assert stage["STOPSIGNAL"] == "SIGTERM"
    assert stage["CMD"] == '["herald", "run", "--host", "0.0.0.0"]'
    assert "HERALD_ENV=production" in stage["ENV"]
    assert "HERALD_JWT_SECRET" not in stage["ENV"]  # comes from the environment at run time


def healthcheck_code() -> str:
    [check] = [arg for op, arg in final_stage() if op == "HEALTHCHECK"]
    match = re.search(r'CMD \["python", "-c", "(?P<code>[^"]+)"\]', check)
    assert match is not None, check
    return match["code"]


async def probe(code: str) -> int:
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", code, stderr=asyncio.subprocess.DEVNULL)
    return await process.wait()


async def test_the_healthcheck_passes_on_a_live_herald_and_fails_on_a_dead_one(
    make_container: Callable[..., Container],
) -> None:
    code = healthcheck_code()
    assert "/health" in code
    async with serve(make_container()) as service:
        port = service.base_url.rsplit(":", 1)[1]
        assert await probe(code.replace("127.0.0.1:8000", f"127.0.0.1:{port}")) == 0
    assert await probe(code.replace("127.0.0.1:8000", f"127.0.0.1:{port}")) != 0


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") :][:5] == ["*", "!pyproject.toml", "!uv.lock", "!README.md", "!src/"]
    copies = [arg.split()[:-1] for op, arg in instructions(DOCKERFILE) if op == "COPY" and not arg.startswith("--from")]
    assert {source for sources in copies for source in sources} <= {"pyproject.toml", "uv.lock", "README.md", "src"}


def test_the_image_installs_exactly_the_lock_with_the_makefiles_uv() -> None:
    build = instructions(DOCKERFILE)
    assert ("ARG", f"UV_VERSION={uv_version()}") in build
    assert ("RUN", "uv sync --locked --no-dev --no-editable") in build


# --- compose.yaml -------------------------------------------------------------------------------


def test_compose_runs_two_herald_replicas_on_redis_with_a_required_secret() -> None:
    service = COMPOSE["services"]["herald"]
    assert service["deploy"]["replicas"] == 2
    environment = service["environment"]
    assert environment["HERALD_ENV"] == "production"
    assert environment["HERALD_REDIS_URL"] == "redis://redis:6379/0"
    assert environment["HERALD_JWT_SECRET"].startswith("${HERALD_JWT_SECRET:?")
    assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    grace = service["stop_grace_period"]
    assert grace.endswith("s")
    assert int(grace[:-1]) > 5  # more than uvicorn's graceful shutdown


def test_redis_keeps_its_streams_across_a_restart() -> None:
    redis = COMPOSE["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    assert "healthcheck" in redis


def test_the_proxy_waits_for_healthy_replicas_and_uses_the_sse_configuration() -> None:
    proxy = COMPOSE["services"]["proxy"]
    assert proxy["depends_on"]["herald"]["condition"] == "service_healthy"
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert "ports" not in COMPOSE["services"]["herald"]  # reached through the proxy only


def test_no_secret_is_committed() -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert not re.search(r"HERALD_JWT_SECRET:\s*[\"']?[A-Za-z0-9_-]{16,}", text)


# --- nginx.conf ---------------------------------------------------------------------------------


def location(match: str) -> str:
    """The body of the ``location`` block whose match is written ``match`` (``= /path``, ``~ regex``)."""
    found = re.search(r"location " + re.escape(match) + r" \{(?P<body>[^}]*)\}", NGINX_CONF)
    assert found is not None, match
    return found["body"]


def directives(block: str) -> set[str]:
    return {" ".join(line.split()) for line in block.splitlines() if line.strip().endswith(";")}


def test_the_stream_location_is_unbuffered_uncompressed_and_long_lived() -> None:
    stream = directives(location("~ ^/api/v1/events/*$"))
    assert {
        "proxy_buffering off;",
        "proxy_cache off;",
        "proxy_read_timeout 1h;",
        "gzip off;",
        "proxy_pass $herald;",
    } <= stream


def test_upstream_connections_are_http_1_1_without_a_connection_header() -> None:
    server = directives(NGINX_CONF)
    assert {"proxy_http_version 1.1;", 'proxy_set_header Connection "";'} <= server
    assert "proxy_set_header X-Request-ID $herald_request_id;" in server


def test_the_access_log_never_holds_a_query_string() -> None:
    log_format = NGINX_CONF[NGINX_CONF.index("log_format") : NGINX_CONF.index("access_log")]
    assert '"path":"$herald_logged_path"' in log_format  # $uri cut at its first ? ; or = (it is decoded)
    assert 'map $uri $herald_logged_path {\n        "~^(?<herald_path_head>[^?;=]*)"' in NGINX_CONF
    for variable in ("$request ", '$request"', "$request_uri", "$args", "$query_string", "$arg_"):
        assert variable not in log_format


def test_the_error_log_starts_above_every_error_a_request_can_cause() -> None:
    http = NGINX_CONF[NGINX_CONF.index("http {") :]
    assert "error_log /dev/stderr crit;" in directives(http[: http.index("server {")])  # nginx quotes request lines
    assert "error_log" not in http[http.index("server {") :]  # no location logs lower


def test_the_api_and_the_stream_are_rate_and_connection_limited_with_429() -> None:
    server = directives(NGINX_CONF)
    assert {"limit_req_status 429;", "limit_conn_status 429;"} <= server
    stream, api = (
        directives(location("~ ^/api/v1/events/*$")),
        directives(NGINX_CONF[NGINX_CONF.index("location / {") :]),
    )
    assert any(d.startswith("limit_req zone=herald_stream_opens ") for d in stream)
    assert any(d.startswith("limit_conn herald_streams ") for d in stream)
    assert any(d.startswith("limit_req zone=herald_api ") for d in api)
    assert any(d.startswith("limit_conn herald_api_connections ") for d in api)


def test_compose_refuses_to_start_without_a_database_password() -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert "HERALD_DATABASE_PASSWORD:-" not in text  # no fallback password
    postgres, service = COMPOSE["services"]["postgres"], COMPOSE["services"]["herald"]
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${HERALD_DATABASE_PASSWORD:?")
    assert "${HERALD_DATABASE_PASSWORD:?" in service["environment"]["HERALD_DATABASE_URL"]


def test_metrics_are_exposed_to_the_compose_network_only() -> None:
    service = COMPOSE["services"]["herald"]
    assert service["environment"]["HERALD_METRICS_HOST"] == "0.0.0.0"  # the container's own interface
    assert "9180" in service["expose"]
    assert "ports" not in service
    assert "9180" not in NGINX_CONF
    assert "HERALD_METRICS_PORT=9180" in dict(final_stage())["ENV"]
