"""The suite against every sandbox profile and every discovery and metrics fault.

Each run starts its own sandbox through `pytest --sandbox`, in a subprocess, and the test reads
the run's report.json: healthy profiles must have no fail and no error, and each fault must fail
exactly the check meant to catch it, naming the cause and the fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lsconform.policy import SeverityPolicy
from lsconform.results import Severity

PROFILES = ["default", "tracing-off", "fullname-override", "external-datastores", "control-plane"]

# fault -> (check id that must fail, words the cause must contain)
METRICS_FAULTS = {
    "backend-metrics-down": ("metrics.reachable", "refuses connections"),
    "metrics-timeout": ("metrics.reachable", "probe timeout"),
    "metrics-malformed": ("metrics.parse", "line"),
    "metrics-html": ("metrics.content_type", "HTML page"),
    "histogram-broken": ("metrics.parse", "bucket"),
    "metrics-families-missing": ("metrics.families", "langsmith_http_requests_total"),
    "port-name-renamed": ("metrics.collectable", "'http'"),
    "replica-not-ready": ("release.workload", "1 of 2 replicas ready"),
    "clickhouse-metrics-off": ("metrics.reachable", "refuses connections"),
    "nginx-status-missing": ("metrics.nginx_status", "404"),
    "exporter-down": ("metrics.exporter", "pg_up is 0"),
    "helm-secret-corrupt": ("release.revision", "revision"),
    "release-failed": ("release.revision", "failed"),
}


def run_suite(pytester: pytest.Pytester, *args: str) -> tuple[Any, dict[str, Any]]:
    report_dir = pytester.path / "report"
    result = pytester.runpytest_subprocess(
        "--sandbox",
        "--report-dir",
        str(report_dir),
        "--probe-timeout",
        "3",
        "--scrape-interval",
        "1",
        "-p",
        "no:cacheprovider",
        *args,
    )
    report_file = report_dir / "report.json"
    assert report_file.is_file(), result.stdout.str()[-3000:] + result.stderr.str()[-3000:]
    return result, json.loads(report_file.read_text())


def non_passing(report: dict[str, Any], status: str) -> list[dict[str, Any]]:
    return [r for r in report["results"] if r["status"] == status]


@pytest.mark.parametrize("profile", PROFILES)
def test_healthy_profile_passes(pytester: pytest.Pytester, profile: str) -> None:
    result, report = run_suite(pytester, "--sandbox-profile", profile, "-m", "release or metrics")
    failed = [f"{r['check_id']} {r['target']}: {r['summary']}" for r in non_passing(report, "fail")]
    errors = [
        f"{r['check_id']} {r['target']}: {r['summary']}" for r in non_passing(report, "error")
    ]
    assert failed == []
    assert errors == []
    assert report["summary"]["pass"] > 20
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*lsconform health report*"])


@pytest.mark.parametrize("fault", sorted(METRICS_FAULTS))
def test_fault_fails_its_check(pytester: pytest.Pytester, fault: str) -> None:
    check_id, cause = METRICS_FAULTS[fault]
    result, report = run_suite(pytester, "--sandbox-fault", fault, "-m", "release or metrics")
    failed = non_passing(report, "fail")
    assert {r["check_id"] for r in failed} == {check_id}, [
        f"{r['check_id']} {r['target']}: {r['summary']}" for r in failed
    ]
    assert non_passing(report, "error") == []
    first = failed[0]
    assert cause in first["summary"]
    assert first["remedy"]
    # A failure of a warning-severity check is reported but does not fail the run.
    critical = SeverityPolicy().severity(check_id) is Severity.CRITICAL
    expected = pytest.ExitCode.TESTS_FAILED if critical else pytest.ExitCode.OK
    assert result.ret == expected
    result.stdout.fnmatch_lines([f"*FAIL*{check_id}*", "*fix:*"])


def test_two_releases_is_usage_error(pytester: pytest.Pytester) -> None:
    import jsonschema

    report_dir = pytester.path / "report"
    result = pytester.runpytest_subprocess(
        "--sandbox", "--sandbox-fault=two-releases", f"--report-dir={report_dir}"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--release*"])
    report = json.loads((report_dir / "report.json").read_text())
    assert report["results"] == []
    assert "--release" in report["discovery_problem"]
    schema_file = Path(__file__).resolve().parents[2] / "lsconform/report/schema/report.schema.json"
    jsonschema.validate(report, json.loads(schema_file.read_text()))
