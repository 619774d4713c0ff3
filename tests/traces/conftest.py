"""Fixtures for the traces tests: sandbox collectors on their own loopback addresses, TLS files."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lsconform.sandbox.pods import collector

# Each collector gets its own 127.x address, so tests (and xdist workers) never share a port.
_addresses = itertools.count(1)


def next_loopback_ip() -> str:
    """Return a loopback address no other test of this process uses."""
    index = next(_addresses)
    return f"127.{60 + os.getpid() % 60}.{index // 250}.{index % 250 + 1}"


StartCollector = Callable[..., collector.CollectorHandle]


@pytest.fixture
def start_collector(tmp_path: Path) -> Iterator[StartCollector]:
    """Start sandbox collectors (with faults) and stop them after the test."""
    handles: list[collector.CollectorHandle] = []

    def start(
        *faults: str, ports: list[dict[str, object]] | None = None
    ) -> collector.CollectorHandle:
        plan = {
            "namespace": "langsmith-observability",
            "name": "gateway-collector-0",
            "uid": "u-1",
            "ip": next_loopback_ip(),
            "role": "otel-collector",
            "containers": [{"name": "otc-container", "ports": ports or []}],
        }
        handle = collector.start(plan, tmp_path, frozenset(faults), {})
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1 and localhost (made with openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key
