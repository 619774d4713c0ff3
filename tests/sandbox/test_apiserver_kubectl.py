"""The real kubectl against the sandbox API server (skipped where kubectl is not installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
from conftest_apiserver import NAMESPACE, NODE, Cluster, cluster, shared_cluster

__all__ = ["cluster", "shared_cluster"]

KUBECTL = shutil.which("kubectl", path="/usr/bin:/usr/local/bin")

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


def kubectl_environment(cluster: Cluster) -> dict[str, str]:
    home = cluster.workdir / "kubectl-home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin"),
        "HOME": str(home),
        "KUBECONFIG": str(cluster.kubeconfig),
        "KUBECACHEDIR": str(home / "cache"),
    }


def kubectl(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    return subprocess.run(
        [KUBECTL, *args],
        env=kubectl_environment(cluster),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_kubectl_get_pods_services_endpoints(shared_cluster: Cluster) -> None:
    result = kubectl(shared_cluster, "get", "pods,svc,endpoints", "-n", NAMESPACE)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert any(line.split()[:3] == ["pod/backend-0", "2/2", "Running"] for line in lines)
    assert any(line.startswith("service/frontend ") and "80/TCP" in line for line in lines)
    assert any(
        line.startswith("endpoints/frontend ")
        and f"{shared_cluster.frontend.ip}:{shared_cluster.frontend.port}" in line
        for line in lines
    )


def test_kubectl_get_wide_shows_ip_and_node(shared_cluster: Cluster) -> None:
    result = kubectl(shared_cluster, "get", "pods", "-o", "wide")
    assert result.returncode == 0, result.stderr
    frontend = next(line for line in result.stdout.splitlines() if line.startswith("frontend-0"))
    assert shared_cluster.frontend.ip in frontend.split()
    assert NODE in frontend.split()


def test_kubectl_describe_pod(shared_cluster: Cluster) -> None:
    result = kubectl(shared_cluster, "describe", "pod", "backend-0")
    assert result.returncode == 0, result.stderr
    assert "Name:" in result.stdout
    assert "backend-0" in result.stdout
    assert "Container ID:   containerd://" in result.stdout


def test_kubectl_logs_tail_and_previous(shared_cluster: Cluster) -> None:
    current = kubectl(shared_cluster, "logs", "backend-0", "-c", "api", "--tail=1")
    assert current.returncode == 0, current.stderr
    assert current.stdout == "ready\n"
    previous = kubectl(shared_cluster, "logs", "backend-0", "-c", "api", "--previous")
    assert previous.stdout == "previous run line 1\nprevious run crashed\n"


def test_kubectl_logs_waiting_container(shared_cluster: Cluster) -> None:
    result = kubectl(shared_cluster, "logs", "pending-0")
    assert result.returncode == 1
    assert "is waiting to start: ContainerCreating" in result.stderr


def test_kubectl_get_events_columns(shared_cluster: Cluster) -> None:
    result = kubectl(shared_cluster, "get", "events", "--field-selector", "type=Warning")
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert row.split()[1:4] == ["Warning", "BackOff", "pod/backend-0"]


def test_kubectl_get_watch_prints_new_rows(cluster: Cluster) -> None:
    assert KUBECTL is not None
    watcher = subprocess.Popen(
        [KUBECTL, "get", "pods", "-w", "--request-timeout=10s"],
        env=kubectl_environment(cluster),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        listed = [watcher.stdout.readline() for _ in range(4)]
        assert listed[0].split()[:2] == ["NAME", "READY"]
        time.sleep(0.3)  # the watch request follows the list; a change before it is replayed
        cluster.store.put(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "watched-0", "namespace": NAMESPACE},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                "status": {"phase": "Pending"},
            }
        )
        row = watcher.stdout.readline()
    finally:
        watcher.terminate()
        watcher.communicate(timeout=10)
    assert row.split()[:3] == ["watched-0", "0/1", "Pending"]


def test_kubectl_get_raw_node_logs(shared_cluster: Cluster) -> None:
    result = kubectl(shared_cluster, "get", "--raw", f"/api/v1/nodes/{NODE}/proxy/logs/")
    assert result.returncode == 0, result.stderr
    assert '<a href="pods/">pods/</a>' in result.stdout


def test_kubectl_get_raw_proxy_forbidden(shared_cluster: Cluster) -> None:
    path = f"/api/v1/namespaces/{NAMESPACE}/services/frontend:http/proxy/nginx_status"
    result = kubectl(shared_cluster, "get", "--raw", path)
    assert result.returncode == 1
    assert "Forbidden" in result.stderr


def test_kubectl_custom_resource_by_short_name(shared_cluster: Cluster) -> None:
    result = kubectl(shared_cluster, "get", "otelcol", "-o", "name")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "opentelemetrycollector.opentelemetry.io/gateway"


def test_kubectl_port_forward_names_the_limit(shared_cluster: Cluster) -> None:
    # kubectl speaks SPDY for port-forward, which the sandbox does not implement.
    result = kubectl(shared_cluster, "port-forward", "pod/frontend-0", "0:80")
    assert result.returncode == 1
    assert "SPDY" in result.stderr
