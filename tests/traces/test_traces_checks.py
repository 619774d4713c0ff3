"""The traces checks against the sandbox: healthy profiles pass, each fault fails its check.

Each run is `pytest -m traces` in a subprocess, read back through report.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lsconform.cli import main
from lsconform.sandbox import Sandbox

CHECKS = Path(__file__).resolve().parents[2] / "checks" / "test_traces.py"

# fault -> (the one check id that must fail, words its summary must contain, words of the fix)
FAULTS = {
    "tracing-values-misplaced": ("traces.values", "config.observability.tracing", "helm upgrade"),
    "tls-mismatch": ("traces.tls", "OTEL_USE_TLS is true", "useTls: false"),
    "http-to-grpc-port": ("traces.endpoint", "port 4317", "4318"),
    "traces-path-missing": ("traces.endpoint", "/v1/traces", "/v1/traces"),
    "collector-localhost-only": ("traces.collector", "refuses connections", "0.0.0.0:4318"),
    "collector-partial-success": ("traces.accepts", "rejected 1 of 3", "limit"),
    "collector-down": ("traces.collector", "no ready endpoint", "kubectl"),
    "stale-pod-env": ("traces.pod-env", "started before", "rollout restart"),
}


def run_checks(pytester: pytest.Pytester, *args: str) -> tuple[Any, dict[str, Any]]:
    report_dir = pytester.path / "report"
    result = pytester.runpytest_subprocess(
        "--report-dir",
        str(report_dir),
        "--probe-timeout",
        "3",
        "--traces-wait",
        "5",
        "-p",
        "no:cacheprovider",
        "-m",
        "traces",
        *args,
        str(CHECKS),
    )
    report_file = report_dir / "report.json"
    assert report_file.is_file(), result.stdout.str()[-3000:] + result.stderr.str()[-3000:]
    return result, json.loads(report_file.read_text())


def with_status(report: dict[str, Any], status: str) -> list[dict[str, Any]]:
    return [r for r in report["results"] if r["status"] == status]


def lines(results: list[dict[str, Any]]) -> list[str]:
    return [f"{r['check_id']} {r['target']}: {r['summary']}" for r in results]


def test_default_profile_spans_arrive_by_metrics(pytester: pytest.Pytester) -> None:
    result, report = run_checks(pytester, "--sandbox")
    assert lines(with_status(report, "fail")) == []
    assert lines(with_status(report, "error")) == []
    arrivals = [r for r in report["results"] if r["check_id"] == "traces.arrival"]
    assert {r["target"] for r in arrivals} == {
        "backend",
        "platform-backend",
        "playground",
        "queue",
        "ingest-queue",
    }
    assert all(r["status"] == "pass" for r in arrivals), lines(arrivals)
    assert all("collector metrics" in r["evidence"]["evidence_source"] for r in arrivals)
    passed = {r["check_id"] for r in with_status(report, "pass")}
    assert {
        "traces.enabled",
        "traces.endpoint",
        "traces.collector",
        "traces.tls",
        "traces.accepts",
        "traces.pod-env",
    } <= passed
    assert result.ret == pytest.ExitCode.OK


@pytest.mark.parametrize(
    ("profile", "traced"),
    [
        # Exporter grpc with a host:4317 endpoint and useTls false.
        (
            "fullname-override",
            {"backend", "platform-backend", "playground", "queue", "ingest-queue"},
        ),
        (
            "control-plane",
            {
                "backend",
                "platform-backend",
                "playground",
                "queue",
                "ingest-queue",
                "host-backend",
                "listener",
            },
        ),
    ],
)
def test_other_profiles_pass(pytester: pytest.Pytester, profile: str, traced: set[str]) -> None:
    result, report = run_checks(pytester, "--sandbox", "--sandbox-profile", profile)
    assert lines(with_status(report, "fail")) == []
    assert lines(with_status(report, "error")) == []
    arrivals = [r for r in report["results"] if r["check_id"] == "traces.arrival"]
    assert {r["target"] for r in arrivals if r["status"] == "pass"} == traced, lines(arrivals)
    assert result.ret == pytest.ExitCode.OK


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_fails_its_check(pytester: pytest.Pytester, fault: str) -> None:
    check_id, cause, fix = FAULTS[fault]
    result, report = run_checks(pytester, "--sandbox", "--sandbox-fault", fault)
    failed = with_status(report, "fail")
    assert {r["check_id"] for r in failed} == {check_id}, lines(failed)
    assert lines(with_status(report, "error")) == []
    for record in failed:
        assert cause in record["summary"]
        assert fix in record["remedy"]
        assert record["evidence"]
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_tracing_off_is_reported_not_failed(pytester: pytest.Pytester) -> None:
    result, report = run_checks(pytester, "--sandbox", "--sandbox-profile", "tracing-off")
    assert lines(with_status(report, "fail")) == []
    enabled = next(r for r in report["results"] if r["check_id"] == "traces.enabled")
    assert enabled["status"] == "skip"
    assert "tracing is off" in enabled["summary"]
    assert "config.observability.tracing.enabled: true" in enabled["summary"]
    assert result.ret == pytest.ExitCode.OK


def test_require_tracing_fails_when_off(pytester: pytest.Pytester) -> None:
    result, report = run_checks(
        pytester, "--sandbox", "--sandbox-profile", "tracing-off", "--require-tracing"
    )
    failed = with_status(report, "fail")
    assert [r["check_id"] for r in failed] == ["traces.enabled"]
    assert "config.observability.tracing.enabled" in failed[0]["remedy"]
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[Sandbox]:
    with Sandbox(profile="default") as sandbox:
        yield sandbox


def _collector_ip(sandbox: Sandbox) -> str:
    pods = sandbox.ready["pods"]
    return next(p["ip"] for p in pods if "collector-gateway" in p["name"])


@pytest.mark.allow_leaks
@pytest.mark.parametrize(("port", "backend"), [(3200, "tempo"), (16686, "jaeger")])
def test_spans_arrive_in_trace_backend(
    pytester: pytest.Pytester, shared_sandbox: Sandbox, port: int, backend: str
) -> None:
    url = f"http://{_collector_ip(shared_sandbox)}:{port}"
    result, report = run_checks(
        pytester,
        "--namespace",
        shared_sandbox.namespace,
        "--kubeconfig",
        str(shared_sandbox.kubeconfig),
        "--trace-backend",
        url,
    )
    arrivals = [r for r in report["results"] if r["check_id"] == "traces.arrival"]
    assert len(arrivals) == 5
    assert all(r["status"] == "pass" for r in arrivals), lines(arrivals)
    assert all(r["evidence"]["trace_ids"] for r in arrivals)
    assert all(backend in r["evidence"]["evidence_source"] for r in arrivals)
    assert result.ret == pytest.ExitCode.OK


@pytest.mark.allow_leaks
def test_unreachable_trace_backend_is_error(
    pytester: pytest.Pytester, shared_sandbox: Sandbox
) -> None:
    # Port 9 (discard) on the collector's address: nothing listens there.
    url = f"http://{_collector_ip(shared_sandbox)}:9"
    _, report = run_checks(
        pytester,
        "--namespace",
        shared_sandbox.namespace,
        "--kubeconfig",
        str(shared_sandbox.kubeconfig),
        "--trace-backend",
        url,
    )
    arrivals = [r for r in report["results"] if r["check_id"] == "traces.arrival"]
    assert arrivals
    assert all(r["status"] == "error" for r in arrivals), lines(arrivals)
    assert all("could not be queried" in r["summary"] for r in arrivals)


@pytest.mark.allow_leaks
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_otlp_probe_command_against_sandbox(
    shared_sandbox: Sandbox, capsys: pytest.CaptureFixture[str], protocol: str
) -> None:
    ip = _collector_ip(shared_sandbox)
    endpoint = f"http://{ip}:4318/v1/traces" if protocol == "http" else f"{ip}:4317"
    status = main(
        ["otlp", "probe", endpoint, "--protocol", protocol, "--insecure", "--timeout", "5"]
    )
    out = capsys.readouterr().out.splitlines()
    assert status == 0, out
    assert out[0].startswith("OK the collector at")
