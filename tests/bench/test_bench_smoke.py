"""A tiny run of ``python -m bench``: the benchmark keeps working as the code changes.

Timings are not asserted (this machine is shared and noisy); what is checked is
that every target ran every measurement and that nothing was lost at this load.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.needs("redis-server", "postgresql"), pytest.mark.timeout(240)]


def test_a_tiny_benchmark_run_measures_every_target(tmp_path: Path, shared_redis_url: str, postgres_url: str) -> None:
    output = tmp_path / "bench.md"
    arguments = ["--redis", shared_redis_url, "--postgres", postgres_url]
    arguments += ["--streams", "30", "--flat-streams", "20", "--rate", "60"]
    arguments += ["--seconds", "1", "--settle", "0.1"]
    arguments += ["--broadcasts", "1", "--replays", "1", "--output", str(output)]
    arguments += ["--storm-streams", "10", "--storm-rate", "40", "--storm-before", "0.5", "--storm-after", "0.5"]
    subprocess.run([sys.executable, "-m", "bench", *arguments], cwd=ROOT, check=True, timeout=200)

    report = json.loads(output.with_suffix(".json").read_text())
    targets = report["targets"]
    assert set(targets) == {"herald", "baseline", "ceiling"}
    for name, results in targets.items():
        assert results["connect_failures"] == 0, name
        assert results["rate"]["sent"] == 60, name
        assert results["rate"]["lost"] == 0, name
        assert results["broadcast"]["missed"] == 0, name
        assert results["flat"]["lost"] == 0, name
        assert results["publish_per_s"] > 0, name
    assert targets["herald"]["replay_ms"] > 0
    outbox = targets["herald"]["outbox"]  # the relay published every committed event, or the run would fail
    assert outbox["committed_per_s"] > 0
    assert outbox["relayed_per_s"] > 0
    assert outbox["bulk_relayed_per_s"] > 0
    assert "outbox" not in targets["baseline"]
    table = output.read_text()
    assert "| resume 1,000 events behind (ms) |" in table
    assert "Herald / baseline" in table
    assert (targets["herald"]["storm"]["not_back"], targets["herald"]["storm"]["lost"]) == (0, 0)
    assert "| storm: events lost |" in table  # the storm ends the usual run, after the main table


def test_a_tiny_matrix_measures_every_point_for_every_target(tmp_path: Path, shared_redis_url: str) -> None:
    output = tmp_path / "matrix.md"
    arguments = ["--redis", shared_redis_url, "--matrix", "--matrix-streams", "10,20", "--matrix-rates", "20,40"]
    arguments += ["--seconds", "1", "--settle", "0.1", "--output", str(output)]
    subprocess.run([sys.executable, "-m", "bench", *arguments], cwd=ROOT, check=True, timeout=200)

    targets = json.loads(output.with_suffix(".json").read_text())["targets"]
    points = {f"{streams} streams, {rate} events/s" for streams in (10, 20) for rate in (20, 40)}
    for name, results in targets.items():
        assert set(results["matrix"]) == points, name
        for point, figures in results["matrix"].items():
            assert (figures["lost"], figures["refused"]) == (0, 0), (name, point)
            # At this tiny load a target may use less than one clock tick (10 ms) of CPU: 0 is a reading.
            assert figures["cpu_us_per_event"] >= 0, (name, point)
    assert "| 20 streams, 40 events/s |" in output.read_text()


def test_a_tiny_group_run_reaches_every_stream_every_way(tmp_path: Path, shared_redis_url: str) -> None:
    output = tmp_path / "groups.md"
    arguments = ["--redis", shared_redis_url, "--groups", "--streams", "20", "--processes", "2"]
    arguments += ["--group-events", "2", "--settle", "0.1", "--output", str(output)]
    subprocess.run([sys.executable, "-m", "bench", *arguments], cwd=ROOT, check=True, timeout=200)

    service = json.loads(output.with_suffix(".json").read_text())["targets"]["herald"]
    assert service["connect_failures"] == 0
    for kind in ("group", "users", "everyone"):
        figures = service[kind]
        assert (figures["events"], figures["missed"]) == (2, 0), kind
        assert figures["p50_ms"] > 0, kind
        assert figures["server_cpu_us_per_delivery"] >= 0, kind  # under a clock tick at this size: 0 is a reading
    assert "| delivery latency p99 (ms) |" in output.read_text()


def test_a_tiny_presence_run_counts_the_upkeep_and_the_joins_and_leaves_of_a_restart(
    tmp_path: Path, shared_redis_url: str, postgres_url: str
) -> None:
    output = tmp_path / "presence.md"
    arguments = ["--redis", shared_redis_url, "--postgres", postgres_url, "--presence", "--streams", "40"]
    arguments += ["--presence-window", "1", "--presence-queries", "5", "--presence-watchers", "4"]
    arguments += ["--presence-samplers", "2", "--presence-grace", "3", "--presence-timeout", "3"]
    arguments += ["--settle", "0.1", "--output", str(output)]
    subprocess.run([sys.executable, "-m", "bench", *arguments], cwd=ROOT, check=True, timeout=200)

    service = json.loads(output.with_suffix(".json").read_text())["targets"]["herald"]
    for streams in ("untracked", "tracked"):
        assert service[streams]["connect_failures"] == 0, streams
        assert service[streams]["sweeps_per_s"] > 0, streams  # every process sweeps, tracking anyone or not
    assert service["tracked"]["renewals_per_s"] > 0
    assert service["reads"]["members"] == 40
    assert all(service["reads"][read]["p50_ms"] > 0 for read in ("http_count", "http_page", "store_page"))
    assert (service["report_watchers"], service["report_samplers"]) == (4, 2)
    # 20 streams per process; back within the grace (however they came back), nobody left or joined.
    for case in ("restart", "move_back"):
        figures = service[case]
        assert (figures["streams"], figures["reconnect_failures"]) == (20, 0), case
        assert (figures["tenant_changes"], figures["report_messages_written"]) == (0, 0), case
        assert figures["lowest_count"] == 40, case
    # Back after it: each of them left and joined once, one message each to every member of the report's group.
    late = service["late"]
    assert (late["tenant_changes"], late["report_messages_written"], late["report_messages_per_sampler"]) == (40, 8, 8)
    table = output.read_text()
    assert "| Redis commands/s (with those run by scripts) |" in table
    assert "| tenant's group: joins and leaves (not announced) |" in table


def test_a_tiny_storm_brings_every_stream_back_without_losing_or_repeating_an_event(
    tmp_path: Path, shared_redis_url: str
) -> None:
    output = tmp_path / "storm.md"
    arguments = ["--redis", shared_redis_url, "--storm", "--storm-streams", "50", "--storm-rate", "200"]
    arguments += ["--storm-before", "1", "--storm-after", "1", "--settle", "0.1", "--output", str(output)]
    subprocess.run([sys.executable, "-m", "bench", *arguments], cwd=ROOT, check=True, timeout=120)

    report = json.loads(output.with_suffix(".json").read_text())
    assert set(report["targets"]) == {"herald"}  # the storm alone: no main table
    storm = report["targets"]["herald"]["storm"]
    assert (storm["connect_failures"], storm["streams"], storm["not_back"]) == (0, 50, 0)
    assert storm["no_id_at_sigterm"] == 0  # every moved stream had an id to resume from
    assert storm["published"] >= 200 * 2  # the window before and the one after, at least
    assert (storm["lost"], storm["repeated"], storm["misdelivered"]) == (0, 0, 0)
    assert storm["back_s"] > 0
    assert storm["drain_s"] >= 0
    for window in ("before", "during"):
        assert storm[window]["events"] > 0, window
        assert storm[window]["p99_ms"] > 0, window
    assert storm["p99_ratio"] > 0
    table = output.read_text()
    assert "| storm: time until every stream is back (s) |" in table
    assert "| storm: other process p99 during / before |" in table
    assert "| fixed rate: latency p99 (ms) |" not in table


async def test_the_parts_of_the_stream_path_are_timed() -> None:
    """``bench/parts.py``'s in-process parts, tiny: each runs and measures something (its servers aside)."""
    from bench import parts  # noqa: PLC0415 - the module times nothing when imported

    per_message, per_delivery = await parts.live_delivery(streams=3, messages=20)
    assert per_message > per_delivery > 0
    objects, size = await parts.kept_per_stream(streams=50)
    assert objects > 0
    assert size > 0
    assert all(figure > 0 for figure in parts.publishing(events=20))
    traced, _ = await parts.live_delivery(streams=3, messages=20, traced=True)
    assert traced > 0
    assert all(figure > 0 for figure in parts.publishing(events=20, traced=True))


async def test_the_hot_path_is_timed_from_the_message_to_each_streams_write() -> None:
    """``bench/delivery_path.py``, tiny: every frame fanned out is written (it asserts so), and it takes time."""
    from bench import delivery_path  # noqa: PLC0415 - the module times nothing when imported

    assert await delivery_path.delivery_path(streams=10, messages=20, broadcast=False) > 0
    assert await delivery_path.delivery_path(streams=10, messages=20, broadcast=True) > 0
