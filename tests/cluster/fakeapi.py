"""A loopback HTTP server that plays a Kubernetes API server from canned objects.

It serves GET of collections (with equality label selectors, `limit` and `continue`) and of
single objects, answers with `Status` objects the way the API server does, checks a bearer
token, and lets a test install a handler for any path to play slow, huge or failing responses.
It records every request so tests can count them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "fake-api-token"

# kind -> (group/version prefix, plural)
KINDS = {
    "Pod": ("/api/v1", "pods"),
    "Service": ("/api/v1", "services"),
    "Endpoints": ("/api/v1", "endpoints"),
    "ConfigMap": ("/api/v1", "configmaps"),
    "Secret": ("/api/v1", "secrets"),
    "ServiceAccount": ("/api/v1", "serviceaccounts"),
    "Node": ("/api/v1", "nodes"),
    "Deployment": ("/apis/apps/v1", "deployments"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"),
    "DaemonSet": ("/apis/apps/v1", "daemonsets"),
    "ReplicaSet": ("/apis/apps/v1", "replicasets"),
    "Job": ("/apis/batch/v1", "jobs"),
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


Handler = Callable[["FakeHandler", Request], None]


@dataclass
class FakeApi:
    """The state of the fake API server: objects by collection path, and custom routes."""

    collections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    routes: dict[str, Handler] = field(default_factory=dict)
    prefix_routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, *objects: dict[str, Any]) -> None:
        """Store objects under their collection paths."""
        for obj in objects:
            prefix, plural = KINDS[obj["kind"]]
            namespace = (obj.get("metadata") or {}).get("namespace")
            path = f"{prefix}/{plural}"
            if namespace:
                path = f"{prefix}/namespaces/{namespace}/{plural}"
            self.collections.setdefault(path, []).append(obj)

    def route(self, path: str, handler: Handler, *, prefix: bool = False) -> None:
        """Answer `path` (or every path starting with it) with `handler`."""
        (self.prefix_routes if prefix else self.routes)[path] = handler

    def paths(self) -> list[str]:
        with self.lock:
            return [f"{r.method} {r.path}" for r in self.requests]


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> bytes:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return json.dumps(body).encode()


def selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.rstrip("=")) != value.lstrip("="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class FakeHandler(BaseHTTPRequestHandler):
    server: FakeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_bytes(
        self,
        code: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, code: int, data: Any) -> None:
        self.send_bytes(code, json.dumps(data).encode())

    def do_GET(self) -> None:
        self.handle_any("GET")

    def do_POST(self) -> None:
        self.handle_any("POST")

    def handle_any(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method, parts.path, query, {k.lower(): v for k, v in self.headers.items()}, body
        )
        api = self.server.api
        with api.lock:
            api.requests.append(request)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_bytes(401, status_body(401, "Unauthorized", "Unauthorized"))
            return
        handler = api.routes.get(parts.path)
        if handler is None:
            for prefix, candidate in api.prefix_routes.items():
                if parts.path.startswith(prefix):
                    handler = candidate
                    break
        if handler is not None:
            handler(self, request)
            return
        if method == "GET":
            self.serve_object(request)
            return
        self.send_bytes(405, status_body(405, "MethodNotAllowed", "method not allowed"))

    def serve_object(self, request: Request) -> None:
        api = self.server.api
        if request.path == "/version":
            self.send_json(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-fake"})
            return
        if request.path in api.collections or self._is_known_collection(request.path):
            items = [
                item
                for item in api.collections.get(request.path, [])
                if selector_matches(
                    request.query.get("labelSelector", ""),
                    (item.get("metadata") or {}).get("labels") or {},
                )
            ]
            start = int(request.query.get("continue") or 0)
            limit = int(request.query.get("limit") or 0) or len(items) or 1
            page = items[start : start + limit]
            metadata: dict[str, Any] = {"resourceVersion": "1"}
            if start + limit < len(items):
                metadata["continue"] = str(start + limit)
            kind = self._kind_of(request.path)
            self.send_json(
                200,
                {"kind": f"{kind}List", "apiVersion": "v1", "metadata": metadata, "items": page},
            )
            return
        collection, _, name = request.path.rpartition("/")
        for item in api.collections.get(collection, []):
            if item["metadata"]["name"] == name:
                self.send_json(200, item)
                return
        plural = collection.rpartition("/")[2]
        self.send_bytes(
            404,
            status_body(
                404, "NotFound", f'{plural} "{name}" not found', {"name": name, "kind": plural}
            ),
        )

    @staticmethod
    def _kind_of(path: str) -> str:
        plural = path.rstrip("/").rpartition("/")[2]
        for kind, (_, candidate) in KINDS.items():
            if candidate == plural:
                return kind
        return "Unknown"

    @staticmethod
    def _is_known_collection(path: str) -> bool:
        for prefix, plural in KINDS.values():
            if path.startswith(prefix + "/") and path.endswith("/" + plural):
                rest = path[len(prefix) + 1 :]
                segments = rest.split("/")
                if segments == [plural] or (len(segments) == 3 and segments[0] == "namespaces"):
                    return True
        return False


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: FakeApi) -> None:
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.api = api

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def write_kubeconfig(
        self, path: Path, *, token: str = TOKEN, namespace: str = "default"
    ) -> Path:
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: fake\n  cluster:\n    server: {self.url}\n"
            f"users:\n- name: tester\n  user:\n    token: {token}\n"
            "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n"
            f"    namespace: {namespace}\n"
            "- name: other\n  context:\n    cluster: fake\n    user: tester\n"
            "current-context: fake\n"
        )
        return path


def start(api: FakeApi) -> tuple[FakeServer, threading.Thread]:
    server = FakeServer(api)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return server, thread
