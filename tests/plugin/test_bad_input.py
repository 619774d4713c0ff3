"""Hostile metrics endpoints end as a clear result within the probe timeout plus a margin.

Each case is a real HTTP server on 127.0.0.1 reached with the suite's DirectTransport, the way
an in-cluster run reaches a pod IP; the check functions then judge what came back.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from lsconform.assess import metrics
from lsconform.assess.scrape import scrape_once
from lsconform.assess.targets import MetricsTarget
from lsconform.cluster.client import ClusterClient
from lsconform.cluster.transport import DirectTransport
from lsconform.results import Status
from lsconform.settings import Settings

PROBE_TIMEOUT = 2.0  # seconds
MARGIN = 2.0  # seconds a result may take beyond the probe timeout
HUGE_BYTES = 200 * 1024 * 1024


def _huge(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain; version=0.0.4")
    handler.send_header("Content-Length", str(HUGE_BYTES))
    handler.end_headers()
    line = b'big_series_total{id="0000000000"} 1\n'
    chunk = line * (1024 * 1024 // len(line))
    sent = 0
    try:
        while sent < HUGE_BYTES:
            handler.wfile.write(chunk[: HUGE_BYTES - sent])
            sent += len(chunk)
    except OSError:
        pass  # The client stops reading at its size cap and closes the connection.


def _trickle(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain; version=0.0.4")
    handler.end_headers()
    try:
        for _ in range(30):
            handler.wfile.write(b"#")
            handler.wfile.flush()
            time.sleep(1)
    except OSError:
        pass  # The client gives up at its timeout.


def _invalid_utf8(handler: http.server.BaseHTTPRequestHandler) -> None:
    body = (
        b"# HELP requests_total Requests.\n# TYPE requests_total counter\n"
        b'requests_total{host="\xffapi"} 10\n'
    )
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain; version=0.0.4")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[http.server.BaseHTTPRequestHandler], None]], int]]:
    servers: list[http.server.ThreadingHTTPServer] = []
    threads: list[threading.Thread] = []

    def start(behaviour: Callable[[http.server.BaseHTTPRequestHandler], None]) -> int:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                behaviour(self)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append(server)
        threads.append(thread)
        return int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    for thread in threads:
        thread.join(timeout=5)


@pytest.fixture
def transport(tmp_path) -> Iterator[DirectTransport]:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    client = ClusterClient.from_kubeconfig(kubeconfig)
    yield DirectTransport(client)
    client.close()


def target_for(port: int) -> MetricsTarget:
    return MetricsTarget(
        id=f"backend/bad-pod:{port}/metrics",
        component="backend",
        kind="pod",
        namespace="langsmith",
        name="bad-pod",
        port=port,
        ip="127.0.0.1",
    )


SETTINGS = Settings(namespace="langsmith", probe_timeout=PROBE_TIMEOUT)


def test_huge_exposition_fails_budget(serve, transport) -> None:
    started = time.monotonic()
    scrape = scrape_once(transport, target_for(serve(_huge)), SETTINGS)
    result = metrics.check_budget(scrape, SETTINGS)
    elapsed = time.monotonic() - started
    assert result.status is Status.FAIL
    assert "exceeds body_size_limit" in result.summary
    assert result.remedy
    assert elapsed < PROBE_TIMEOUT + MARGIN


def test_trickling_endpoint_times_out(serve, transport) -> None:
    started = time.monotonic()
    scrape = scrape_once(transport, target_for(serve(_trickle)), SETTINGS)
    result = metrics.check_reachable(scrape, SETTINGS)
    elapsed = time.monotonic() - started
    assert result.status is Status.FAIL
    assert "probe timeout of 2 s" in result.summary
    assert elapsed < PROBE_TIMEOUT + MARGIN


def test_invalid_utf8_fails_parse_with_line(serve, transport) -> None:
    scrape = scrape_once(transport, target_for(serve(_invalid_utf8)), SETTINGS)
    assert metrics.check_reachable(scrape, SETTINGS).status is Status.PASS
    result = metrics.check_exposition(scrape)
    assert result.status is Status.FAIL
    assert result.summary.startswith("line 3:")
    assert "UTF-8" in result.summary


def test_refused_port_fails_reachable(transport) -> None:
    settings = replace(SETTINGS, probe_timeout=1.0)
    scrape = scrape_once(transport, target_for(9), settings)
    result = metrics.check_reachable(scrape, settings)
    assert result.status is Status.FAIL
    assert "refuses connections" in result.summary


def run_against(pytester: pytest.Pytester, sandbox, *args: str):
    import json

    report_dir = pytester.path / "report"
    result = pytester.runpytest_subprocess(
        f"--namespace={sandbox.namespace}",
        f"--kubeconfig={sandbox.kubeconfig}",
        f"--report-dir={report_dir}",
        "--probe-timeout=3",
        "--scrape-interval=1",
        "-p",
        "no:cacheprovider",
        "-m",
        "release or metrics",
        *args,
    )
    report = json.loads((report_dir / "report.json").read_text())
    return result, report


def test_api_always_failing_is_error(pytester: pytest.Pytester, tmp_path) -> None:
    from lsconform.sandbox import Sandbox

    with Sandbox(profile="default", error_rate=1.0, workdir=tmp_path / "sandbox") as sandbox:
        result, report = run_against(pytester, sandbox)
        strict, _ = run_against(pytester, sandbox, "--fail-on=fail,error")
    revision = [r for r in report["results"] if r["check_id"] == "release.revision"]
    assert [r["status"] for r in revision] == ["error"]
    assert "discovery failed" in revision[0]["summary"]
    assert revision[0]["remedy"]
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*ERROR*release.revision*"])
    assert strict.ret == pytest.ExitCode.TESTS_FAILED


def test_api_sometimes_failing_still_reports(pytester: pytest.Pytester, tmp_path) -> None:
    from lsconform.sandbox import Sandbox

    with Sandbox(profile="default", error_rate=0.2, workdir=tmp_path / "sandbox") as sandbox:
        result, report = run_against(pytester, sandbox)
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert report["release"] is not None
    for record in report["results"]:
        if record["status"] in ("fail", "error"):
            assert record["summary"]
            assert record["remedy"], record
