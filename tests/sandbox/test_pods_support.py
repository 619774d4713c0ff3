"""Helpers for the pod tests (no tests here): hand-written plans, addresses, plain clients."""

from __future__ import annotations

import http.client
import itertools
import os
import re
import secrets
import socket
import uuid
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

# Each test process takes its own 127.x block so xdist workers never share an address.
_indices = itertools.count(1)

CRI_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z (stdout|stderr) (F|P) (.*)$")


def next_ip() -> str:
    """Return a loopback address that no other test of this process uses."""
    index = next(_indices)
    return f"127.{30 + os.getpid() % 30}.{index // 250}.{index % 250 + 1}"


def make_plan(
    workdir: Path,
    name: str,
    role: str,
    component: str,
    ports: list[tuple[str, int]],
    *,
    env: dict[str, str] | None = None,
    namespace: str = "langsmith",
    restart_count: int = 0,
    faults: list[str] | None = None,
    container: str | None = None,
    node: str = "sandbox-node-1",
) -> dict[str, Any]:
    """Build one pod plan in the shape the state builder writes to pods.json."""
    uid = str(uuid.uuid4())
    container_name = container or component or name
    log_dir = (
        workdir / "nodes" / node / "var/log/pods" / f"{namespace}_{name}_{uid}" / container_name
    )
    return {
        "namespace": namespace,
        "name": name,
        "uid": uid,
        "ip": next_ip(),
        "node": node,
        "release": "langsmith",
        "component": component,
        "role": role,
        "labels": {"app.kubernetes.io/instance": "langsmith"},
        "containers": [
            {
                "name": container_name,
                "container_id": "containerd://" + secrets.token_hex(32),
                "image": "docker.io/langchain/langsmith-backend:0.17.12rc1",
                "restart_count": restart_count,
                "ports": [
                    {"name": port_name, "containerPort": port, "protocol": "TCP"}
                    for port_name, port in ports
                ],
                "env": env or {},
                "log_dir": str(log_dir),
            }
        ],
        "faults": faults or [],
    }


def get(
    ip: str,
    port: int,
    path: str,
    *,
    source: str | None = None,
    timeout: float = 5.0,
    method: str = "GET",
) -> tuple[int, dict[str, str], bytes]:
    """Send one HTTP request and return (status, headers, body)."""
    source_address = (source, 0) if source else None
    connection = http.client.HTTPConnection(
        ip, port, timeout=timeout, source_address=source_address
    )
    try:
        connection.request(method, path)
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def refuses(ip: str, port: int) -> bool:
    """Tell whether a TCP connection to ip:port is refused."""
    try:
        with socket.create_connection((ip, port), timeout=2.0):
            return False
    except ConnectionRefusedError:
        return True


def families(body: bytes) -> dict[str, Any]:
    """Parse an exposition with prometheus_client's parser; map family name to family."""
    return {f.name: f for f in text_string_to_metric_families(body.decode("utf-8"))}


def sample_value(body: bytes, sample: str, **labels: str) -> float:
    """Return the sum of a sample's values over series whose labels include `labels`."""
    total = 0.0
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for item in family.samples:
            if item.name == sample and all(item.labels.get(k) == v for k, v in labels.items()):
                total += item.value
    return total


def log_files(plan: dict[str, Any], index: int = 0) -> Path:
    """Return the log directory of one container of a plan."""
    return Path(plan["containers"][index]["log_dir"])


def node_root(workdir: Path, plan: dict[str, Any]) -> Path:
    """Return the node's root inside the workdir (where `/var/log/...` link targets live)."""
    return workdir / "nodes" / plan["node"]


def container_link(workdir: Path, plan: dict[str, Any], index: int = 0) -> Path:
    """Return the `/var/log/containers` link path of one container of a plan."""
    container = plan["containers"][index]
    hex_id = container["container_id"].split("://", 1)[1]
    name = f"{plan['name']}_{plan['namespace']}_{container['name']}-{hex_id}.log"
    return node_root(workdir, plan) / "var/log/containers" / name
