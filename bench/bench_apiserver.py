"""Request latency of the sandbox API server, as ratios to `GET /version` on the same server.

    .venv/bin/python bench/bench_apiserver.py [--pods 300] [--requests 200]

Starts the API server over a MemoryStore with `--pods` pods and a 10 MB CRI log file, then times
`--requests` rounds of sequential requests, one of each kind per round, over one keep-alive
HTTPS session. The proxy row
is also compared with the same request sent straight to the pod's loopback server.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from lsconform.sandbox.apiserver import MemoryStore
from lsconform.sandbox.apiserver.server import ApiServer, ServerSettings

NAMESPACE = "bench"
NODE = "node-1"
POD_IP = "127.10.254.2"
LOG_LINES = 100_000  # about 10 MB of CRI lines
TIMEOUT_SECONDS = 30


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def fill(store: MemoryStore, workdir: Path, pods: int, port: int) -> None:
    store.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
    for index in range(pods):
        store.put(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"pod-{index:04d}",
                    "namespace": NAMESPACE,
                    "uid": f"uid-{index}",
                    "labels": {"app": "bench", "shard": str(index % 10)},
                },
                "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": "busybox"}]},
                "status": {"phase": "Running", "podIP": POD_IP},
            }
        )
    store.put(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "hello", "namespace": NAMESPACE},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": port}]},
        }
    )
    store.put(
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "hello", "namespace": NAMESPACE},
            "subsets": [{"addresses": [{"ip": POD_IP}], "ports": [{"name": "http", "port": port}]}],
        }
    )
    log_dir = workdir / f"nodes/{NODE}/var/log/pods/{NAMESPACE}_pod-0000_uid-0/c"
    log_dir.mkdir(parents=True)
    line = b"2026-12-04T20:00:00.123456789Z stdout F " + b"x" * 60 + b"\n"
    (log_dir / "0.log").write_bytes(line * LOG_LINES)


def time_rows(rows: list[tuple[str, Callable[[], requests.Response]]], count: int) -> list[float]:
    """Return each row's median seconds over `count` rounds after one warm-up round.

    Rows are interleaved within each round, so that load from other processes on the machine
    affects every row alike and the ratios stay comparable.
    """
    samples: list[list[float]] = [[] for _ in rows]
    for round_number in range(count + 1):
        for index, (_, call) in enumerate(rows):
            started = time.perf_counter()
            response = call()
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            if round_number > 0:
                samples[index].append(elapsed)
    return [statistics.median(row_samples) for row_samples in samples]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=300, help="pods in the store")
    parser.add_argument("--requests", type=int, default=200, help="rounds (requests per row)")
    options = parser.parse_args()

    pod_server = ThreadingHTTPServer((POD_IP, 0), Hello)
    threading.Thread(target=pod_server.serve_forever, args=(0.05,), daemon=True).start()
    port = pod_server.server_address[1]
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        store = MemoryStore(workdir)
        fill(store, workdir, options.pods, port)
        with ApiServer(store, ServerSettings(workdir=workdir)) as server:
            assert server.certificate is not None
            session = requests.Session()
            session.trust_env = False  # CA bundle variables would replace `verify`
            session.verify = str(server.certificate.cert_path)
            session.headers["Authorization"] = f"Bearer {server.settings.token}"
            session.request = functools.partial(  # type: ignore[method-assign]
                session.request, timeout=TIMEOUT_SECONDS
            )
            base = f"{server.url}/api/v1/namespaces/{NAMESPACE}"
            table = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
            rows: list[tuple[str, Callable[[], requests.Response]]] = [
                ("GET /version (reference)", lambda: session.get(f"{server.url}/version")),
                (f"list {options.pods} pods", lambda: session.get(f"{base}/pods")),
                (
                    f"list {options.pods} pods as Table",
                    lambda: session.get(f"{base}/pods", headers=table),
                ),
                (
                    "list pods, labelSelector shard=3",
                    lambda: session.get(f"{base}/pods", params={"labelSelector": "shard=3"}),
                ),
                ("get one pod", lambda: session.get(f"{base}/pods/pod-0001")),
                (
                    f"pods/log tailLines=100 of {LOG_LINES} lines",
                    lambda: session.get(f"{base}/pods/pod-0000/log", params={"tailLines": "100"}),
                ),
                ("services/proxy GET", lambda: session.get(f"{base}/services/hello:http/proxy/")),
                (
                    "direct GET to the pod",
                    lambda: requests.get(f"http://{POD_IP}:{port}/", timeout=TIMEOUT_SECONDS),
                ),
            ]
            medians = time_rows(rows, options.requests)
            results = [(name, seconds) for (name, _), seconds in zip(rows, medians, strict=True)]
            session.close()
    pod_server.shutdown()
    pod_server.server_close()

    reference = results[0][1]
    print("| request | median | / reference |")
    print("| --- | --- | --- |")
    for name, seconds in results:
        print(f"| {name} | {seconds * 1000:.2f} ms | {seconds / reference:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
