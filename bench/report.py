"""The benchmark's Markdown table: one row per measurement, Herald beside the baseline and the ceiling."""

import math
from collections.abc import Callable
from typing import Any

Row = tuple[str, Callable[[dict[str, Any]], float | None], str, str]


def _get(*path: str) -> Callable[[dict[str, Any]], float | None]:
    def read(results: dict[str, Any]) -> float | None:
        value: Any = results
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return float(value)

    return read


def _outbox_rows() -> list[Row]:
    """Herald only: events raised in units of work on PostgreSQL and relayed from the outbox."""
    single, bulk = "outbox, an event per transaction", "outbox, 500 events per transaction"
    return [
        (f"{single}: committed (events/s)", _get("outbox", "committed_per_s"), "{:,.0f}", "higher"),
        (f"{single}: relayed (events/s)", _get("outbox", "relayed_per_s"), "{:,.0f}", "higher"),
        (
            f"{single}: publishing process CPU per event (µs)",
            _get("outbox", "publisher_cpu_us_per_event"),
            "{:.0f}",
            "lower",
        ),
        (f"{single}: Redis CPU per event (µs)", _get("outbox", "redis_cpu_us_per_event"), "{:.1f}", "lower"),
        (f"{bulk}: relayed (events/s)", _get("outbox", "bulk_relayed_per_s"), "{:,.0f}", "higher"),
        (
            f"{bulk}: publishing process CPU per event (µs)",
            _get("outbox", "bulk_publisher_cpu_us_per_event"),
            "{:.0f}",
            "lower",
        ),
    ]


#: (label, value, format, better) where better is "lower" or "higher".
ROWS: list[Row] = [
    ("open all streams (s)", _get("connect_s"), "{:.1f}", "lower"),
    ("server CPU per stream opened (µs)", _get("open_cpu_us_per_stream"), "{:,.0f}", "lower"),
    ("streams refused or failed", _get("connect_failures"), "{:.0f}", "lower"),
    ("RSS per idle stream (KiB)", _get("rss_per_stream_kib"), "{:.1f}", "lower"),
    ("fixed rate: latency p50 (ms)", _get("rate", "p50_ms"), "{:.1f}", "lower"),
    ("fixed rate: latency p99 (ms)", _get("rate", "p99_ms"), "{:.1f}", "lower"),
    ("fixed rate: latency max (ms)", _get("rate", "max_ms"), "{:.0f}", "lower"),
    ("fixed rate: events lost", _get("rate", "lost"), "{:.0f}", "lower"),
    ("fixed rate: server CPU per delivered event (µs)", _get("rate", "cpu_us_per_event"), "{:.0f}", "lower"),
    ("broadcast to all: p99 (ms)", _get("broadcast", "p99_ms"), "{:.0f}", "lower"),
    ("broadcast to all: last stream (ms)", _get("broadcast", "max_ms"), "{:.0f}", "lower"),
    ("broadcast: deliveries missed", _get("broadcast", "missed"), "{:.0f}", "lower"),
    ("flat out: offered (events/s)", _get("flat", "offered_per_s"), "{:,.0f}", "higher"),
    ("flat out: delivered (events/s)", _get("flat", "delivered_per_s"), "{:,.0f}", "higher"),
    ("flat out: delivered, but after the 3 s window", _get("flat", "late"), "{:,.0f}", "lower"),
    ("flat out: never delivered", _get("flat", "lost"), "{:,.0f}", "lower"),
    ("flat out: streams ended by the server (they resume)", _get("flat", "ended_by_server"), "{:.0f}", "lower"),
    ("flat out: latency p99 (ms)", _get("flat", "p99_ms"), "{:,.0f}", "lower"),
    ("flat out: server CPU per delivered event (µs)", _get("flat", "cpu_us_per_event"), "{:.0f}", "lower"),
    ("resume 1,000 events behind (ms)", _get("replay_ms"), "{:.0f}", "lower"),
    ("publish path (events/s, one process)", _get("publish_per_s"), "{:,.0f}", "higher"),
    ("publish path: publishing process CPU per event (µs)", _get("publisher_cpu_us_per_event"), "{:.0f}", "lower"),
    ("Redis CPU per published event (µs, all primaries)", _get("redis_cpu_us_per_event"), "{:.1f}", "lower"),
    *_outbox_rows(),
]


def _cell(value: float | None, fmt: str) -> str:
    if value is None:
        return "n/a"
    if math.isnan(value):
        return "none"
    return fmt.format(value)


def _ratio(mine: float | None, other: float | None) -> str:
    if mine is None or other is None or math.isnan(mine) or math.isnan(other) or other == 0:
        return ""
    return f"{mine / other:.2f}"


def render_matrix(report: dict[str, Any]) -> str:
    """The matrix (``--matrix``): per point, each target's p99, loss and server CPU per delivered event."""
    targets: dict[str, dict[str, Any]] = report["targets"]
    names = [name for name in ("herald", "baseline", "ceiling") if name in targets]
    points = next(iter(targets.values())).get("matrix", {})
    header = " | ".join(f"{name} p99 (ms) | {name} lost | {name} CPU/event (µs)" for name in names)
    lines = [
        f"Matrix: fixed rates for {report['options']['seconds']} s each. Machine: {report['machine']}."
        + (f" Each cell is the median of {report['runs']} whole runs." if report.get("runs", 1) > 1 else ""),
        "",
        f"| point | {header} | Herald p99 / baseline | Herald CPU / ceiling |",
        "|---|" + "---|" * (3 * len(names) + 2),
    ]
    for point in points:
        cells, values = [], {}
        for name in names:
            figures = targets[name].get("matrix", {}).get(point, {})
            values[name] = figures
            cells += [
                _cell(figures.get("p99_ms"), "{:.1f}"),
                _cell(figures.get("lost"), "{:,.0f}"),
                _cell(figures.get("cpu_us_per_event"), "{:.0f}"),
            ]
        service = values.get("herald", {})
        ratios = [
            _ratio(service.get("p99_ms"), values.get("baseline", {}).get("p99_ms")),
            _ratio(service.get("cpu_us_per_event"), values.get("ceiling", {}).get("cpu_us_per_event")),
        ]
        lines.append(f"| {point} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines) + "\n"


#: ``--groups``: (label, figure of each kind, format, better).
GROUP_ROWS = [
    ("delivery latency p50 (ms)", "p50_ms", "{:,.1f}", "lower"),
    ("delivery latency p99 (ms)", "p99_ms", "{:,.1f}", "lower"),
    ("last stream (ms)", "max_ms", "{:,.1f}", "lower"),
    ("server CPU per delivery (µs, every process)", "server_cpu_us_per_delivery", "{:.1f}", "lower"),
    ("publish call (ms)", "publish_ms", "{:.1f}", "lower"),
    ("publishing process CPU per event (ms)", "publisher_cpu_ms", "{:.1f}", "lower"),
    ("Redis CPU per event (ms)", "redis_cpu_ms", "{:.2f}", "lower"),
    ("deliveries missed (every event)", "missed", "{:,.0f}", "lower"),
]


def render_groups(report: dict[str, Any]) -> str:
    """``--groups``: each figure's median over the events, the group's beside the set of users' and everyone's."""
    options, service = report["options"], report["targets"]["herald"]
    group, users, everyone = service["group"], service["users"], service["everyone"]
    lines = [
        f"One event to {options['streams']} streams over {options['processes']} Herald processes, addressed to "
        f"the tenant's group (one write), as a set of {options['streams']} users (a write per user) or to "
        f"everyone (a broadcast, for reference); {group['events']} events of each kind, taking turns; each cell "
        "the median over the events. "
        f"Streams opened in {service['connect_s']:.1f} s, {service['connect_failures']} refused or failed; "
        f"idle, the servers used {service['idle_server_cpu_ms_per_s']:.0f} ms of CPU per second. "
        f"Redis: {report.get('redis', 'given by URL')}. Machine: {report['machine']}."
        + (f" Each figure is the median of {report['runs']} whole runs." if report.get("runs", 1) > 1 else ""),
        "",
        "| per event | better | group | set of users | everyone | group / set of users | group / everyone |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, name, fmt, better in GROUP_ROWS:
        mine, values = group.get(name), [group.get(name), users.get(name), everyone.get(name)]
        ratios = [_ratio(mine, users.get(name)), _ratio(mine, everyone.get(name))] if name != "missed" else ["", ""]
        cells = [_cell(value, fmt) for value in values] + ratios
        lines.append(f"| {label} | {better} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


#: ``--presence``, idle: (label, figure of each set of streams, format).
PRESENCE_IDLE_ROWS = [
    ("Redis commands/s (with those run by scripts)", "commands_per_s", "{:,.1f}"),
    ("Redis script calls/s (EVALSHA)", "script_calls_per_s", "{:,.2f}"),
    ("of which presence sweeps/s (REAP, every partition)", "sweeps_per_s", "{:,.2f}"),
    ("of which lease renewals/s (RENEW)", "renewals_per_s", "{:,.2f}"),
    ("Redis CPU (ms/s)", "redis_cpu_ms_per_s", "{:.2f}"),
    ("server CPU (ms/s, every process)", "server_cpu_ms_per_s", "{:.1f}"),
    ("opening: Redis commands per stream", "open_commands_per_stream", "{:.2f}"),
    ("opening: Redis script calls, all streams", "open_script_calls", "{:,.0f}"),
    ("opening: all streams (s)", "connect_s", "{:.1f}"),
    ("opening: streams refused or failed", "connect_failures", "{:.0f}"),
]

#: ``--presence``, the restart: (label, figure of each case, format).
PRESENCE_RESTART_ROWS = [
    ("streams moved", "streams", "{:,.0f}"),
    ("SIGTERM → every moved stream ended (s)", "ended_s", "{:.1f}"),
    ("moved streams all open again (s; within the grace: from SIGTERM)", "reconnected_s", "{:.1f}"),
    ("reconnects refused (a 503), each tried again", "reconnects_refused", "{:,.0f}"),
    ("streams that could not reconnect at all", "reconnect_failures", "{:,.0f}"),
    ("SIGTERM → the stopped process's lease swept (s)", "swept_s", "{:.1f}"),
    ("SIGTERM → the moved users gone from the count (s)", "left_s", "{:.1f}"),
    ("→ back in the count once they reconnected (s)", "joined_s", "{:.1f}"),
    ("lowest count seen meanwhile", "lowest_count", "{:,.0f}"),
    ("tenant's group: joins and leaves (not announced)", "tenant_changes", "{:,.0f}"),
    ("report's group: presence messages written (its log)", "report_messages_written", "{:,.0f}"),
    ("report's group: messages received per sampling member", "report_messages_per_sampler", "{:,.0f}"),
    ("report's group: messages delivered to every watcher", "report_messages_delivered", "{:,.0f}"),
]


def render_presence(report: dict[str, Any]) -> str:
    """``--presence``: upkeep beside the untracked baseline, the reads, and the restart's joins and leaves."""
    service = report["targets"]["herald"]
    untracked, tracked, reads = service["untracked"], service["tracked"], service["reads"]
    streams = report["options"]["streams"]
    runs = f" Each figure is the median of {report['runs']} whole runs." if report.get("runs", 1) > 1 else ""
    lines = [
        f"{streams} streams over {service['processes']} Herald processes; grace {service['grace_s']:g} s, timeout "
        f"{service['timeout_s']:g} s (an upkeep round every {tracked['period_s']:g} s). Idle: the median over "
        f"{tracked['periods']:.0f} upkeep periods. Redis: {report.get('redis', 'given by URL')}. "
        f"Machine: {report['machine']}.{runs}",
        "",
        "| idle streams | untracked (no group) | tracked (a tenant's group) | tracked / untracked |",
        "|---|---|---|---|",
    ]
    for label, name, fmt in PRESENCE_IDLE_ROWS:
        mine, base = tracked.get(name), untracked.get(name)
        lines.append(f"| {label} | {_cell(base, fmt)} | {_cell(mine, fmt)} | {_ratio(mine, base)} |")
    lines += [
        "",
        f"| reading a group of {reads['members']:,.0f} members ({reads['http_count']['calls']:.0f} calls each) "
        "| p50 (ms) | p99 (ms) |",
        "|---|---|---|",
    ]
    for label, name in (
        ("HTTP: count (`?members=false`)", "http_count"),
        ("HTTP: page of 100 (`?limit=100&after=`)", "http_page"),
        ("store call: count (ZCARD)", "store_count"),
        ("store call: page of 100 (the PAGE script)", "store_page"),
    ):
        figures = reads[name]
        lines.append(f"| {label} | {_cell(figures['p50_ms'], '{:.2f}')} | {_cell(figures['p99_ms'], '{:.2f}')} |")
    watchers = service.get("report_watchers")
    announced = (
        f"The report's group: {watchers:.0f} of the moved streams and {service['report_samplers']:.0f} sampling "
        "streams on the other process watch it."
        if watchers is not None
        else "No report's group (no database): joins and leaves are counted in the tenant's group only."
    )
    lines += [
        "",
        f"Restart: a process is stopped with SIGTERM. {announced}",
        "",
        "| restart | within the grace (reconnect at once) | moved back (close, reopen) "
        "| after the grace (back once gone) |",
        "|---|---|---|---|",
    ]
    cases = [service.get("restart", {}), service.get("move_back", {}), service.get("late", {})]
    for label, name, fmt in PRESENCE_RESTART_ROWS:
        cells = [_cell(case[name], fmt) if name in case else "-" for case in cases]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


#: The storm: (label, figure, format, better, target).
STORM_ROWS: list[tuple[str, Callable[[dict[str, Any]], float | None], str, str, str]] = [
    ("storm: streams open on the stopped process at the SIGTERM", _get("streams"), "{:,.0f}", "", ""),
    ("storm: SIGTERM → every one of them ended (s)", _get("ended_s"), "{:,.1f}", "lower", ""),
    ("storm: SIGTERM → the stopped process exited (s)", _get("exited_s"), "{:,.1f}", "lower", ""),
    ("storm: time until every stream is back (s)", _get("back_s"), "{:,.1f}", "lower", ""),
    ("storm: streams not back", _get("not_back"), "{:,.0f}", "lower", "0"),
    ("storm: reconnects refused or failed, each tried again", _get("reconnects_refused"), "{:,.0f}", "lower", ""),
    ("storm: events published", _get("published"), "{:,.0f}", "", ""),
    ("storm: events lost", _get("lost"), "{:,.0f}", "lower", "0"),
    ("storm: … of which by clients that never came back", _get("lost_not_back"), "{:,.0f}", "lower", ""),
    ("storm: events repeated", _get("repeated"), "{:,.0f}", "lower", "0"),
    ("storm: other process p99 before (ms)", _get("before", "p99_ms"), "{:,.1f}", "lower", ""),
    ("storm: other process p99 during (ms)", _get("during", "p99_ms"), "{:,.1f}", "lower", ""),
    ("storm: other process p99 during / before", _get("p99_ratio"), "{:.2f}", "lower", "≤ 2"),
    ("storm: other process CPU before (ms/s)", _get("before", "server_cpu_ms_per_s"), "{:,.0f}", "lower", ""),
    ("storm: other process CPU during (ms/s)", _get("during", "server_cpu_ms_per_s"), "{:,.0f}", "lower", ""),
    ("storm: load generator CPU before (ms/s)", _get("before", "load_generator_cpu_ms_per_s"), "{:,.0f}", "", ""),
    ("storm: load generator CPU during (ms/s)", _get("during", "load_generator_cpu_ms_per_s"), "{:,.0f}", "", ""),
    ("storm: whole machine CPU before (ms/s, every core)", _get("before", "machine_cpu_ms_per_s"), "{:,.0f}", "", ""),
    ("storm: whole machine CPU during (ms/s, every core)", _get("during", "machine_cpu_ms_per_s"), "{:,.0f}", "", ""),
    ("storm: publishing stopped → every event arrived (s)", _get("drain_s"), "{:.1f}", "lower", ""),
]


def render_storm(storm: dict[str, Any]) -> str:
    """The storm's own table: Herald only, beside the issue's targets."""
    refused = ", ".join(
        f"{status}: {count:,.0f}" for status, count in sorted(storm.get("refused_by_status", {}).items())
    )
    asked = storm.get("streams_asked")
    capped = f" ({asked:,.0f} asked for; this machine's open-file limit holds no more)" if asked else ""
    lines = [
        f"Storm: two Herald processes on one Redis, {storm['streams_per_process']:,.0f} streams each{capped}, "
        f"{storm['rate']:,.0f} events/s (each to one user, round robin over both); one is stopped with SIGTERM and "
        "its clients reconnect to the other with Last-Event-ID and the TypeScript client's full-jitter backoff. "
        '"During" is from the SIGTERM until every stream is back.'
        + (f" Refusals by status: {refused}." if refused else ""),
        "",
        "| storm | better | Herald | target |",
        "|---|---|---|---|",
    ]
    for label, read, fmt, better, target in STORM_ROWS:
        lines.append(f"| {label} | {better} | {_cell(read(storm), fmt)} | {target} |")
    return "\n".join(lines) + "\n"


def render_markdown(report: dict[str, Any]) -> str:
    """The table; ratios are Herald's value divided by the other's (see the "better" column)."""
    if report["options"].get("presence", "None") != "None":
        return render_presence(report)
    if report["options"].get("matrix") == "True":
        return render_matrix(report)
    if report["options"].get("groups") == "True":
        return render_groups(report)
    storm = report["targets"].get("herald", {}).get("storm")
    if report["options"].get("storm_only") == "True":
        return render_storm(storm)
    targets: dict[str, dict[str, Any]] = report["targets"]
    options = report["options"]
    service = targets.get("herald", {})
    lines = [
        f"Streams: {options['streams']} (flat out: {options['flat_streams']}); fixed rate: {options['rate']} events/s; "
        f"timed runs: {options['seconds']} s. Redis: {report.get('redis', 'given by URL')}. "
        f"Machine: {report['machine']}."
        + (f" Each cell is the median of {report['runs']} whole runs." if report.get("runs", 1) > 1 else ""),
        "",
        "| measurement | better | Herald | baseline | ceiling | Herald / baseline | Herald / ceiling |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, read, fmt, better in ROWS:
        values = {name: read(results) for name, results in targets.items()}
        mine = values.get("herald")
        cells = [_cell(values.get(name), fmt) if name in targets else "-" for name in ("herald", "baseline", "ceiling")]
        ratios = [_ratio(mine, values.get("baseline")), _ratio(mine, values.get("ceiling"))] if service else ["", ""]
        lines.append(f"| {label} | {better} | " + " | ".join(cells + ratios) + " |")
    if storm is not None:
        lines += ["", render_storm(storm)]
    return "\n".join(lines) + "\n"
