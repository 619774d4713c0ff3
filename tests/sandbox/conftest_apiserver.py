"""Helpers for the API server tests: a small cluster in a MemoryStore, its CRI log files, and a
loopback HTTP server that plays a pod and serves `/nginx_status` only to 127.0.0.1 clients.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import requests

from lsconform.sandbox.apiserver import OPENTELEMETRY_COLLECTOR, MemoryStore
from lsconform.sandbox.apiserver.server import ApiServer, ServerSettings

NAMESPACE = "langsmith"
NODE = "sandbox-node-1"
BACKEND_UID = "0b6c1a3e-0000-4000-8000-000000000001"
CONTAINER_ID = "containerd://" + "ab" * 32

# Two restarts of the backend's api container: 0.log is the previous container, 1.log the current.
PREVIOUS_LOG = (
    b"2026-12-04T19:00:00.000000001Z stdout F previous run line 1\n"
    b"2026-12-04T19:00:01Z stderr F previous run crashed\n"
)
CURRENT_LOG = (
    b"2026-12-04T20:00:00.100000000Z stdout F starting backend\n"
    b"2026-12-04T20:00:01.000000000Z stdout P partial one \n"
    b"2026-12-04T20:00:01.500000000Z stdout F partial two\n"
    b"2026-12-04T20:00:02.250000000Z stderr F bytes \xff\xfe not utf-8\n"
    b"2026-12-04T20:00:03Z stdout F ready\n"
)


class StatusHandler(BaseHTTPRequestHandler):
    """nginx's stub_status stand-in: 403 for any client but 127.0.0.1, like the chart's config."""

    def do_GET(self) -> None:
        if self.path.startswith("/nginx_status") and self.client_address[0] != "127.0.0.1":
            self._reply(403, b"forbidden\n")
        elif self.path.startswith("/nginx_status"):
            self._reply(200, b"Active connections: 1 \nserver accepts handled requests\n")
        else:
            body = f"{self.command} {self.path} from {self.client_address[0]}\n".encode()
            self._reply(200, body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self._reply(201, b"posted:" + self.rfile.read(length))

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Pod-IP", self.server.server_address[0])
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return


@dataclass
class PodServer:
    ip: str
    port: int
    server: ThreadingHTTPServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def start_pod_server(ip: str) -> PodServer:
    server = ThreadingHTTPServer((ip, 0), StatusHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return PodServer(ip, server.server_address[1], server, thread)


def free_loopback_ip() -> str:
    """An address in 127.10.0.0/16 that is unlikely to be used by a parallel test run."""
    return f"127.10.{random.randint(100, 250)}.{random.randint(2, 250)}"


def pod(
    name: str,
    ip: str | None,
    labels: dict[str, str],
    containers: list[dict[str, Any]],
    phase: str = "Running",
    uid: str | None = None,
    statuses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if ip is not None:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    status["containerStatuses"] = statuses or [
        {
            "name": c["name"],
            "ready": True,
            "restartCount": 0,
            "state": {"running": {"startedAt": "2026-12-04T20:00:00Z"}},
            "containerID": CONTAINER_ID,
            "image": c.get("image", "busybox"),
            "imageID": "docker.io/library/busybox@sha256:" + "0" * 64,
        }
        for c in containers
    ]
    metadata: dict[str, Any] = {"name": name, "namespace": NAMESPACE, "labels": labels}
    if uid:
        metadata["uid"] = uid
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"nodeName": NODE, "containers": containers, "serviceAccountName": "default"},
        "status": status,
    }


def build_store(workdir: Path, frontend: PodServer, backend_ip: str) -> MemoryStore:
    store = MemoryStore(workdir)
    store.register(OPENTELEMETRY_COLLECTOR)
    store.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    store.put(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}},
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "nodeInfo": {
                    "architecture": "amd64",
                    "bootID": "b0",
                    "containerRuntimeVersion": "containerd://1.7.24",
                    "kernelVersion": "6.1.0",
                    "kubeProxyVersion": "v1.32.4",
                    "kubeletVersion": "v1.32.4",
                    "machineID": "m0",
                    "operatingSystem": "linux",
                    "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "systemUUID": "u0",
                },
            },
        }
    )
    store.put(
        pod(
            "frontend-0",
            frontend.ip,
            {"app.kubernetes.io/component": "frontend", "tier": "web"},
            [{"name": "nginx", "ports": [{"name": "http", "containerPort": frontend.port}]}],
        )
    )
    store.put(
        pod(
            "backend-0",
            backend_ip,
            {"app.kubernetes.io/component": "backend", "tier": "api"},
            [
                {"name": "api", "ports": [{"name": "backend", "containerPort": 1984}]},
                {"name": "sidecar"},
            ],
            uid=BACKEND_UID,
        )
    )
    store.put(
        pod(
            "pending-0",
            None,
            {"app.kubernetes.io/component": "queue"},
            [{"name": "queue"}],
            phase="Pending",
            statuses=[
                {
                    "name": "queue",
                    "ready": False,
                    "restartCount": 0,
                    "image": "busybox",
                    "imageID": "",
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                }
            ],
        )
    )
    store.put(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "frontend", "namespace": NAMESPACE},
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "127.11.0.10",
                "selector": {"app.kubernetes.io/component": "frontend"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
        }
    )
    store.put(
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "frontend", "namespace": NAMESPACE},
            "subsets": [
                {
                    "addresses": [
                        {
                            "ip": frontend.ip,
                            "targetRef": {"kind": "Pod", "name": "frontend-0"},
                        }
                    ],
                    "ports": [{"name": "http", "port": frontend.port, "protocol": "TCP"}],
                }
            ],
        }
    )
    store.put(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "backend", "namespace": NAMESPACE},
            "spec": {
                "clusterIP": "127.11.0.11",
                "ports": [{"name": "backend", "port": 1984, "targetPort": 1984}],
            },
        }
    )
    store.put(
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "backend", "namespace": NAMESPACE},
            "subsets": [
                {
                    "addresses": [{"ip": backend_ip}],
                    "ports": [{"name": "backend", "port": 1984}],
                }
            ],
        }
    )
    store.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "sh.helm.release.v1.langsmith.v1",
                "namespace": NAMESPACE,
                "labels": {"owner": "helm", "name": "langsmith"},
            },
            "type": "helm.sh/release.v1",
            "data": {"release": "e30="},
        }
    )
    store.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "other", "namespace": NAMESPACE},
            "type": "Opaque",
        }
    )
    store.put(
        {
            "apiVersion": "opentelemetry.io/v1beta1",
            "kind": "OpenTelemetryCollector",
            "metadata": {"name": "gateway", "namespace": NAMESPACE},
            "spec": {"mode": "deployment"},
        }
    )
    store.put(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "backend-0.1", "namespace": NAMESPACE},
            "involvedObject": {"kind": "Pod", "name": "backend-0", "namespace": NAMESPACE},
            "reason": "BackOff",
            "type": "Warning",
            "message": "Back-off restarting failed container api",
            "source": {"component": "kubelet"},
            "count": 3,
            "firstTimestamp": "2026-12-04T19:00:01Z",
            "lastTimestamp": "2026-12-04T19:00:02Z",
        }
    )
    write_logs(workdir)
    return store


def write_logs(workdir: Path) -> None:
    var_log = workdir / "nodes" / NODE / "var" / "log"
    api_dir = var_log / "pods" / f"{NAMESPACE}_backend-0_{BACKEND_UID}" / "api"
    api_dir.mkdir(parents=True)
    (api_dir / "0.log").write_bytes(PREVIOUS_LOG)
    (api_dir / "1.log").write_bytes(CURRENT_LOG)
    containers = var_log / "containers"
    containers.mkdir()
    link = containers / f"backend-0_{NAMESPACE}_api-{'ab' * 32}.log"
    os.symlink(f"/var/log/pods/{NAMESPACE}_backend-0_{BACKEND_UID}/api/1.log", link)
    dangling = containers / f"gone-0_{NAMESPACE}_api-{'cd' * 32}.log"
    os.symlink(f"/var/log/pods/{NAMESPACE}_gone-0_x/api/0.log", dangling)


def close_portforward(forward: Any) -> None:
    """Close an official-client port-forward and the WebSocket it leaves open.

    The client's relay thread ends once the stream is closed. Its WebSocket is shut down only
    after that thread has ended, because the thread selects on the socket until then.
    """
    forward.close()
    for thread in threading.enumerate():
        if thread.name.startswith("Kubernetes port forward proxy"):
            thread.join(5)
    forward.websocket.shutdown()


@dataclass
class Cluster:
    server: ApiServer
    store: MemoryStore
    workdir: Path
    kubeconfig: Path
    frontend: PodServer
    backend_ip: str
    clients: list[kubernetes.client.ApiClient] = field(default_factory=list)

    def client(self) -> kubernetes.client.ApiClient:
        """An official client for the sandbox kubeconfig, closed when the cluster stops."""
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(
            config_file=str(self.kubeconfig), client_configuration=configuration
        )
        client = kubernetes.client.ApiClient(configuration)
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()

    def core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.client())

    def request(
        self, method: str, path: str, token: bool = True, **kwargs: Any
    ) -> requests.Response:
        """Send a raw HTTP request to the API server, verifying its certificate."""
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {self.server.settings.token}"
        certificate = self.server.certificate
        verify: bool | str = str(certificate.cert_path) if certificate else True
        return requests.request(
            method,
            self.server.url + path,
            headers=headers,
            verify=verify,
            timeout=10,
            **kwargs,
        )

    def audit(self) -> list[dict[str, Any]]:
        import json

        path = self.workdir / "audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line]


def start_cluster(tmp_path: Path, **settings: Any) -> Iterator[Cluster]:
    """Start a pod server, fill a store and run the API server over it until the test ends."""
    frontend = start_pod_server(free_loopback_ip())
    backend_ip = free_loopback_ip()
    store = build_store(tmp_path, frontend, backend_ip)
    server = ApiServer(store, ServerSettings(workdir=tmp_path, **settings)).start()
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", NAMESPACE)
    cluster = Cluster(server, store, tmp_path, kubeconfig, frontend, backend_ip)
    try:
        yield cluster
    finally:
        cluster.close_clients()
        server.stop()
        frontend.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A fresh cluster for tests that change the store or need an empty audit log."""
    yield from start_cluster(tmp_path)


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster per test module, for tests that only read."""
    yield from start_cluster(tmp_path_factory.mktemp("apiserver"))
