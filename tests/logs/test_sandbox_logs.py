"""The log checks against every sandbox profile and every log fault, through `pytest --sandbox`.

Each run starts its own sandbox in a subprocess, and the test reads the run's report.json.
Healthy profiles pass every log check and name each container's node path and its readers. Each
fault fails (or, for missing RBAC, errors) exactly the check meant to catch it, with cause and fix.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

PROFILES = ["default", "tracing-off", "fullname-override", "external-datastores", "control-plane"]

# fault -> (check id, status, words the summary must contain)
LOG_FAULTS = {
    "logs-missing-on-node": ("logs.node-file", "fail", "no log file in /var/log/pods/"),
    "logs-link-dangling": ("logs.node-file", "fail", "dangles on node"),
    "crashloop": ("logs.output", "fail", "restarted 3 times; the last run ended with exit code 1"),
    "container-silent": ("logs.output", "warn", "has written nothing to stdout or stderr"),
    "collector-excludes-namespace": ("logs.collected", "fail", "is excluded by"),
    "collector-glob-wrong": ("logs.collected", "fail", "match neither"),
    "collector-no-mount": ("logs.collected", "fail", "mounts no hostPath that contains it"),
    "collector-docker-parser": ("logs.collected", "fail", "every line fails to parse"),
    "collector-absent": ("logs.collected", "fail", "no log collector found"),
    "rbac-no-node-proxy": ("logs.node-file", "error", "denied get on nodes/proxy"),
}


def run_logs(pytester: pytest.Pytester, *args: str) -> tuple[Any, dict[str, Any]]:
    report_dir = pytester.path / "report"
    result = pytester.runpytest_subprocess(
        "--sandbox",
        "--report-dir",
        str(report_dir),
        "--probe-timeout",
        "5",
        "-p",
        "no:cacheprovider",
        "-m",
        "logs",
        *args,
    )
    report_file = report_dir / "report.json"
    assert report_file.is_file(), result.stdout.str()[-3000:] + result.stderr.str()[-3000:]
    return result, json.loads(report_file.read_text())


def with_status(report: dict[str, Any], status: str) -> list[dict[str, Any]]:
    return [r for r in report["results"] if r["status"] == status]


def shown(results: list[dict[str, Any]]) -> list[str]:
    return [f"{r['check_id']} {r['target']}: {r['summary']}" for r in results]


@pytest.mark.parametrize("profile", PROFILES)
def test_healthy_profile_logs_pass(pytester: pytest.Pytester, profile: str) -> None:
    result, report = run_logs(pytester, "--sandbox-profile", profile)
    results = report["results"]
    assert shown([r for r in results if r["status"] != "pass"]) == []
    node_files = [r for r in results if r["check_id"] == "logs.node-file"]
    collected = [r for r in results if r["check_id"] == "logs.collected"]
    assert len(node_files) == len(collected) > 5
    for record in node_files:
        assert record["summary"].startswith("/var/log/pods/"), record["summary"]
        assert "link /var/log/containers/" in record["summary"]
    for record in collected:
        assert record["summary"].startswith("read by "), record["summary"]
        assert "DaemonSet logging/fluent-bit" in record["summary"]
    assert result.ret == pytest.ExitCode.OK


@pytest.mark.parametrize("fault", sorted(LOG_FAULTS))
def test_log_fault_hits_its_check(pytester: pytest.Pytester, fault: str) -> None:
    check_id, status, words = LOG_FAULTS[fault]
    result, report = run_logs(pytester, "--sandbox-fault", fault)
    hit = with_status(report, status)
    assert hit, shown(report["results"])
    assert {r["check_id"] for r in hit} == {check_id}, shown(hit)
    for other in ("fail", "error"):
        if other != status:
            assert with_status(report, other) == [], shown(with_status(report, other))
    first = hit[0]
    assert words in first["summary"], first["summary"]
    assert first["remedy"]
    if status == "error":
        assert "nodes/proxy" in first["remedy"]
        assert 'resources: ["nodes/proxy"]' in first["evidence"]["rbac_rule"]
    # By default only failures fail the run; warnings and errors are reported.
    expected = pytest.ExitCode.TESTS_FAILED if status == "fail" else pytest.ExitCode.OK
    assert result.ret == expected
