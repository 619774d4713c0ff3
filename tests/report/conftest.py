"""Sandbox runs whose report files the report tests read, each run started once per session.

Every profile and every fault must produce a report.json that validates, but one run per fault
would cost minutes. The faults are therefore grouped: a run switches on several faults that
touch different components or areas, so each still reaches its own check, and each profile
carries one group. `two-releases` is the exception: that run stops with a usage error before
any check runs, so it writes no report (tests/plugin covers it).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

# Faults that stop the run with a usage error before any check runs; the report.json they
# still write (no results) is validated in tests/plugin/test_sandbox_runs.py.
NO_REPORT_FAULTS = frozenset({"two-releases"})

# run name -> (profile, faults). Faults in one run touch different components, or sit at
# different links of the traces chain, so that each still reaches its own check.
RUNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "default-many": (
        "default",
        (
            "backend-metrics-down",
            "replica-not-ready",
            "clickhouse-metrics-off",
            "nginx-status-missing",
            "exporter-down",
            "crashloop",
            "collector-excludes-namespace",
            "collector-down",
            "stale-pod-env",
            "pod-vanishes",
        ),
    ),
    "default-discovery": (
        "default",
        (
            "metrics-families-missing",
            "port-name-renamed",
            "helm-secret-corrupt",
            "logs-missing-on-node",
            "tls-mismatch",
        ),
    ),
    "default-rbac": (
        "default",
        ("container-silent", "rbac-no-node-proxy", "tracing-values-misplaced"),
    ),
    "default-traces": (
        "default",
        ("traces-path-missing", "logs-link-dangling"),
    ),
    "tracing-off": ("tracing-off", ("metrics-timeout", "collector-glob-wrong")),
    "fullname-override": (
        "fullname-override",
        ("metrics-malformed", "collector-no-mount", "collector-localhost-only"),
    ),
    "external-datastores": (
        "external-datastores",
        ("metrics-html", "collector-docker-parser", "http-to-grpc-port"),
    ),
    "control-plane": (
        "control-plane",
        ("histogram-broken", "collector-absent", "release-failed", "collector-partial-success"),
    ),
}
# Runs in flight at once.
PARALLEL_RUNS = 4
# The run with the most faults: its reports are the largest, so size limits are tested on it.
LARGEST_RUN = "default-many"


@dataclass(frozen=True)
class SuiteRun:
    """A finished `pytest --sandbox` run: its exit status, output and report directory."""

    name: str
    exit_status: int
    output: str
    report_dir: Path
    seconds: float

    @property
    def junit_xml(self) -> Path:
        return self.report_dir / "junit.xml"

    def report(self) -> dict[str, Any]:
        path = self.report_dir / "report.json"
        assert path.is_file(), f"run {self.name} wrote no report.json:\n{self.output[-4000:]}"
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return document


def shared_directory(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """Return a directory that every xdist worker of this session sees (one per session)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    directory = base / name
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def produce_once(directory: Path, produce: Callable[[Path], Any]) -> Any:
    """Call `produce(directory)` in the first process that gets here; the others wait for it
    and read its JSON result, so that xdist workers share expensive runs."""
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = directory / "result.json"
        if done.is_file():
            return json.loads(done.read_text(encoding="utf-8"))
        result = produce(directory)
        done.write_text(json.dumps(result), encoding="utf-8")
        return result


class SuiteRuns:
    """Every run of `RUNS`, started on first use, several at once, and kept for the session.

    A run spends most of its time waiting (probe timeouts, the scrape interval, the wait for
    spans), not computing, so `PARALLEL_RUNS` at once finish sooner even on 2 cores.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.done: dict[str, SuiteRun] = {}

    def get(self, name: str) -> SuiteRun:
        if not self.done:
            finished = produce_once(self.base, self._run_all)
            self.done = {
                item["name"]: SuiteRun(**{**item, "report_dir": Path(item["report_dir"])})
                for item in finished
            }
        return self.done[name]

    def _run_all(self, base: Path) -> list[dict[str, Any]]:
        with ThreadPoolExecutor(PARALLEL_RUNS) as pool:
            finished = list(pool.map(lambda name: self._run(base, name), sorted(RUNS)))
        return [{**asdict(run), "report_dir": str(run.report_dir)} for run in finished]

    def _run(self, base: Path, name: str) -> SuiteRun:
        profile, faults = RUNS[name]
        workdir = base / name
        report_dir = workdir / "report"
        workdir.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "--sandbox",
            f"--sandbox-profile={profile}",
            *(f"--sandbox-fault={fault}" for fault in faults),
            f"--report-dir={report_dir}",
            f"--junitxml={report_dir / 'junit.xml'}",
            "--probe-timeout=3",
            "--scrape-interval=1",
            "--traces-wait=3",
            "-p",
            "no:cacheprovider",
            "-q",
        ]
        # The run's own rootdir is the empty workdir, so this project's pytest configuration
        # (warnings as errors, markers) does not apply to the checks it runs.
        env = {**os.environ, "KUBECONFIG": str(workdir / "missing-kubeconfig")}
        started = time.monotonic()
        completed = subprocess.run(
            argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        return SuiteRun(
            name,
            completed.returncode,
            completed.stdout + completed.stderr,
            report_dir,
            time.monotonic() - started,
        )


@pytest.fixture(scope="session")
def suite_runs(tmp_path_factory: pytest.TempPathFactory) -> SuiteRuns:
    """The sandbox runs of `RUNS`, started lazily, at most once per session (xdist too)."""
    return SuiteRuns(shared_directory(tmp_path_factory, "suite-runs"))
