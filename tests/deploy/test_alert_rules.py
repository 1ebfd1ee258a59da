"""deploy/prometheus-rules.yaml: valid for Prometheus' own checker, firing on the conditions the docs give,
and naming only metrics the service exports."""

import re
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from infrastructure.container import Container
from infrastructure.service_name import SERVICE
from tests.support.prerequisites import require
from tests.support.server import serve

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus-rules.yaml"
#: What Prometheus appends to a family's name in its samples, by type.
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    require("promtool")
    return subprocess.run(["promtool", *arguments], capture_output=True, text=True, timeout=60, check=False)


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


@pytest.mark.needs("promtool")
def test_the_rules_pass_promtool_check(tmp_path: Path) -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules())} rules found" in result.stdout

    broken = tmp_path / "broken.yaml"  # a checker that checks nothing would pass this too
    broken.write_text(
        RULES.read_text().replace("max(herald_outbox_oldest_seconds)", "max(herald_outbox_oldest_seconds")
    )
    assert promtool("check", "rules", str(broken)).returncode != 0


# Each rule's firing condition, as in docs/architecture/observability.md: input series one sample a minute.
SCENARIOS: list[dict[str, Any]] = [
    {
        "name": "the outbox's oldest event is over a minute old for two minutes",
        "series": {'herald_outbox_oldest_seconds{instance="a:9180"}': "0 30 90 150 210 270 330"},
        "alert": "HeraldOutboxLagging",
        "quiet_at": "3m",
        "fires_at": "5m",
        "labels": {"severity": "page"},
    },
    {
        "name": "a relay pass fails every minute for five minutes",
        "series": {
            'herald_outbox_failed_passes_total{instance="a:9180"}': "0+1x20",
            'herald_events_publish_failed_total{instance="a:9180",type="report.progress"}': "0x20",
        },
        "alert": "HeraldPublishFailing",
        "quiet_at": "3m",
        "fires_at": "10m",
        "labels": {"severity": "page", "instance": "a:9180"},
    },
    {
        "name": "report deliveries take between 2.5 and 5 s for ten minutes; system ones are quick",
        "series": {
            **{
                f'herald_commit_to_socket_seconds_bucket{{category="reports",le="{le}"}}': "0x30"
                for le in ("0.5", "1.0", "2.5")
            },
            **{
                f'herald_commit_to_socket_seconds_bucket{{category="reports",le="{le}"}}': "0+10x30"
                for le in ("5.0", "+Inf")
            },
            **{
                f'herald_commit_to_socket_seconds_bucket{{category="system",le="{le}"}}': "0+10x30"
                for le in ("0.5", "1.0", "2.5", "5.0", "+Inf")
            },
        },
        "alert": "HeraldDeliveryLatencyHigh",
        "quiet_at": "5m",
        "fires_at": "20m",
        "labels": {"severity": "warn", "category": "reports"},
    },
    {
        "name": "a process refuses thirty streams a minute (it is full) for five minutes",
        "series": {'herald_streams_refused_total{instance="a:9180",reason="process_full"}': "0+30x20"},
        "alert": "HeraldStreamsRefused",
        "quiet_at": "3m",
        "fires_at": "10m",
        "labels": {"severity": "warn", "instance": "a:9180", "reason": "process_full"},
    },
]


@pytest.mark.needs("promtool")
def test_each_rule_fires_on_its_condition_and_not_before(tmp_path: Path) -> None:
    # promtool compares annotations too; their wording is not what is tested, so a copy without them is used.
    document = yaml.safe_load(RULES.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    plain = tmp_path / "rules.yaml"
    plain.write_text(yaml.safe_dump(document))
    tests = [
        {
            "interval": "1m",
            "input_series": [{"series": series, "values": values} for series, values in scenario["series"].items()],
            "alert_rule_test": [
                {"eval_time": scenario["quiet_at"], "alertname": scenario["alert"], "exp_alerts": []},
                {
                    "eval_time": scenario["fires_at"],
                    "alertname": scenario["alert"],
                    "exp_alerts": [{"exp_labels": scenario["labels"]}],
                },
            ],
        }
        for scenario in SCENARIOS
    ]
    unit = tmp_path / "unit.yaml"
    unit.write_text(yaml.safe_dump({"rule_files": [str(plain)], "evaluation_interval": "1m", "tests": tests}))

    result = promtool("test", "rules", str(unit))

    assert result.returncode == 0, result.stdout + result.stderr
    assert {scenario["alert"] for scenario in SCENARIOS} == {rule["alert"] for rule in rules()}


@pytest.mark.needs("redis-server")
async def test_every_metric_the_rules_name_is_exported(
    make_container: Callable[..., Container], shared_redis_url: str
) -> None:
    # On Redis: the Redis adapters' metrics (events dropped) are exported only there.
    container = make_container(redis_url=shared_redis_url, redis_prefix=f"herald-test-{uuid.uuid4().hex[:12]}")
    async with serve(container) as running, httpx.AsyncClient(timeout=10) as client:
        scraped = (await client.get(running.metrics_url)).text
    exported = {
        family.name + suffix
        for family in text_string_to_metric_families(scraped)
        for suffix in SUFFIXES.get(family.type, ("",))
    }
    named = {name for rule in rules() for name in re.findall(rf"\b{SERVICE.metric('')}[a-z0-9_]+", rule["expr"])}

    assert named  # the pattern finds the rules' metrics at all
    assert named <= exported, f"not exported: {sorted(named - exported)}"
