"""A baseline from a healthy run, compared with a faulted one, lists the fault's regressions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lsconform.constants import BACKEND_EXTRA_FAMILIES, LANGSMITH_HTTP_FAMILIES


def run(pytester: pytest.Pytester, name: str, *args: str) -> tuple[Any, dict[str, Any]]:
    report_dir = pytester.path / name
    result = pytester.runpytest_subprocess(
        "--sandbox",
        f"--report-dir={report_dir}",
        "--probe-timeout=3",
        "--scrape-interval=1",
        "-p",
        "no:cacheprovider",
        "-m",
        "release or metrics",
        *args,
    )
    return result, json.loads((report_dir / "report.json").read_text())


def test_faulted_run_lists_its_regressions(pytester: pytest.Pytester) -> None:
    _, healthy = run(pytester, "healthy")
    baseline = pytester.path / "baseline.json"
    baseline.write_text(json.dumps(healthy))
    result, faulted = run(
        pytester,
        "faulted",
        "--sandbox-fault=exporter-down",
        "--sandbox-fault=metrics-families-missing",
        f"--baseline={baseline}",
        "--fail-on=regression",
    )
    regressions = faulted["regressions"]
    checks = sorted((r["check_id"], r["target"]) for r in regressions if r["kind"] == "check")
    assert checks == [
        ("metrics.exporter", "postgres-exporter"),
        ("metrics.families", "backend/langsmith-backend-*:1984/metrics"),
        ("metrics.families", "backend/svc/langsmith-backend:backend/metrics"),
    ]
    lost = sorted((r["target"], r["detail"]) for r in regressions if r["kind"] == "family")
    # metrics-families-missing drops the backend's langsmith_http_* families, nothing else.
    expected_families = list(LANGSMITH_HTTP_FAMILIES)
    assert not any(family in detail for family in BACKEND_EXTRA_FAMILIES for _, detail in lost)
    for target in (
        "backend/langsmith-backend-*:1984/metrics",
        "backend/svc/langsmith-backend:backend/metrics",
    ):
        details = sorted(d for t, d in lost if t == target)
        assert details == sorted(f"metric family {f} disappeared" for f in expected_families)
    assert {r["kind"] for r in regressions} == {"check", "family"}
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*regressions against baseline*"])


def test_report_diff_command_agrees(pytester: pytest.Pytester, tmp_path: Path) -> None:
    from lsconform.cli import main

    _, healthy = run(pytester, "healthy")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(healthy))
    assert main(["report", "diff", str(old), str(old)]) == 0
