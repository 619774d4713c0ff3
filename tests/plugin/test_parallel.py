"""Parallel runs: the same results as a serial run, one discovery, and no mutating request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from lsconform.sandbox import Sandbox


def run_against(pytester: pytest.Pytester, sandbox: Sandbox, name: str, *args: str) -> Any:
    report_dir = pytester.path / name
    result = pytester.runpytest_subprocess(
        f"--namespace={sandbox.namespace}",
        f"--kubeconfig={sandbox.kubeconfig}",
        f"--report-dir={report_dir}",
        "--scrape-interval=1",
        "-p",
        "no:cacheprovider",
        "-m",
        "release or metrics",
        *args,
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    return json.loads((report_dir / "report.json").read_text())


def outcomes(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((r["check_id"], r["target"], r["status"]) for r in report["results"])


def is_discovery_list(record: dict[str, Any], namespace: str) -> bool:
    """A list of Helm release Secrets in the release namespace: what discovery starts with."""
    return (
        record["method"] == "GET"
        and record["path"] == f"/api/v1/namespaces/{namespace}/secrets"
        and "owner=helm" in unquote(str(record.get("query", "")))
    )


def test_parallel_run_matches_serial(pytester: pytest.Pytester, tmp_path: Path) -> None:
    with Sandbox(profile="default", workdir=tmp_path / "sandbox") as sandbox:
        serial = run_against(pytester, sandbox, "serial", "-p", "no:xdist")
        before = len(sandbox.audit())
        parallel = run_against(pytester, sandbox, "parallel", "-n", "2")
        audit = sandbox.audit()[before:]

    assert outcomes(parallel) == outcomes(serial)
    assert len(parallel["results"]) > 50
    discovery_lists = [r for r in audit if is_discovery_list(r, sandbox.namespace)]
    assert len(discovery_lists) == 1


def test_default_run_does_not_mutate(pytester: pytest.Pytester, tmp_path: Path) -> None:
    with Sandbox(profile="default", workdir=tmp_path / "sandbox") as sandbox:
        before = len(sandbox.audit())
        report_dir = pytester.path / "report"
        result = pytester.runpytest_subprocess(
            f"--namespace={sandbox.namespace}",
            f"--kubeconfig={sandbox.kubeconfig}",
            f"--report-dir={report_dir}",
            "--scrape-interval=1",
            "-p",
            "no:cacheprovider",
        )
        audit = sandbox.audit()[before:]
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    assert len(audit) > 20
    mutating = [
        f"{r['method']} {r['path']}" for r in audit if r["method"] not in ("GET", "HEAD", "OPTIONS")
    ]
    assert mutating == []
