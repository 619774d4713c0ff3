"""`lsconform otlp probe` against the sandbox collector: one line per outcome, exit status."""

from __future__ import annotations

import json

import pytest

from lsconform.cli import main
from tests.traces.conftest import StartCollector


def _probe(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    status = main(["otlp", "probe", *args, "--timeout", "3"])
    return status, capsys.readouterr().out.splitlines()


def test_probe_succeeds_over_both_protocols(
    start_collector: StartCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    ip = start_collector().addresses["metrics"][0]
    status, out = _probe(capsys, f"http://{ip}:4318/v1/traces")
    assert status == 0
    assert out[0].startswith("OK the collector at")
    assert "accepted 3 spans over OTLP/HTTP" in out[0]
    status, out = _probe(capsys, f"{ip}:4317", "--protocol", "grpc", "--insecure")
    assert status == 0
    assert "OTLP/gRPC" in out[0]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_probe_reports_rejected_count(
    start_collector: StartCollector, capsys: pytest.CaptureFixture[str], protocol: str
) -> None:
    ip = start_collector("collector-partial-success").addresses["metrics"][0]
    endpoint = f"http://{ip}:4318/v1/traces" if protocol == "http" else f"{ip}:4317"
    status, out = _probe(capsys, endpoint, "--protocol", protocol, "--insecure")
    assert status == 1
    assert "rejected 1 of 3 spans" in out[0]
    assert "  rejected spans: 1" in out


def test_probe_explains_refused(
    start_collector: StartCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    handle = start_collector("collector-localhost-only")
    ip = handle.addresses["metrics"][0]
    status, out = _probe(capsys, f"http://{ip}:4318/v1/traces")
    assert status == 1
    assert out[0].startswith(f"FAIL connection refused at {ip}:4318")


def test_probe_explains_tls_mismatch(
    start_collector: StartCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    ip = start_collector().addresses["metrics"][0]
    status, out = _probe(capsys, f"{ip}:4317", "--protocol", "grpc")
    assert status == 1
    assert out[0].startswith(f"FAIL TLS mismatch at {ip}:4317")


def test_probe_explains_wrong_path(
    start_collector: StartCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    ip = start_collector().addresses["metrics"][0]
    status, out = _probe(capsys, f"http://{ip}:4318/otlp")
    assert status == 1
    assert out[0].startswith(f"FAIL 404 at http://{ip}:4318/otlp")
    assert any(line.startswith("  hint: OTLP_ENDPOINT path '/otlp'") for line in out)


def test_probe_json_output(
    start_collector: StartCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    ip = start_collector().addresses["metrics"][0]
    status, out = _probe(capsys, f"http://{ip}:4318/v1/traces", "--json")
    document = json.loads(out[0])
    assert status == 0
    assert document["kind"] == "accepted"
    assert document["rejected_spans"] == 0


def test_probe_rejects_invalid_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["otlp", "probe", "host:4318/v1/traces", "--protocol", "http"])
    assert status == 2
    assert "needs http:// or https://" in capsys.readouterr().err
