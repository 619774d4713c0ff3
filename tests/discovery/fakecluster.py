"""A LangSmith release laid out in the fake API server: Helm records, workloads, pods, endpoints.

The objects come from the sandbox's chart renderer; the Helm records are encoded here with
`lsconform.discovery.helm.encode_payload`, and the live state (workload status, pods, Endpoints)
is made up the way controllers would fill it in.
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lsconform.discovery.helm import encode_payload
from lsconform.sandbox import chart


def _load_fakeapi() -> Any:
    """Import tests/cluster/fakeapi.py by path (test folders are not packages)."""
    name = "lsconform_tests_fakeapi"
    if name not in sys.modules:
        path = Path(__file__).parent.parent / "cluster" / "fakeapi.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fakeapi = _load_fakeapi()
# The C emitter, where PyYAML has it, keeps building manifests fast.
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass
class RevisionSpec:
    """One stored revision: its status, user values, and how its record is stored."""

    status: str = "deployed"
    values: dict[str, Any] = field(default_factory=dict)
    corrupt: bool = False
    gzip: bool = True
    storage: str = "secret"
    chart_name: str = chart.CHART_NAME


def helm_record(release: str, namespace: str, number: int, spec: RevisionSpec) -> dict[str, Any]:
    """The Secret (or ConfigMap) Helm stores for one revision."""
    documents = chart.render(release, namespace, spec.values)
    manifest = "\n".join(
        f"---\n# Source: {d.source}\n{yaml.dump(d.obj, Dumper=DUMPER, sort_keys=False)}"
        for d in documents
        if not d.is_hook
    )
    payload = {
        "name": release,
        "namespace": namespace,
        "version": number,
        "info": {
            "status": spec.status,
            "description": f"revision {number}",
            "first_deployed": "2026-12-01T10:00:00Z",
            "last_deployed": f"2026-12-0{min(number, 9)}T10:00:00Z",
        },
        "chart": {
            "metadata": {
                "name": spec.chart_name,
                "version": chart.CHART_VERSION,
                "appVersion": chart.APP_VERSION,
            },
            "values": copy.deepcopy(chart.DEFAULT_VALUES),
        },
        "config": spec.values,
        "manifest": manifest,
        "hooks": [],
    }
    layers = 2 if spec.storage == "secret" else 1
    data = encode_payload(payload, layers=layers, gzip=spec.gzip)
    if spec.corrupt:
        data = encode_payload({"x": 1}, layers=layers)[:-12] + "AAAAAAAAAAAA"
    labels = {"owner": "helm", "name": release, "status": spec.status, "version": str(number)}
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret" if spec.storage == "secret" else "ConfigMap",
        "metadata": {
            "name": f"sh.helm.release.v1.{release}.v{number}",
            "namespace": namespace,
            "labels": labels,
        },
        "data": {"release": data},
    }
    if spec.storage == "secret":
        obj["type"] = "helm.sh/release.v1"
    return obj


def live_objects(
    release: str,
    namespace: str,
    values: Mapping[str, Any],
    *,
    not_ready: Mapping[str, int] | None = None,
    replicas: Mapping[str, int] | None = None,
) -> list[dict[str, Any]]:
    """The objects a cluster would hold for the release, with status, pods and Endpoints.

    `replicas` overrides the replica count per workload name; `not_ready` makes that many pods
    of a workload not ready (their container waits in CrashLoopBackOff after an OOM kill).
    """
    objects: list[dict[str, Any]] = []
    pods: list[dict[str, Any]] = []
    documents = [d.obj for d in chart.render(release, namespace, values) if not d.is_hook]
    address = iter(range(2, 60000))
    for obj in documents:
        kind = obj["kind"]
        if kind not in fakeapi.KINDS:
            continue
        obj = copy.deepcopy(obj)
        obj["metadata"].setdefault("namespace", namespace)
        if kind in ("Deployment", "StatefulSet"):
            name = obj["metadata"]["name"]
            count = (replicas or {}).get(name, obj["spec"].get("replicas", 1))
            obj["spec"]["replicas"] = count
            broken = min((not_ready or {}).get(name, 0), count)
            obj["status"] = {"replicas": count, "readyReplicas": count - broken}
            for index in range(count):
                pods.append(_pod(obj, index, next(address), ready=index >= broken))
        if kind == "Service":
            obj["spec"]["clusterIP"] = f"10.96.0.{len(objects) % 250 + 1}"
        objects.append(obj)
    for service in [o for o in objects if o["kind"] == "Service"]:
        objects.append(_endpoints(service, pods))
    return objects + pods


def _pod(workload: dict[str, Any], index: int, number: int, *, ready: bool) -> dict[str, Any]:
    template = workload["spec"]["template"]
    name = (
        f"{workload['metadata']['name']}-{index}"
        if workload["kind"] == "StatefulSet"
        else f"{workload['metadata']['name']}-5f7c9-{index:05d}"
    )
    containers = template["spec"]["containers"]
    statuses = []
    for container in containers:
        status: dict[str, Any] = {
            "name": container["name"],
            "ready": ready,
            "started": ready,
            "restartCount": 0 if ready else 4,
            "containerID": f"containerd://{number:064x}",
        }
        if ready:
            status["state"] = {"running": {"startedAt": "2026-12-04T20:00:00Z"}}
        else:
            status["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
            status["lastState"] = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
        statuses.append(status)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": workload["metadata"]["namespace"],
            "uid": f"uid-{number}",
            "labels": dict(template["metadata"]["labels"]),
        },
        "spec": {**copy.deepcopy(template["spec"]), "nodeName": "node-a"},
        "status": {
            "phase": "Running",
            "podIP": f"10.0.{number // 250}.{number % 250}",
            "startTime": "2026-12-04T20:00:00Z",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": statuses,
        },
    }


def _endpoints(service: dict[str, Any], pods: list[dict[str, Any]]) -> dict[str, Any]:
    selector = service["spec"].get("selector") or {}
    chosen = [
        p
        for p in pods
        if selector and all(p["metadata"]["labels"].get(k) == v for k, v in selector.items())
    ]
    ports = []
    for port in service["spec"]["ports"]:
        target = port.get("targetPort", port["port"])
        number = target
        if isinstance(target, str):
            number = next(
                (
                    cp["containerPort"]
                    for p in chosen[:1]
                    for c in p["spec"]["containers"]
                    for cp in c.get("ports") or []
                    if cp.get("name") == target
                ),
                None,
            )
        if number is not None:
            ports.append({"name": port.get("name", ""), "port": number, "protocol": "TCP"})

    def address(pod: dict[str, Any]) -> dict[str, Any]:
        return {
            "ip": pod["status"]["podIP"],
            "nodeName": "node-a",
            "targetRef": {
                "kind": "Pod",
                "name": pod["metadata"]["name"],
                "namespace": pod["metadata"]["namespace"],
            },
        }

    ready = [address(p) for p in chosen if p["status"]["conditions"][0]["status"] == "True"]
    not_ready = [address(p) for p in chosen if p["status"]["conditions"][0]["status"] != "True"]
    subset: dict[str, Any] = {"ports": ports}
    if ready:
        subset["addresses"] = ready
    if not_ready:
        subset["notReadyAddresses"] = not_ready
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": service["metadata"]["name"],
            "namespace": service["metadata"]["namespace"],
            "labels": dict(service["metadata"].get("labels") or {}),
        },
        "subsets": [subset] if chosen else [],
    }


def install(
    api: Any,
    release: str = "langsmith",
    namespace: str = "langsmith",
    *,
    revisions: list[RevisionSpec] | None = None,
    live: bool = True,
    **live_options: Any,
) -> None:
    """Put a release's Helm records and (with `live`) its objects into the fake API."""
    revisions = revisions if revisions is not None else [RevisionSpec()]
    for number, spec in enumerate(revisions, start=1):
        api.add(helm_record(release, namespace, number, spec))
    if live:
        good = [spec for spec in revisions if spec.status == "deployed"] or revisions
        api.add(*live_objects(release, namespace, good[-1].values if good else {}, **live_options))
