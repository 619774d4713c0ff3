"""Fixtures for the discovery tests: the fake API server and a client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakecluster import fakeapi

from lsconform.cluster.client import ClusterClient, RetryPolicy


@pytest.fixture
def api() -> Any:
    return fakeapi.FakeApi()


@pytest.fixture
def client(api: Any, tmp_path: Path) -> Iterator[ClusterClient]:
    server, thread = fakeapi.start(api)
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    policy = RetryPolicy(max_attempts=2, max_total_wait=1.0, backoff=0.01)
    with ClusterClient.from_kubeconfig(kubeconfig, timeout=10.0, retry=policy) as client:
        yield client
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
