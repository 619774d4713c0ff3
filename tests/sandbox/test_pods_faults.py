"""Pod-side faults: each one behaves as its real failure does, checked with plain clients."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lsconform.sandbox.pods import PodGroup, start_pods
from lsconform.sandbox.pods.plans import assign_faults
from lsconform.sandbox.pods.services import METRICS_TIMEOUT_DELAY_S

try:
    from .test_pods_support import (
        container_link,
        families,
        get,
        log_files,
        make_plan,
        node_root,
        refuses,
    )
except ImportError:
    from test_pods_support import (  # type: ignore[no-redef]
        container_link,
        families,
        get,
        log_files,
        make_plan,
        node_root,
        refuses,
    )

BACKEND_FAULTS = (
    "backend-metrics-down",
    "metrics-malformed",
    "metrics-html",
    "histogram-broken",
    "metrics-families-missing",
    "logs-missing-on-node",
    "logs-link-dangling",
    "container-silent",
)


class Faulty:
    def __init__(self, workdir: Path, group: PodGroup, plans: dict[str, dict[str, Any]]) -> None:
        self.workdir = workdir
        self.group = group
        self.plans = plans

    def ip(self, name: str) -> str:
        return str(self.plans[name]["ip"])


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faulty]:
    """One backend pod per backend fault (named in its plan), plus ClickHouse and the queue."""
    workdir = tmp_path_factory.mktemp("pods-faulty")
    plans: dict[str, dict[str, Any]] = {}
    for index, fault in enumerate(BACKEND_FAULTS):
        plans[fault] = make_plan(
            workdir,
            f"langsmith-backend-6c9d4-f{index:04d}",
            "langsmith-service",
            "backend",
            [("backend", 1984)],
            faults=[fault],
        )
    plans["clickhouse"] = make_plan(
        workdir,
        "langsmith-clickhouse-0",
        "clickhouse",
        "clickhouse",
        [("ch", 8123), ("ch-native", 9000), ("ch-metrics", 9363)],
        faults=["clickhouse-metrics-off"],
    )
    plans["queue"] = make_plan(
        workdir,
        "langsmith-queue-8b-u7i8o",
        "langsmith-service",
        "queue",
        [("queue", 8080)],
        restart_count=3,
        faults=["crashloop"],
    )
    group = start_pods(list(plans.values()), workdir, frozenset())
    try:
        yield Faulty(workdir, group, plans)
    finally:
        group.stop()


# Metrics faults ---------------------------------------------------------------------------


def test_metrics_down_refuses_connections(faulty: Faulty) -> None:
    assert refuses(faulty.ip("backend-metrics-down"), 1984)
    status = faulty.group.status[f"langsmith/{faulty.plans['backend-metrics-down']['name']}"]
    assert "backend-metrics-down" in status["backend"]["reason"]


def test_metrics_malformed_declares_family_twice(faulty: Faulty) -> None:
    status, _headers, body = get(faulty.ip("metrics-malformed"), 1984, "/metrics")
    assert status == 200
    text = body.decode()
    assert text.count("# TYPE langsmith_http_requests_in_progress gauge\n") == 2
    assert 'key="rating 5" stars"' in text
    with pytest.raises(ValueError):  # noqa: PT011 - the parser raises a bare ValueError
        list(text_string_to_metric_families(text))


def test_metrics_html_content_type(faulty: Faulty) -> None:
    status, headers, body = get(faulty.ip("metrics-html"), 1984, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert body.lstrip().lower().startswith(b"<!doctype html>")


def test_histogram_broken_buckets(faulty: Faulty) -> None:
    get(faulty.ip("histogram-broken"), 1984, "/health")
    _status, _headers, body = get(faulty.ip("histogram-broken"), 1984, "/metrics")
    lines = [
        line
        for line in body.decode().splitlines()
        if line.startswith("langsmith_http_requests_latency_seconds_bucket")
        and 'path="/health"' in line
    ]
    assert lines
    assert not any('le="+Inf"' in line for line in lines)
    values = [float(line.rsplit(" ", 1)[1]) for line in lines]
    assert values[1] < values[0]
    # The other histogram of the same pod stays intact.
    assert b'langsmith_http_requests_size_bytes_bucket{app_name="backend",le="+Inf"' in body


def test_metrics_families_missing(faulty: Faulty) -> None:
    _status, _headers, body = get(faulty.ip("metrics-families-missing"), 1984, "/metrics")
    parsed = families(body)
    assert not [name for name in parsed if name.startswith("langsmith_http_")]
    assert "langsmith_pg_pool_used" in parsed


def test_healthy_backend_metrics_unaffected(faulty: Faulty) -> None:
    # The log faults leave /metrics alone.
    _status, _headers, body = get(faulty.ip("container-silent"), 1984, "/metrics")
    assert "langsmith_http_requests" in families(body)


def test_clickhouse_metrics_off(faulty: Faulty) -> None:
    ip = faulty.ip("clickhouse")
    assert refuses(ip, 9363)
    assert get(ip, 8123, "/ping")[2] == b"Ok.\n"


# Log faults -------------------------------------------------------------------------------


def test_logs_missing_on_node(faulty: Faulty) -> None:
    plan = faulty.plans["logs-missing-on-node"]
    get(faulty.ip("logs-missing-on-node"), 1984, "/health")
    assert list(log_files(plan).glob("*.log")) == []
    assert not container_link(faulty.workdir, plan).is_symlink()


def test_logs_link_dangling(faulty: Faulty) -> None:
    plan = faulty.plans["logs-link-dangling"]
    link = container_link(faulty.workdir, plan)
    assert link.is_symlink()
    target = os.readlink(link)
    assert target.startswith("/")
    assert not (node_root(faulty.workdir, plan) / target.lstrip("/")).exists()
    # The kubelet's own file is still written, so `kubectl logs` keeps working.
    assert (log_files(plan) / "0.log").stat().st_size > 0


def test_container_silent(faulty: Faulty) -> None:
    plan = faulty.plans["container-silent"]
    get(faulty.ip("container-silent"), 1984, "/health")
    current = log_files(plan) / "0.log"
    assert current.is_file()
    assert current.read_text() == ""
    assert container_link(faulty.workdir, plan).is_symlink()


def test_crashloop_previous_log_has_traceback(faulty: Faulty) -> None:
    plan = faulty.plans["queue"]
    directory = log_files(plan)
    assert sorted(p.name for p in directory.iterdir()) == ["2.log", "3.log"]
    previous = (directory / "2.log").read_text()
    assert " stderr F Traceback (most recent call last):" in previous
    last = previous.splitlines()[-1].split(" F ", 1)[1]
    assert json.loads(last)["exit_code"] == 1
    assert "Traceback" not in (directory / "3.log").read_text()


# Faults named only in the run's fault set -------------------------------------------------


def test_fault_targets_fall_back_to_components() -> None:
    plans = [
        {"namespace": "langsmith", "name": f"langsmith-backend-x-{i}", "role": "langsmith-service",
         "component": "backend", "faults": []}
        for i in range(2)
    ] + [
        {"namespace": "langsmith", "name": "langsmith-queue-x-0", "role": "langsmith-service",
         "component": "queue", "faults": []},
        {"namespace": "langsmith", "name": "langsmith-frontend-x-0", "role": "frontend",
         "component": "frontend", "faults": []},
    ]  # fmt: skip
    faults = frozenset(
        {
            "backend-metrics-down",
            "container-silent",
            "crashloop",
            "nginx-status-missing",
            "collector-down",
        }
    )
    assigned = assign_faults(plans, faults)
    assert assigned["langsmith/langsmith-backend-x-0"] == {
        "backend-metrics-down",
        "container-silent",
    }
    assert assigned["langsmith/langsmith-backend-x-1"] == {"backend-metrics-down"}
    assert assigned["langsmith/langsmith-queue-x-0"] == {"crashloop"}
    assert assigned["langsmith/langsmith-frontend-x-0"] == {"nginx-status-missing"}


def test_fault_named_by_a_plan_stays_there() -> None:
    plans = [
        {"namespace": "ls", "name": "b-0", "role": "langsmith-service", "component": "backend",
         "faults": []},
        {"namespace": "ls", "name": "q-0", "role": "langsmith-service", "component": "queue",
         "faults": ["crashloop"]},
        {"namespace": "ls", "name": "q-1", "role": "langsmith-service", "component": "queue",
         "faults": []},
    ]  # fmt: skip
    assigned = assign_faults(plans, frozenset({"crashloop"}))
    assert assigned == {"ls/b-0": set(), "ls/q-0": {"crashloop"}, "ls/q-1": set()}


def test_global_metrics_down_closes_every_backend(tmp_path: Path) -> None:
    plans = [
        make_plan(
            tmp_path,
            f"langsmith-backend-1-b{i}",
            "langsmith-service",
            "backend",
            [("backend", 1984)],
        )
        for i in range(2)
    ] + [
        make_plan(
            tmp_path,
            "langsmith-platform-backend-1-p0",
            "langsmith-service",
            "platform-backend",
            [("platform", 1986)],
        )
    ]
    with start_pods(plans, tmp_path, frozenset({"backend-metrics-down"})):
        assert refuses(plans[0]["ip"], 1984)
        assert refuses(plans[1]["ip"], 1984)
        assert get(plans[2]["ip"], 1986, "/metrics")[0] == 200


def test_metrics_timeout_does_not_block_stop(tmp_path: Path) -> None:
    plan = make_plan(
        tmp_path,
        "langsmith-backend-1-t0",
        "langsmith-service",
        "backend",
        [("backend", 1984)],
        faults=["metrics-timeout"],
    )
    group = start_pods([plan], tmp_path, frozenset())
    outcome: dict[str, object] = {}

    def scrape() -> None:
        try:
            outcome["response"] = get(
                plan["ip"], 1984, "/metrics", timeout=METRICS_TIMEOUT_DELAY_S + 5
            )
        except OSError as error:
            outcome["error"] = error

    try:
        with pytest.raises(TimeoutError):
            get(plan["ip"], 1984, "/metrics", timeout=1.0)
        assert get(plan["ip"], 1984, "/health")[0] == 200
        waiting = threading.Thread(target=scrape)
        waiting.start()
        time.sleep(0.2)
    finally:
        started = time.monotonic()
        group.stop()
        stopped_after = time.monotonic() - started
    waiting.join()
    # The scrape still pending when the pod stopped ends with an error, not with a response,
    # and the stop did not wait for the delayed response.
    assert "error" in outcome
    assert stopped_after < METRICS_TIMEOUT_DELAY_S
