"""The node file check against a loopback API server whose kubelet file server misbehaves:
a file rotated away while it is read, rotated once, cut mid-line, denied, or in the wrong format."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from lsconform.assess import logs
from lsconform.cluster.client import ClusterClient, RetryPolicy
from lsconform.discovery.release import Component, Container, Pod, Release
from lsconform.results import Status
from lsconform.settings import Settings

TOKEN = "node-reads-token"
NS = "langsmith"
POD = "langsmith-backend-5f7c9-abcde"
UID = "1b2c3d4e-0000-4000-8000-000000000001"
CID = "cd" * 32
NODE = "node-a"
T = "2026-12-04T20:00:00.000000001Z"
LINES = f"{T} stdout F ready\n{T} stdout F serving\n".encode()
FILE = f"/api/v1/nodes/{NODE}/proxy/logs/pods/{NS}_{POD}_{UID}/backend/0.log"
LINK = f"/api/v1/nodes/{NODE}/proxy/logs/containers/{POD}_{NS}_backend-{CID}.log"

# path -> handler returning (status, body) for each request to it
Route = Callable[[], tuple[int, bytes]]


def listing(*names: str) -> bytes:
    links = "".join(f'<a href="{name}">{name}</a>\n' for name in names)
    return f"<pre>\n{links}</pre>\n".encode()


def items(kind: str, *objects: dict[str, Any]) -> bytes:
    return json.dumps({"kind": f"{kind}List", "apiVersion": "v1", "items": list(objects)}).encode()


class NodeApi:
    """Routes of the fake API server, replaceable per test."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {
            f"/api/v1/namespaces/{NS}/pods": lambda: (
                200,
                items("Pod", {"metadata": {"name": POD}}),
            ),
            "/api/v1/nodes": lambda: (
                200,
                items(
                    "Node",
                    {
                        "metadata": {"name": NODE},
                        "status": {"nodeInfo": {"containerRuntimeVersion": "containerd://1.7.13"}},
                    },
                ),
            ),
            f"/api/v1/namespaces/{NS}/pods/{POD}/log": lambda: (200, LINES),
            f"/api/v1/nodes/{NODE}/proxy/logs/pods/{NS}_{POD}_{UID}/backend/": lambda: (
                200,
                listing("0.log"),
            ),
            FILE: lambda: (200, LINES),
            f"/api/v1/nodes/{NODE}/proxy/logs/containers/": lambda: (
                200,
                listing(f"{POD}_{NS}_backend-{CID}.log"),
            ),
            LINK: lambda: (200, LINES),
        }
        self.requests: list[str] = []


def handler_for(api: NodeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path)
            api.requests.append(path)
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, b"{}")
                return
            route = api.routes.get(path)
            status, body = route() if route else (404, b"404 page not found\n")
            self._send(status, body)

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            del args

    return Handler


@pytest.fixture
def api() -> NodeApi:
    return NodeApi()


@pytest.fixture
def client(api: NodeApi, tmp_path: Path) -> Iterator[ClusterClient]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(api))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}
                ],
                "users": [{"name": "u", "user": {"token": TOKEN}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    policy = RetryPolicy(max_attempts=1, max_total_wait=0.0)
    with ClusterClient.from_kubeconfig(kubeconfig, timeout=5.0, retry=policy) as cluster:
        yield cluster
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def release() -> Release:
    container = Container(name="backend", container_id=f"containerd://{CID}", started=True)
    pod = Pod(name=POD, uid=UID, node=NODE, containers=[container])
    return Release(name="langsmith", namespace=NS, components=[Component("backend", pods=[pod])])


def node_file_result(client: ClusterClient):
    rel = release()
    evidence = logs.LogEvidence(rel, client, Settings(namespace=NS, probe_timeout=5.0))
    try:
        [target] = logs.log_targets(rel)
        return logs.check_node_file(evidence, target)
    finally:
        evidence.close()


def test_healthy_file_and_link_pass(client):
    result = node_file_result(client)
    assert result.status is Status.PASS, result.summary
    assert result.summary.startswith(f"/var/log/pods/{NS}_{POD}_{UID}/backend/0.log on node")
    assert "(cri, last line " in result.summary
    assert f"link /var/log/containers/{POD}_{NS}_backend-{CID}.log resolves" in result.summary


def test_file_rotated_away_while_read(client, api):
    api.routes[FILE] = lambda: (404, b"404 page not found\n")
    result = node_file_result(client)
    assert result.status is Status.ERROR
    assert "rotated or deleted while being read" in result.summary
    assert result.evidence["retried"] is True
    assert api.requests.count(FILE) >= 2


def test_file_rotated_once_is_read_again(client, api):
    answers = iter([(404, b"404 page not found\n")])
    api.routes[FILE] = lambda: next(answers, (200, LINES))
    result = node_file_result(client)
    assert result.status is Status.PASS, result.summary


def test_file_cut_mid_line_passes(client, api):
    api.routes[FILE] = lambda: (200, LINES + f"{T} stdout F half a li".encode())
    api.routes[LINK] = lambda: (200, LINES)
    result = node_file_result(client)
    assert result.status is Status.PASS, result.summary


def test_empty_file_passes(client, api):
    api.routes[FILE] = lambda: (200, b"")
    api.routes[LINK] = lambda: (200, b"")
    api.routes[f"/api/v1/namespaces/{NS}/pods/{POD}/log"] = lambda: (200, b"")
    result = node_file_result(client)
    assert result.status is Status.PASS, result.summary
    assert "none yet" in result.summary


def test_non_utf8_file_passes(client, api):
    data = f"{T} stdout F ".encode() + b"\xff\xfe\n"
    api.routes[FILE] = lambda: (200, data)
    api.routes[LINK] = lambda: (200, data)
    result = node_file_result(client)
    assert result.status is Status.PASS, result.summary


def test_docker_lines_on_containerd_fail(client, api):
    data = b'{"log":"ready\\n","stream":"stdout","time":"2026-12-04T20:00:00Z"}\n'
    api.routes[FILE] = lambda: (200, data)
    api.routes[LINK] = lambda: (200, data)
    result = node_file_result(client)
    assert result.status is Status.FAIL
    assert "holds docker-json lines but node runtime containerd writes cri" in result.summary


def test_plain_text_file_fails(client, api):
    api.routes[FILE] = lambda: (200, b"just text\n")
    result = node_file_result(client)
    assert result.status is Status.FAIL
    assert "neither CRI nor Docker JSON" in result.summary


def test_link_to_other_file_fails(client, api):
    api.routes[LINK] = lambda: (200, f"{T} stdout F another container\n".encode())
    result = node_file_result(client)
    assert result.status is Status.FAIL
    assert "content differs" in result.summary


def test_node_proxy_forbidden_is_error_with_rule(client, api):
    denied = json.dumps({"kind": "Status", "code": 403, "reason": "Forbidden"}).encode()
    api.routes[f"/api/v1/nodes/{NODE}/proxy/logs/pods/{NS}_{POD}_{UID}/backend/"] = lambda: (
        403,
        denied,
    )
    result = node_file_result(client)
    assert result.status is Status.ERROR
    assert 'resources: ["nodes/proxy"]' in result.remedy
    assert 'verbs: ["get"]' in result.remedy


def test_stale_file_fails(client, api):
    later = "2026-12-04T21:00:00.000000001Z"
    api.routes[f"/api/v1/namespaces/{NS}/pods/{POD}/log"] = lambda: (
        200,
        f"{later} serving\n".encode(),
    )
    result = node_file_result(client)
    assert result.status is Status.FAIL
    assert "not where the runtime writes now" in result.summary


# --- The output and collector checks against the same server -------------------------------


def run_check(client: ClusterClient, check, container: Container | None = None):
    rel = release()
    if container is not None:
        rel.components[0].pods[0].containers = [container]
    evidence = logs.LogEvidence(rel, client, Settings(namespace=NS, probe_timeout=5.0))
    try:
        [target] = logs.log_targets(rel)
        return check(evidence, target)
    finally:
        evidence.close()


def test_output_forbidden_is_error_with_rule(client, api):
    api.routes[f"/api/v1/namespaces/{NS}/pods/{POD}/log"] = lambda: (403, b"{}")
    result = run_check(client, logs.check_output)
    assert result.status is Status.ERROR
    assert 'resources: ["pods/log"]' in result.remedy


def test_output_error_share_warns(client, api):
    body = "".join(f'{T} {{"level":"error","msg":"db down {i}"}}\n' for i in range(30))
    api.routes[f"/api/v1/namespaces/{NS}/pods/{POD}/log"] = lambda: (200, body.encode())
    result = run_check(client, logs.check_output)
    assert result.status is Status.WARN
    assert "100% of the last 30 lines" in result.summary
    assert result.evidence["error_share"] == 1.0


def test_output_oom_kill_fails(client, api):
    container = Container(
        name="backend",
        container_id=f"containerd://{CID}",
        restart_count=2,
        last_termination_reason="OOMKilled",
        last_exit_code=137,
    )
    result = run_check(client, logs.check_output, container)
    assert result.status is Status.FAIL
    assert "restarted 2 times; the last run was OOMKilled" in result.summary
    assert "memory limit" in result.remedy


def test_output_clean_restart_passes(client, api):
    container = Container(
        name="backend",
        container_id=f"containerd://{CID}",
        restart_count=1,
        last_termination_reason="Completed",
        last_exit_code=0,
    )
    result = run_check(client, logs.check_output, container)
    assert result.status is Status.PASS, result.summary


def test_output_structured_lines_counted(client, api):
    body = f'{T} {{"level":"info","msg":"a"}}\n{T} plain text\n'.encode()
    api.routes[f"/api/v1/namespaces/{NS}/pods/{POD}/log"] = lambda: (200, body)
    result = run_check(client, logs.check_output)
    assert result.status is Status.PASS
    assert result.evidence["structured_lines"] == 1
    assert result.evidence["lines"] == 2


def test_collected_without_collectors_fails(client, api):
    for kind in ("daemonsets", "deployments", "statefulsets"):
        api.routes[f"/apis/apps/v1/{kind}"] = lambda: (200, items("List"))
    result = run_check(client, logs.check_collected)
    assert result.status is Status.FAIL
    assert "no log collector found" in result.summary
    assert result.evidence["pod_path"] == f"/var/log/pods/{NS}_{POD}_{UID}/backend/0.log"


def test_collected_unlistable_is_error(client, api):
    for kind in ("daemonsets", "deployments", "statefulsets"):
        api.routes[f"/apis/apps/v1/{kind}"] = lambda: (403, b"{}")
    result = run_check(client, logs.check_collected)
    assert result.status is Status.ERROR
    assert any("cannot list" in problem for problem in result.evidence["discovery_problems"])
    assert 'resources: ["daemonsets"]' in result.remedy
    assert f"/apis/apps/v1/namespaces/{NS}/daemonsets" in api.requests


def test_output_waiting_container_warns(client, api):
    status = {"kind": "Status", "code": 400, "message": 'container "backend" is waiting to start'}
    api.routes[f"/api/v1/namespaces/{NS}/pods/{POD}/log"] = lambda: (
        400,
        json.dumps(status).encode(),
    )
    result = run_check(client, logs.check_output)
    assert result.status is Status.WARN
    assert 'container "backend" is waiting to start' in result.summary


def test_collected_falls_back_to_release_namespace(client, api):
    config = {
        "receivers": {
            "filelog": {
                "include": ["/var/log/pods/*/*/*.log"],
                "operators": [{"type": "container"}],
            }
        },
        "exporters": {"debug": {}},
        "service": {"pipelines": {"logs": {"receivers": ["filelog"], "exporters": ["debug"]}}},
    }
    daemonset = {
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": NS},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "otel",
                            "image": "otel/opentelemetry-collector-contrib:0.123.0",
                            "securityContext": {"runAsUser": 0},
                            "volumeMounts": [
                                {"name": "cfg", "mountPath": "/conf"},
                                {"name": "pods", "mountPath": "/var/log/pods"},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "cfg", "configMap": {"name": "agent"}},
                        {"name": "pods", "hostPath": {"path": "/var/log/pods"}},
                    ],
                }
            }
        },
    }
    configmap = {"kind": "ConfigMap", "metadata": {"name": "agent", "namespace": NS}}
    configmap["data"] = {"relay": json.dumps(config)}
    for kind in ("daemonsets", "deployments", "statefulsets"):
        api.routes[f"/apis/apps/v1/{kind}"] = lambda: (403, b"{}")
        api.routes[f"/apis/apps/v1/namespaces/{NS}/{kind}"] = lambda: (200, items("List"))
    api.routes[f"/apis/apps/v1/namespaces/{NS}/daemonsets"] = lambda: (
        200,
        items("DaemonSet", daemonset),
    )
    api.routes[f"/api/v1/namespaces/{NS}/configmaps/agent"] = lambda: (
        200,
        json.dumps(configmap).encode(),
    )
    result = run_check(client, logs.check_collected)
    assert result.status is Status.PASS, result.summary
    assert result.summary.startswith(f"read by DaemonSet {NS}/agent")
    assert any("looked only in langsmith" in p for p in result.evidence["discovery_problems"])
