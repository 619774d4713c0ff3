"""The severity policy and exit codes: every row of the table, overrides, baselines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lsconform.policy import PolicyError, SeverityPolicy, parse_overrides
from lsconform.results import Severity, Status
from lsconform.sandbox import Sandbox
from lsconform.settings import FailOn

FAIL = frozenset({FailOn.FAIL})
WARN = frozenset({FailOn.FAIL, FailOn.WARN})
ERROR = frozenset({FailOn.FAIL, FailOn.ERROR})
REGRESSION_ONLY = frozenset({FailOn.REGRESSION})

# (status, severity, --fail-on, fails the run)
TABLE = [
    (Status.FAIL, Severity.CRITICAL, FAIL, True),
    (Status.FAIL, Severity.WARNING, FAIL, False),
    (Status.FAIL, Severity.WARNING, WARN, True),
    (Status.FAIL, Severity.INFO, WARN, False),
    (Status.WARN, Severity.CRITICAL, FAIL, False),
    (Status.WARN, Severity.CRITICAL, WARN, True),
    (Status.WARN, Severity.WARNING, WARN, True),
    (Status.WARN, Severity.INFO, WARN, False),
    (Status.ERROR, Severity.CRITICAL, FAIL, False),
    (Status.ERROR, Severity.CRITICAL, ERROR, True),
    (Status.ERROR, Severity.WARNING, ERROR, True),
    (Status.ERROR, Severity.INFO, ERROR, False),
    (Status.PASS, Severity.CRITICAL, WARN | ERROR, False),
    (Status.SKIP, Severity.CRITICAL, WARN | ERROR, False),
    (Status.FAIL, Severity.CRITICAL, REGRESSION_ONLY, False),
    (Status.FAIL, Severity.CRITICAL, FAIL | REGRESSION_ONLY, True),
]


@pytest.mark.parametrize(("status", "severity", "fail_on", "fails"), TABLE)
def test_policy_table_row(status: Status, severity: Severity, fail_on: Any, fails: bool) -> None:
    assert SeverityPolicy().fails_run(status, severity, fail_on) is fails


def test_overrides_parse_and_reject() -> None:
    parsed = parse_overrides(["metrics.exporter = critical  # gate on it", "", "# note"], "ini")
    assert parsed == {"metrics.exporter": Severity.CRITICAL}
    with pytest.raises(PolicyError, match=r"ini line 1: invalid severity 'loud'"):
        parse_overrides(["metrics.exporter=loud"], "ini")
    with pytest.raises(PolicyError, match=r"expected check\.id=critical"):
        parse_overrides(["metrics.exporter"], "ini")


@pytest.fixture(scope="module")
def exporter_down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One sandbox whose postgres exporter reports pg_up 0 (a warning-severity failure)."""
    workdir = tmp_path_factory.mktemp("policy") / "sandbox"
    with Sandbox(profile="default", faults=["exporter-down"], workdir=workdir) as sandbox:
        yield sandbox


def run(pytester: pytest.Pytester, sandbox: Sandbox, *args: str) -> tuple[Any, dict[str, Any]]:
    report_dir = pytester.path / f"report-{len(list(pytester.path.glob('report-*')))}"
    result = pytester.runpytest_subprocess(
        f"--namespace={sandbox.namespace}",
        f"--kubeconfig={sandbox.kubeconfig}",
        f"--report-dir={report_dir}",
        "--probe-timeout=3",
        "-p",
        "no:cacheprovider",
        "-m",
        "metrics",
        "-k",
        "exporter or reachable",
        *args,
    )
    return result, json.loads((report_dir / "report.json").read_text())


def exporter_statuses(report: dict[str, Any]) -> dict[str, str]:
    return {
        r["target"]: r["status"] for r in report["results"] if r["check_id"] == "metrics.exporter"
    }


def test_warning_failure_passes_by_default(pytester: pytest.Pytester, exporter_down) -> None:
    result, report = run(pytester, exporter_down)
    assert exporter_statuses(report)["postgres-exporter"] == "fail"
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*FAIL*metrics.exporter postgres-exporter*",
            "1 failed checks have warning or info severity and do not fail the run*",
        ]
    )


def test_fail_on_warn_fails_run(pytester: pytest.Pytester, exporter_down) -> None:
    result, _ = run(pytester, exporter_down, "--fail-on=warn")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*pg_up is 0*"])


def test_ini_override_makes_check_critical(pytester: pytest.Pytester, exporter_down) -> None:
    pytester.makeini("[pytest]\nlsconform_severity =\n    metrics.exporter=critical\n")
    result, report = run(pytester, exporter_down)
    record = next(r for r in report["results"] if r["target"] == "postgres-exporter")
    assert record["severity"] == "critical"
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_severity_file_lowers_check(pytester: pytest.Pytester, exporter_down) -> None:
    severity_file = pytester.path / "severity.yaml"
    severity_file.write_text("metrics.exporter: info\n")
    result, report = run(
        pytester, exporter_down, f"--severity-file={severity_file}", "--fail-on=warn"
    )
    record = next(r for r in report["results"] if r["target"] == "postgres-exporter")
    assert record["severity"] == "info"
    assert result.ret == pytest.ExitCode.OK


def test_bad_severity_file_is_usage_error(pytester: pytest.Pytester, exporter_down) -> None:
    severity_file = pytester.path / "severity.yaml"
    severity_file.write_text("metrics.exporter: loud\n")
    result = pytester.runpytest_subprocess(
        f"--namespace={exporter_down.namespace}",
        f"--kubeconfig={exporter_down.kubeconfig}",
        f"--severity-file={severity_file}",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid severity 'loud'*"])


def test_regression_only_gate(pytester: pytest.Pytester, exporter_down, tmp_path: Path) -> None:
    _, faulted = run(pytester, exporter_down)
    healthy = json.loads(json.dumps(faulted))
    for record in healthy["results"]:
        if record["target"] == "postgres-exporter":
            record["status"] = "pass"
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(healthy))
    result, report = run(pytester, exporter_down, f"--baseline={baseline}", "--fail-on=regression")
    assert [(r["check_id"], r["target"]) for r in report["regressions"]] == [
        ("metrics.exporter", "postgres-exporter")
    ]
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*1 regressions against baseline*", "*REGRESSION check*"])

    same = tmp_path / "same.json"
    same.write_text(json.dumps(faulted))
    result, report = run(pytester, exporter_down, f"--baseline={same}", "--fail-on=regression")
    assert report["regressions"] == []
    assert result.ret == pytest.ExitCode.OK


def test_regression_gate_needs_baseline(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--namespace=langsmith", "--fail-on=regression")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--fail-on regression needs --baseline*"])
