"""Fixtures for the cluster tests: a fake API server on loopback and a client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeapi import FakeApi, FakeServer, start

from lsconform.cluster.client import ClusterClient, RetryPolicy


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def server(api: FakeApi) -> Iterator[FakeServer]:
    server, thread = start(api)
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def kubeconfig(server: FakeServer, tmp_path: Path) -> Path:
    return server.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def client(kubeconfig: Path) -> Iterator[ClusterClient]:
    # Short waits keep the retry tests fast; the bounds still apply.
    policy = RetryPolicy(max_attempts=3, max_total_wait=2.0, backoff=0.01, max_backoff=0.05)
    with ClusterClient.from_kubeconfig(kubeconfig, timeout=5.0, retry=policy) as client:
        yield client
