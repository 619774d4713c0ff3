"""Simulated pods: LangSmith services, ClickHouse and their container logs."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lsconform.constants import CLICKHOUSE_FAMILIES, LANGSMITH_HTTP_FAMILIES
from lsconform.sandbox.pods import PodGroup, start_pods
from lsconform.sandbox.pods.canaries import CANARY_VALUES, canary_text_lines
from lsconform.sandbox.pods.crilog import CRI_MAX_LINE_BYTES, cri_lines
from lsconform.sandbox.pods.exposition import (
    CLICKHOUSE_ASYNC_METRICS,
    CLICKHOUSE_EVENTS,
    CLICKHOUSE_METRICS,
)

try:
    from .test_pods_support import (
        CRI_LINE,
        container_link,
        families,
        get,
        log_files,
        make_plan,
        node_root,
        refuses,
        sample_value,
    )
except ImportError:
    from test_pods_support import (  # type: ignore[no-redef]
        CRI_LINE,
        container_link,
        families,
        get,
        log_files,
        make_plan,
        node_root,
        refuses,
        sample_value,
    )


class Release:
    """A started group of simulated pods and their plans, by short name."""

    def __init__(self, workdir: Path, group: PodGroup, plans: dict[str, dict[str, Any]]) -> None:
        self.workdir = workdir
        self.group = group
        self.plans = plans

    def ip(self, name: str) -> str:
        return str(self.plans[name]["ip"])


def _healthy_plans(workdir: Path) -> dict[str, dict[str, Any]]:
    plans = {
        "backend": make_plan(workdir, "langsmith-backend-6c9d4-a1b2c", "langsmith-service",
                             "backend", [("backend", 1984)]),
        "platform": make_plan(workdir, "langsmith-platform-backend-7f8-x9y8z",
                              "langsmith-service", "platform-backend", [("platform", 1986)]),
        "playground": make_plan(workdir, "langsmith-playground-55-q1w2e", "langsmith-service",
                                "playground", [("playground", 1988)]),
        "host-backend": make_plan(workdir, "langsmith-host-backend-12-r4t5y",
                                  "langsmith-service", "host-backend", [("host-backend", 1985)]),
        "queue": make_plan(workdir, "langsmith-queue-8b-u7i8o", "langsmith-service", "queue",
                           [("queue", 8080)], restart_count=2),
        "ingest-queue": make_plan(workdir, "langsmith-ingest-queue-3-p0a9s",
                                  "langsmith-service", "ingest-queue", [("ingest-queue", 1989)]),
        "ace": make_plan(workdir, "langsmith-ace-backend-4-d8f7g", "langsmith-service",
                         "ace-backend", [("ace", 1987)]),
        "insights": make_plan(workdir, "langsmith-standalone-insights-api-server-9-h6j5k",
                              "langsmith-service", "standalone-insights-api-server",
                              [("api-server", 8000)], container="api-server"),
        "operator": make_plan(workdir, "langsmith-operator-2-l4z3x", "langsmith-service",
                              "operator", []),
        "clickhouse": make_plan(workdir, "langsmith-clickhouse-0", "clickhouse", "clickhouse",
                                [("ch", 8123), ("ch-native", 9000), ("ch-metrics", 9363)]),
        "generic": make_plan(workdir, "kube-state-metrics-5-c2v1b", "generic", "", [("http", 8080)],
                             namespace="langsmith-observability"),
    }  # fmt: skip
    return plans


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    workdir = tmp_path_factory.mktemp("pods-healthy")
    plans = _healthy_plans(workdir)
    group = start_pods(list(plans.values()), workdir, frozenset())
    try:
        yield Release(workdir, group, plans)
    finally:
        group.stop()


# Status -----------------------------------------------------------------------------------


def test_status_reports_every_container_started(release: Release) -> None:
    for plan in release.plans.values():
        for container in plan["containers"]:
            key = f"{plan['namespace']}/{plan['name']}"
            entry = release.group.status[key][container["name"]]
            assert entry["started"] is True, (key, entry)


def test_backends_report_simulated_roles(release: Release) -> None:
    assert release.group.backends["langsmith-service"] == "simulated"
    assert release.group.backends["clickhouse"] == "simulated"
    assert "langsmith-service" not in release.group.binaries


# Health -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "port", "path"),
    [
        ("backend", 1984, "/health"),
        ("platform", 1986, "/ok"),
        ("playground", 1988, "/ok"),
        ("host-backend", 1985, "/ok"),
        ("queue", 8080, "/health"),
        ("ingest-queue", 1989, "/health"),
        ("ace", 1987, "/ok"),
        ("insights", 8000, "/ok?check_db=1"),
        ("insights", 8000, "/ok?check_db=0"),
        ("operator", 8081, "/readyz"),
        ("operator", 8081, "/healthz"),
        ("generic", 8080, "/health"),
    ],
)
def test_health_endpoint_answers_200(release: Release, name: str, port: int, path: str) -> None:
    status, _headers, _body = get(release.ip(name), port, path)
    assert status == 200


def test_unknown_path_answers_404(release: Release) -> None:
    status, _headers, body = get(release.ip("backend"), 1984, "/no/such/route")
    assert status == 404
    assert json.loads(body) == {"detail": "Not Found"}


# Metrics ----------------------------------------------------------------------------------


def test_backend_metrics_carry_dashboard_families(release: Release) -> None:
    get(release.ip("backend"), 1984, "/health")
    status, headers, body = get(release.ip("backend"), 1984, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    parsed = families(body)
    for family in LANGSMITH_HTTP_FAMILIES:
        name = family.removesuffix("_total")
        assert name in parsed, family
    assert parsed["langsmith_http_requests"].type == "counter"
    assert parsed["langsmith_http_requests_latency_seconds"].type == "histogram"
    assert parsed["langsmith_http_requests_in_progress"].type == "gauge"
    assert parsed["langsmith_http_requests_size_bytes"].type == "histogram"
    assert "langsmith_pg_pool_used" in parsed
    assert "langsmith_pg_pool_idle" in parsed
    assert "process_cpu_seconds" in parsed
    assert b'app_name="backend"' in body
    assert (
        sample_value(
            body,
            "langsmith_http_requests_latency_seconds_bucket",
            app_name="backend",
            path="/health",
        )
        >= 1
    )


def test_counters_move_with_traffic(release: Release) -> None:
    ip = release.ip("backend")
    _status, _headers, before = get(ip, 1984, "/metrics")
    for path in ("/health", "/anything/at/all", "/info"):
        get(ip, 1984, path)
    _status, _headers, after = get(ip, 1984, "/metrics")
    total_before = sample_value(before, "langsmith_http_requests_total", app_name="backend")
    total_after = sample_value(after, "langsmith_http_requests_total", app_name="backend")
    # Three requests, plus the first scrape, which counts too.
    assert total_after - total_before >= 4
    assert sample_value(after, "langsmith_http_requests_total", path="unmatched", status="404") >= 1


def test_platform_backend_metrics_and_go_runtime(release: Release) -> None:
    status, _headers, body = get(release.ip("platform"), 1986, "/metrics")
    assert status == 200
    parsed = families(body)
    assert "langsmith_http_requests" in parsed
    assert "go_goroutines" in parsed
    assert b'app_name="platform-backend"' in body
    assert "langsmith_pg_pool_used" not in parsed


def test_platform_backend_keda_json(release: Release) -> None:
    status, headers, body = get(release.ip("platform"), 1986, "/metrics?format=json")
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    document = json.loads(body)
    for queue in ("ingestion_queue", "feedback_queue", "adhoc_queue"):
        assert isinstance(document[queue]["pending"], int)


@pytest.mark.parametrize("queue", ["default", "host"])
def test_backend_keda_queue_json(release: Release, queue: str) -> None:
    status, _headers, body = get(release.ip("backend"), 1984, f"/metrics/queue/{queue}")
    assert status == 200
    assert isinstance(json.loads(body)["queued"], int)


@pytest.mark.parametrize(("name", "port"), [("playground", 1988), ("host-backend", 1985)])
def test_other_services_serve_parseable_exposition(release: Release, name: str, port: int) -> None:
    status, _headers, body = get(release.ip(name), port, "/metrics")
    assert status == 200
    assert "langsmith_http_requests" in families(body)


@pytest.mark.parametrize(
    ("name", "port"), [("queue", 8080), ("ingest-queue", 1989), ("ace", 1987), ("insights", 8000)]
)
def test_services_without_metrics_answer_404(release: Release, name: str, port: int) -> None:
    status, _headers, _body = get(release.ip(name), port, "/metrics")
    assert status == 404


def test_registries_are_per_pod(release: Release) -> None:
    for _ in range(3):
        get(release.ip("playground"), 1988, "/ok")
    _status, _headers, body = get(release.ip("host-backend"), 1985, "/metrics")
    assert sample_value(body, "langsmith_http_requests_total", app_name="playground") == 0


# ClickHouse -------------------------------------------------------------------------------


def test_clickhouse_ping_and_native_port(release: Release) -> None:
    ip = release.ip("clickhouse")
    status, _headers, body = get(ip, 8123, "/ping")
    assert status == 200
    assert body == b"Ok.\n"
    with socket.create_connection((ip, 9000), timeout=2.0):
        pass


def test_clickhouse_metrics_shape(release: Release) -> None:
    status, _headers, body = get(release.ip("clickhouse"), 9363, "/metrics")
    assert status == 200
    text = body.decode()
    for family in CLICKHOUSE_FAMILIES:
        assert f"# TYPE {family} " in text, family
    for name in CLICKHOUSE_METRICS:
        assert f"# TYPE ClickHouseMetrics_{name} gauge\n" in text, name
    for name in CLICKHOUSE_EVENTS:
        assert f"# TYPE ClickHouseProfileEvents_{name} counter\n" in text, name
        assert f"\nClickHouseProfileEvents_{name} " in text, name
    for name in CLICKHOUSE_ASYNC_METRICS:
        assert f"# TYPE ClickHouseAsyncMetrics_{name} gauge\n" in text, name
    assert "# TYPE ClickHouseErrorMetric_ALL counter\n" in text
    # Every family has a HELP line right before its TYPE line, as ClickHouse writes them.
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("# TYPE "):
            assert lines[index - 1].startswith("# HELP " + line.split()[2] + " "), line
    parsed = families(body)
    assert parsed["ClickHouseAsyncMetrics_Uptime"].samples[0].value >= 0


def test_clickhouse_metrics_cover_dashboard_names() -> None:
    reference = Path("/work/shared/reference/metrics-samples.md")
    if not reference.is_file():
        pytest.skip("the dashboard reference file is not present on this machine")
    text = reference.read_text()
    section = text[text.index("## ClickHouse") : text.index("## Kubernetes objects")]
    for group, names in (
        ("ClickHouseMetrics_", CLICKHOUSE_METRICS),
        ("ClickHouseProfileEvents_", CLICKHOUSE_EVENTS),
        ("ClickHouseAsyncMetrics_", CLICKHOUSE_ASYNC_METRICS),
    ):
        line = next(line for line in section.splitlines() if f"`{group}*`" in line)
        listed = line.split(":", 1)[1].strip().rstrip(".").split(", ")
        missing = set(listed) - set(names)
        assert not missing, (group, missing)


# Logs -------------------------------------------------------------------------------------


def _records(path: Path) -> list[tuple[str, str, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = CRI_LINE.match(line)
        assert match, f"not a CRI line: {line!r}"
        out.append((match.group(1), match.group(2), match.group(3)))
    return out


def test_logs_are_cri_lines_with_json_records(release: Release) -> None:
    plan = release.plans["backend"]
    get(release.ip("backend"), 1984, "/info")
    records = _records(log_files(plan) / "0.log")
    # Every line is a JSON record except the plain canary lines (an error and a run repr).
    plain = [message for _stream, _tag, message in records if not message.startswith("{")]
    assert plain == [text for _stream, text in canary_text_lines()]
    messages = [json.loads(m) for _stream, _tag, m in records if m.startswith("{")]
    assert messages[0]["msg"] == "starting service"
    assert all({"level", "msg", "time"} <= set(m) for m in messages)
    served = [m for m in messages if m["msg"] == "request served" and m["path"] == "/info"]
    assert served
    assert served[-1]["status"] == 200


def test_container_link_targets_node_path(release: Release) -> None:
    plan = release.plans["platform"]
    link = container_link(release.workdir, plan)
    assert link.is_symlink()
    target = os.readlink(link)
    pod_dir = f"{plan['namespace']}_{plan['name']}_{plan['uid']}"
    assert target == f"/var/log/pods/{pod_dir}/platform-backend/0.log"
    resolved = node_root(release.workdir, plan) / target.lstrip("/")
    assert resolved.is_file()


def test_restarted_container_keeps_previous_file(release: Release) -> None:
    plan = release.plans["queue"]
    directory = log_files(plan)
    assert sorted(p.name for p in directory.iterdir()) == ["1.log", "2.log"]
    previous = _records(directory / "1.log")
    assert json.loads(previous[-1][2])["msg"] == "process exited"
    link = container_link(release.workdir, plan)
    assert os.readlink(link).endswith("/queue/2.log")


def test_canaries_are_logged(release: Release) -> None:
    text = (log_files(release.plans["backend"]) / "0.log").read_text()
    for value in CANARY_VALUES:
        assert value in text
    assert '{\\"inputs\\": {\\"api_key\\": \\"lsv2_pt_' in text


def test_clickhouse_logs_in_its_own_format(release: Release) -> None:
    records = _records(log_files(release.plans["clickhouse"]) / "0.log")
    assert any("<Information> Application: Ready for connections." in m for _s, _t, m in records)


# Start and stop ---------------------------------------------------------------------------


def test_stop_leaves_no_listener(tmp_path: Path) -> None:
    plans = [
        make_plan(tmp_path, "langsmith-backend-1-aaaaa", "langsmith-service", "backend",
                  [("backend", 1984)]),
        make_plan(tmp_path, "langsmith-clickhouse-0", "clickhouse", "clickhouse",
                  [("ch", 8123), ("ch-native", 9000), ("ch-metrics", 9363)]),
    ]  # fmt: skip
    group = start_pods(plans, tmp_path, frozenset())
    host_pid = group.host.pid if group.host else None
    assert get(plans[0]["ip"], 1984, "/health")[0] == 200
    group.stop()
    assert refuses(plans[0]["ip"], 1984)
    for port in (8123, 9000, 9363):
        assert refuses(plans[1]["ip"], port)
    assert host_pid is not None
    assert not Path(f"/proc/{host_pid}").exists()
    group.stop()  # a second stop is harmless


def test_first_scrape_has_every_family(tmp_path: Path) -> None:
    plan = make_plan(
        tmp_path, "langsmith-backend-1-fresh", "langsmith-service", "backend", [("backend", 1984)]
    )
    with start_pods([plan], tmp_path, frozenset()):
        _status, _headers, body = get(plan["ip"], 1984, "/metrics")
    parsed = families(body)
    for family in LANGSMITH_HTTP_FAMILIES:
        name = family.removesuffix("_total")
        assert parsed[name].samples, family


def test_bind_failure_reported_in_status(tmp_path: Path) -> None:
    plan = make_plan(
        tmp_path, "langsmith-backend-1-busy", "langsmith-service", "backend", [("backend", 1984)]
    )
    with socket.socket() as blocker:
        blocker.bind((plan["ip"], 1984))
        blocker.listen()
        with start_pods([plan], tmp_path, frozenset()) as group:
            entry = group.status[f"langsmith/{plan['name']}"]["backend"]
    assert entry["started"] is False
    assert entry["reason"].startswith(f"failed to bind {plan['ip']}: ")


def test_long_record_split_into_partial_lines() -> None:
    message = "x" * (CRI_MAX_LINE_BYTES * 2 + 10)
    lines = cri_lines("stderr", message, timestamp_ns=1_796_000_000_123_456_789)
    parsed = [CRI_LINE.match(line.rstrip("\n")) for line in lines]
    assert all(parsed)
    assert [m.group(2) for m in parsed if m] == ["P", "P", "F"]
    assert "".join(m.group(3) for m in parsed if m) == message
    assert lines[0].startswith("2026-11-30T")
    assert lines[0].split(" ", 1)[0].endswith(".123456789Z")


def test_short_record_is_one_full_line() -> None:
    assert cri_lines("stdout", "hello", timestamp_ns=0) == [
        "1970-01-01T00:00:00.000000000Z stdout F hello\n"
    ]
