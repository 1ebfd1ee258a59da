"""A real ``herald run``: JSON lines in production, each request's lines under its id; readable lines in development."""

import json
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.integration.helpers import announce, data, eventually, process_bearer
from tests.integration.test_hostile_process import stalled_socket
from tests.support.processes import herald_process
from tests.support.streams import StreamReader

pytestmark = pytest.mark.spawns  # Herald processes of its own


def entries(log: str) -> list[dict[str, object]]:
    """Every line of the process's output as a JSON object (fails on the first line that is not one)."""
    parsed = []
    for line in log.splitlines():
        entry = json.loads(line)
        assert isinstance(entry, dict), line
        assert {"timestamp", "level", "event", "logger"} <= entry.keys(), line
        parsed.append(entry)
    return parsed


async def test_production_logs_are_json_with_request_and_event_ids_and_no_ticket(tmp_path: Path) -> None:
    env = {
        "HERALD_ENV": "production",
        "HERALD_JWT_SECRET": TEST_SECRET,
        "HERALD_LOG_LEVEL": "debug",
        "HERALD_REPORT_STEP_SECONDS": "0.01",
    }
    user = uuid.uuid4()
    with herald_process(env, tmp_path / "herald.log") as service:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
            issued = await client.post("/api/v1/events/tickets", headers=process_bearer(user))
            ticket = issued.json()["ticket"]
            generated = issued.headers["x-request-id"]
            url = f"/api/v1/events?ticket={ticket}"
            async with StreamReader(client, url, headers={"X-Request-ID": "stream-req-1"}) as stream:
                assert stream.response is not None
                assert stream.response.headers["x-request-id"] == "stream-req-1"
                report = await client.post(
                    "/api/v1/reports",
                    json={"title": "Q3"},
                    headers={**process_bearer(user), "X-Request-ID": "report-req-1"},
                )
                assert report.headers["x-request-id"] == "report-req-1"
                await stream.wait_until(lambda events: any(e.event == "report.completed" for e in events))
                delivered = {str(data(event)["event_id"]) for event in stream.events}
            refused = await client.get("/api/v1/events", headers={"X-Request-ID": "refused-req-1"})
            assert refused.status_code == 401
            assert refused.headers["x-request-id"] == "refused-req-1"
        # The access-log lines are written.
        await eventually(lambda: all(f"{name}-req-1" in service.log() for name in ("stream", "report", "refused")))
    log = service.log()
    assert ticket not in log
    logged = entries(log)

    def access(request_id: str) -> dict[str, object]:
        [line] = [e for e in logged if e["logger"] == "uvicorn.access" and e.get("request_id") == request_id]
        return line

    assert access(generated)["path"] == "/api/v1/events/tickets"
    assert access("stream-req-1")["path"] == "/api/v1/events?ticket=[redacted]"
    assert (access("report-req-1")["method"], access("report-req-1")["status"]) == ("POST", 202)
    assert access("refused-req-1")["status"] == 401
    publications = [e for e in logged if e["logger"] == "infrastructure.sse.handler"]
    assert {e["event_id"] for e in publications} == delivered
    assert {e["request_id"] for e in publications} == {"report-req-1"}
    assert {e["event_type"] for e in publications} >= {"report.requested", "report.progress", "report.completed"}
    assert any(e["event"] == "Application shutdown complete." for e in logged)


def test_development_logs_are_readable_lines(tmp_path: Path) -> None:
    with herald_process({"HERALD_ENV": "development"}, tmp_path / "herald.log") as service:
        response = httpx.get(f"{service.base_url}/health?probe=dev", headers={"X-Request-ID": "dev-req-1"})
        assert response.headers["x-request-id"] == "dev-req-1"
    lines = service.log().splitlines()
    assert any("Herald started (memory broker, development)" in line for line in lines)
    [access] = [line for line in lines if "GET /health?probe=dev" in line]
    assert "request_id=dev-req-1" in access
    for line in lines:
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)


def test_an_invalid_configuration_is_reported_as_json_in_production(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "presentation", "run"],
        env={"PATH": "/usr/bin:/bin", "HERALD_ENV": "production"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    [entry] = entries(result.stderr + result.stdout)
    assert entry["level"] == "error"
    assert "HERALD_JWT_SECRET is required" in str(entry["event"])


async def test_a_stalled_client_cut_off_by_the_send_timeout_is_one_warning_of_heralds_own(tmp_path: Path) -> None:
    env = {
        "HERALD_ENV": "production",
        "HERALD_JWT_SECRET": TEST_SECRET,
        "HERALD_SSE_SEND_TIMEOUT_SECONDS": "1",
        "HERALD_SSE_MAX_STREAMS_PER_USER": "1",  # the next stream opens only once the stalled one is released
    }
    admin = process_bearer(uuid.uuid4(), "admin")
    stall = "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nX-Request-ID: stalled-req-1\r\n\r\n"
    with herald_process(env, tmp_path / "herald.log") as service:
        stalled = stalled_socket(service.port, stall.format(admin["Authorization"]).encode())
        try:
            async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:

                async def flooded_until_cut_off() -> bool:
                    # Announcements reach every stream; the stalled one stops taking them.
                    await announce(client, admin, "x" * 2000)
                    return "took no data" in service.log()

                await eventually(flooded_until_cut_off, timeout=30, step=0)
                async with StreamReader(client, "/api/v1/events", headers=admin) as stream:
                    assert stream.response is not None
                    assert stream.response.status_code == 200, "the stalled stream was not released"
                marker = await client.get("/health", headers={"X-Request-ID": "after-the-stall"})
                assert marker.status_code == 200
                await eventually(lambda: "after-the-stall" in service.log())
        finally:
            stalled.close()
    logged = entries(service.log())
    [warning] = [e for e in logged if "took no data" in str(e["event"])]
    assert (warning["level"], warning["request_id"]) == ("warning", "stalled-req-1")
    assert not [e for e in logged if e["level"] in ("error", "critical")], "an error-level line was logged"
