"""A small LangSmith namespace served by the sandbox's API server, with planted canaries.

The objects are written here by hand (not by a sandbox profile) so that every canary's place is
known to the tests: env values, a ConfigMap, a Secret, Helm release values and CRI log lines
on the node's disk. The API server is the sandbox's real HTTP server over a `MemoryStore`.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsconform.cluster.client import ClusterClient
from lsconform.sandbox.apiserver.server import ApiServer, ServerSettings
from lsconform.sandbox.apiserver.store import MemoryStore

NAMESPACE = "langsmith"
NODE = "sandbox-node-1"

LICENSE_KEY = "CANARY-license-key-7f3a9c"
API_KEY_SALT = "CANARY-api-key-salt-41d2"
JWT_SECRET = "CANARY-jwt-secret-90be"
PG_PASSWORD = "CANARY-pg-password-5e11"
SECRET_ONLY_VALUE = "CANARY-only-in-secret-Zx9"
BEARER = "CANARY0bearer0token0abcdef123456"
EMAIL = "canary.CANARY.user@example.com"
PAYLOAD_KEY = "lsv2_pt_CANARY0000000000000000000000000_c0ffee0001"
CANARIES = (
    LICENSE_KEY,
    API_KEY_SALT,
    JWT_SECRET,
    PG_PASSWORD,
    SECRET_ONLY_VALUE,
    BEARER,
    EMAIL,
    PAYLOAD_KEY,
)
DSN = f"postgresql://langsmith:{PG_PASSWORD}@langsmith-postgres:5432/postgres"

ERROR_LINE = "ERROR failed to connect to langsmith-redis:6379: connection refused"


def _labels(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "langsmith",
        "app.kubernetes.io/instance": "langsmith",
        "app.kubernetes.io/component": f"langsmith-{component}",
        "app.kubernetes.io/version": "0.17.12rc1",
    }


def _pod(
    name: str, component: str, container: str, port: tuple[str, int], restarts: int
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"uid-{name}",
            "labels": _labels(component),
            "annotations": {"checksum/config": "0123abcd"},
        },
        "spec": {
            "nodeName": NODE,
            "containers": [
                {
                    "name": container,
                    "image": f"docker.io/langchain/langsmith-{component}:0.17.12rc1",
                    "ports": [{"name": port[0], "containerPort": port[1], "protocol": "TCP"}],
                    "envFrom": [{"configMapRef": {"name": "langsmith-config"}}],
                    "env": [
                        {"name": "LANGSMITH_LICENSE_KEY", "value": LICENSE_KEY},
                        {"name": "POSTGRES_DATABASE_URI", "value": DSN},
                        {"name": "LOG_LEVEL", "value": "info"},
                        {
                            "name": "JWT_SECRET",
                            "valueFrom": {
                                "secretKeyRef": {"name": "langsmith-secrets", "key": "jwt_secret"}
                            },
                        },
                    ],
                }
            ],
        },
        "status": {
            "phase": "Running",
            "podIP": "127.10.0.5",
            "startTime": "2026-12-04T19:00:00Z",
            "containerStatuses": [
                {
                    "name": container,
                    "ready": True,
                    "restartCount": restarts,
                    "containerID": "containerd://" + "ab" * 32,
                    "state": {"running": {}},
                },
            ],
        },
    }


def _helm_secret(revision: int, status: str, values: dict[str, Any]) -> dict[str, Any]:
    release = {
        "name": "langsmith",
        "namespace": NAMESPACE,
        "version": revision,
        "info": {
            "status": status,
            "last_deployed": f"2026-12-0{revision}T10:00:00Z",
            "description": "Upgrade complete" if revision > 1 else "Install complete",
        },
        "chart": {
            "metadata": {
                "name": "langsmith",
                "version": "0.17.0-rc.12",
                "appVersion": "0.17.12rc1",
            },
            "values": {},
        },
        "config": values,
        "manifest": "",
    }
    helm_payload = base64.b64encode(gzip.compress(json.dumps(release).encode()))
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": {
            "name": f"sh.helm.release.v1.langsmith.v{revision}",
            "namespace": NAMESPACE,
            "labels": {
                "owner": "helm",
                "name": "langsmith",
                "status": status,
                "version": str(revision),
            },
        },
        "data": {"release": base64.b64encode(helm_payload).decode()},
    }


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def objects() -> list[dict[str, Any]]:
    """Return the namespace's objects, canaries included."""
    values = {
        "config": {
            "langsmithLicenseKey": LICENSE_KEY,
            "apiKeySalt": API_KEY_SALT,
            "basicAuth": {"jwtSecret": JWT_SECRET},
        },
        "postgres": {"external": {"enabled": True, "connectionUrl": DSN}},
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": NODE},
            "status": {
                "nodeInfo": {
                    "containerRuntimeVersion": "containerd://1.7.20",
                    "kubeletVersion": "v1.30.0",
                }
            },
        },
        _pod("langsmith-backend-5f7c9-abcde", "backend", "backend", ("backend", 1984), 1),
        _pod("langsmith-frontend-7d9f8-fghij", "frontend", "frontend", ("frontend", 8080), 0),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "langsmith-config",
                "namespace": NAMESPACE,
                "labels": _labels("config"),
            },
            "data": {
                "OTEL_TRACING_ENABLED": "true",
                "OTLP_ENDPOINT": "http://langsmith-observability-collector-gateway-collector"
                ".langsmith-observability.svc.cluster.local:4318/v1/traces",
                "API_KEY_SALT": API_KEY_SALT,
                "LOG_LEVEL": "info",
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": "langsmith-secrets", "namespace": NAMESPACE},
            "data": {
                "langsmith_license_key": _b64(LICENSE_KEY),
                "jwt_secret": _b64(JWT_SECRET),
                "opaque_blob": _b64(SECRET_ONLY_VALUE),
            },
        },
        _helm_secret(1, "superseded", values),
        _helm_secret(2, "deployed", values),
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "langsmith-backend-5f7c9-abcde.1", "namespace": NAMESPACE},
            "involvedObject": {
                "kind": "Pod",
                "name": "langsmith-backend-5f7c9-abcde",
                "namespace": NAMESPACE,
            },
            "reason": "BackOff",
            "type": "Warning",
            "message": "Back-off restarting failed container backend",
            "lastTimestamp": "2026-12-04T19:58:00Z",
            "count": 3,
        },
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "langsmith-frontend-7d9f8-fghij.1", "namespace": NAMESPACE},
            "involvedObject": {
                "kind": "Pod",
                "name": "langsmith-frontend-7d9f8-fghij",
                "namespace": NAMESPACE,
            },
            "reason": "Started",
            "type": "Normal",
            "message": "Started container frontend",
            "lastTimestamp": "2026-12-04T19:01:00Z",
        },
    ]


def _cri(message: str, second: int) -> str:
    return f"2026-12-04T19:59:{second:02d}.123456789Z stdout F {message}\n"


def write_logs(workdir: Path) -> None:
    """Write CRI log files for both pods, with canary lines in the backend's."""
    backend = workdir / "nodes" / NODE / "var/log/pods"
    pod_dir = (
        backend
        / f"{NAMESPACE}_langsmith-backend-5f7c9-abcde_uid-langsmith-backend-5f7c9-abcde"
        / "backend"
    )
    pod_dir.mkdir(parents=True)
    (pod_dir / "0.log").write_text(
        _cri(ERROR_LINE, 1)
        + _cri(json.dumps({"msg": "boot", "dsn": DSN}), 2)
        + _cri(f"starting with license {LICENSE_KEY}", 3)
    )
    (pod_dir / "1.log").write_text(
        _cri(json.dumps({"msg": "forwarding", "headers": {"authorization": f"Bearer {BEARER}"}}), 4)
        + _cri(json.dumps({"msg": "user logged in", "email": EMAIL}), 5)
        + _cri(
            json.dumps(
                {"msg": "run received", "payload": json.dumps({"inputs": {"api_key": PAYLOAD_KEY}})}
            ),
            6,
        )
        + _cri(f"GET /api/v1/runs Authorization: Bearer {BEARER} status=200", 7)
    )
    frontend = (
        backend
        / f"{NAMESPACE}_langsmith-frontend-7d9f8-fghij_uid-langsmith-frontend-7d9f8-fghij"
        / "frontend"
    )
    frontend.mkdir(parents=True)
    (frontend / "0.log").write_text(
        _cri(
            json.dumps(
                {"remote_addr": "127.0.0.1", "request": "GET /health HTTP/1.1", "status": 200}
            ),
            8,
        )
    )


@dataclass
class ApiCluster:
    """A running API server with the namespace, and a client for it."""

    server: ApiServer
    client: ClusterClient
    kubeconfig: Path
    store: MemoryStore


@contextmanager
def api_cluster(
    workdir: Path, *, rbac_role_yaml: str | None = None, latency_ms: int = 0
) -> Iterator[ApiCluster]:
    """Serve the namespace on loopback and yield a client configured by kubeconfig."""
    store = MemoryStore(workdir)
    store.put_all(objects())
    write_logs(workdir)
    settings = ServerSettings(
        workdir=workdir, tls=False, rbac_role_yaml=rbac_role_yaml, latency_ms=latency_ms
    )
    server = ApiServer(store, settings).start()
    try:
        kubeconfig = server.write_kubeconfig(workdir / "kubeconfig", NAMESPACE)
        client = ClusterClient.from_kubeconfig(kubeconfig)
        try:
            yield ApiCluster(server, client, kubeconfig, store)
        finally:
            client.close()
    finally:
        server.stop()
