"""A real Prometheus discovers and scrapes the sandbox's LangSmith targets.

Prometheus (Debian's package) runs with `kubernetes_sd_configs` (role endpoints) pointed at the
sandbox's API server through its kubeconfig, and with the relabel rules of the
langsmith-observability chart's `langsmith-metrics` job: keep Services named `langsmith-.*`, then
keep endpoint ports named `backend|platform|playground|host-backend|metrics`. In the healthy
default profile every target it finds must be up.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from lsconform.sandbox import Sandbox

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
# The default profile's metrics endpoints: backend x2, platform-backend x3, playground, ClickHouse.
EXPECTED_TARGETS = 7
DISCOVERY_WAIT = 60.0  # seconds; Prometheus scrapes every 2 s here, so this is a generous bound

CONFIG = """
global:
  scrape_interval: 2s
  scrape_timeout: 1s
scrape_configs:
  - job_name: langsmith-metrics
    metrics_path: /metrics
    kubernetes_sd_configs:
      - role: endpoints
        kubeconfig_file: {kubeconfig}
        namespaces:
          names: [{namespace}]
    relabel_configs:
      - source_labels: [__meta_kubernetes_service_name]
        regex: {release}-.*
        action: keep
      - source_labels: [__meta_kubernetes_endpoint_port_name]
        regex: (backend|platform|playground|host-backend|metrics)
        action: keep
      - source_labels: [__meta_kubernetes_service_name]
        target_label: k8s_service
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: k8s_pod
      - source_labels: [__address__]
        target_label: instance
"""


PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def kubernetes_sd_missing(tmp_path: Path) -> str | None:
    """Return why this Prometheus cannot run the test, or None when it can.

    Debian builds Prometheus without the Kubernetes service discovery (its Go dependencies are
    not packaged), so its config parser rejects `kubernetes_sd_configs`.
    """
    if not Path(PROMETHEUS).exists() or not Path(PROMTOOL).exists():
        return "prometheus or promtool is not installed"
    config = tmp_path / "probe.yml"
    config.write_text(
        "scrape_configs:\n  - job_name: probe\n    kubernetes_sd_configs:\n"
        "      - role: endpoints\n"
    )
    checked = subprocess.run(
        [PROMTOOL, "check", "config", str(config)], capture_output=True, text=True, check=False
    )
    if "kubernetes_sd_configs not found" in checked.stdout + checked.stderr:
        return (
            f"{PROMETHEUS} was built without Kubernetes service discovery (Debian's package "
            "leaves it out): install an upstream Prometheus build to run this test"
        )
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def active_targets(port: int) -> list[dict[str, object]]:
    url = f"http://127.0.0.1:{port}/api/v1/targets?state=active"
    with urllib.request.urlopen(url, timeout=2) as response:
        data = json.loads(response.read())
    return list(data["data"]["activeTargets"])


def test_prometheus_scrapes_sandbox(tmp_path: Path) -> None:
    missing = kubernetes_sd_missing(tmp_path)
    if missing:
        pytest.skip(missing)
    with Sandbox(profile="default", workdir=tmp_path / "sandbox") as sandbox:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            CONFIG.format(
                kubeconfig=sandbox.kubeconfig, namespace=sandbox.namespace, release=sandbox.release
            )
        )
        port = free_port()
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        targets: list[dict[str, object]] = []
        try:
            deadline = time.monotonic() + DISCOVERY_WAIT
            while time.monotonic() < deadline:
                time.sleep(1)
                try:
                    targets = active_targets(port)
                except OSError:
                    continue
                healthy = [t for t in targets if t["health"] == "up"]
                if len(targets) >= EXPECTED_TARGETS and len(healthy) == len(targets):
                    break
        finally:
            process.terminate()
            _, errors = process.communicate(timeout=20)

    services = sorted(str(t["labels"]["k8s_service"]) for t in targets)  # type: ignore[index]
    assert len(targets) == EXPECTED_TARGETS, (services, errors.decode()[-2000:])
    assert [t["lastError"] for t in targets if t["health"] != "up"] == []
    assert services.count("langsmith-backend") == 2
    assert services.count("langsmith-platform-backend") == 3
    assert "langsmith-clickhouse" in services
    assert "langsmith-playground" in services
