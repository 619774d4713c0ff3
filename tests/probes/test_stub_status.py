"""nginx stub_status parsing and diagnosis, and body classification, against a real nginx."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lsconform.probes.classify import BodyKind, classify_body
from lsconform.probes.exposition import parse_exposition
from lsconform.probes.stub_status import StubStatus, parse_stub_status

CORPUS = Path(__file__).parent / "corpus"
STOCK = (
    b"Active connections: 7 \nserver accepts handled requests\n 9120 9120 30412 \n"
    b"Reading: 0 Writing: 2 Waiting: 5 \n"
)
SPA_INDEX = (CORPUS / "c27-spa-index.html").read_bytes()
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

# The frontend's server block as the chart renders it, reduced to the two locations that matter:
# stub_status for local clients only, and the single-page app's fallback for every other path.
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ text/html html; }}
    server {{
        listen 127.0.0.1:{port};
        root {prefix}/html;
        location = /nginx_status {{ stub_status; allow 127.0.0.1; allow ::1; deny all; }}
        location / {{ try_files $uri $uri/ /index.html; }}
    }}
}}
"""


def test_stock_page_parsed() -> None:
    result = parse_stub_status(STOCK)
    assert result.status == StubStatus(7, 9120, 9120, 30412, 0, 2, 5)
    assert result.problems == []
    assert result.is_valid
    assert result.body_kind is BodyKind.STUB_STATUS


def test_extra_column_reported() -> None:
    body = STOCK.replace(b"requests\n", b"requests request_time\n").replace(
        b"30412 ", b"30412 77120 "
    )
    result = parse_stub_status(body)
    assert result.status is not None
    assert result.status.extra_columns == (("request_time", 77120),)
    [problem] = result.problems
    assert problem.rule == "stub-status-extra-columns"
    assert "4 counters (accepts handled requests request_time)" in problem.cause
    assert "expects 3" in problem.cause
    assert not result.is_valid


def test_dropped_connections_warned() -> None:
    result = parse_stub_status(STOCK.replace(b"9120 9120", b"9120 9000"))
    assert result.status is not None
    assert result.status.dropped == 120
    [problem] = result.problems
    assert problem.rule == "stub-status-dropped-connections"
    assert "accepted 9120 connections but handled 9000: 120 dropped" in problem.cause
    assert "worker_connections" in problem.fix
    assert result.is_valid


def test_html_fallback_diagnosed() -> None:
    result = parse_stub_status(SPA_INDEX, "text/html")
    assert result.status is None
    [problem] = result.problems
    assert problem.rule == "stub-status-html"
    assert "HTML page, not stub_status" in problem.cause
    assert "location = /nginx_status" in problem.fix


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (STOCK.replace(b"Reading: 0 ", b"Reading: x "), "line 4 is not"),
        (STOCK.replace(b" 9120 9120 30412 ", b" 9120 9120 "), "names 3 columns"),
        (b"Active connections: 7\nserver accepts handled requests\n", "has 2 lines"),
        (STOCK.replace(b"server accepts", b"client accepts"), "lines 2 and 3"),
    ],
)
def test_malformed_pages(body: bytes, cause: str) -> None:
    result = parse_stub_status(body)
    assert result.status is None
    [problem] = result.problems
    assert problem.rule == "stub-status-malformed"
    assert cause in problem.cause


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (b"# HELP nginx_up x\n# TYPE nginx_up gauge\nnginx_up 1\n", "stub-status-exposition"),
        (b'{"status": "ok"}', "stub-status-not-stub-status"),
        (b"", "stub-status-not-stub-status"),
    ],
)
def test_other_bodies(body: bytes, rule: str) -> None:
    result = parse_stub_status(body)
    assert [problem.rule for problem in result.problems] == [rule]


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (STOCK, BodyKind.STUB_STATUS),
        (SPA_INDEX, BodyKind.HTML),
        (b'{"queued": 3}', BodyKind.JSON),
        (b"[1, 2]", BodyKind.JSON),
        (b"{not json", BodyKind.OTHER),
        (b"   \n", BodyKind.EMPTY),
        (b"\x1f\x8b\x08\x00rest", BodyKind.BINARY),
        (b"\x0a\x05hello\x00\x01", BodyKind.BINARY),
        (b"up 1\n", BodyKind.PROMETHEUS_TEXT),
        (b'# random comment\nhttp_requests_total{code="200"} 1027\n', BodyKind.PROMETHEUS_TEXT),
        (b"# TYPE up gauge\nup 1\n# EOF\n", BodyKind.OPENMETRICS),
        (b"hello world\n", BodyKind.OTHER),
        (b"404 page not found\n", BodyKind.OTHER),
    ],
)
def test_classify_body(body: bytes, kind: BodyKind) -> None:
    assert classify_body(body).kind is kind


def test_classify_uses_content_type_for_openmetrics() -> None:
    body = b"# TYPE up gauge\nup 1\n"
    assert classify_body(body, "application/openmetrics-text; version=1.0.0").kind is (
        BodyKind.OPENMETRICS
    )
    assert classify_body(body, "text/html").kind is BodyKind.PROMETHEUS_TEXT


# Against a real nginx --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nginx did not listen on 127.0.0.1:{port} within 10 s")


@pytest.fixture(scope="module")
def nginx_url() -> Iterator[str]:
    if NGINX is None:
        pytest.skip("nginx is not installed (make test installs nginx-light)")
    # Run as root, nginx's workers drop to `nobody`, who cannot enter pytest's 0700 temporary
    # folders; this folder is opened to them and removed afterwards.
    prefix = Path(tempfile.mkdtemp(prefix="lsconform-nginx-"))
    prefix.chmod(0o755)
    (prefix / "html").mkdir()
    (prefix / "html" / "index.html").write_bytes(SPA_INDEX)
    port = _free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=port))
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process, time.monotonic() + 10)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(prefix, ignore_errors=True)


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback URL)
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def test_real_nginx_status_page(nginx_url: str) -> None:
    status, content_type, body = _get(nginx_url + "/nginx_status")
    assert status == 200
    result = parse_stub_status(body, content_type)
    assert result.problems == []
    assert result.status is not None
    assert result.status.active >= 1
    assert result.status.accepts == result.status.handled >= 1
    assert result.status.requests >= 1


def test_real_nginx_wrong_path_serves_spa(nginx_url: str) -> None:
    status, content_type, body = _get(nginx_url + "/stub_status")
    assert status == 200
    assert content_type.startswith("text/html")
    result = parse_stub_status(body, content_type)
    assert [problem.rule for problem in result.problems] == ["stub-status-html"]


def test_real_nginx_status_is_not_exposition(nginx_url: str) -> None:
    _, content_type, body = _get(nginx_url + "/nginx_status")
    assert classify_body(body, content_type).kind is BodyKind.STUB_STATUS
    exposition = parse_exposition(body, content_type)
    assert not exposition.is_valid
    assert exposition.problems[0].line == 1
