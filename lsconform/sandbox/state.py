"""The sandbox's cluster state: rendered release objects plus what a cluster adds to them.

`StateBuilder` takes one or more releases (rendered documents, user values, revisions). It fills
a `ClusterState`, the object store the API server serves, with what a small cluster would hold:
Namespaces, Nodes, the release objects stamped by Helm, completed hook Jobs, ReplicaSets and Pods
with realistic names, statuses and owner references, Service cluster IPs, Endpoints and
EndpointSlices, Events, ServiceAccounts and the Helm release Secrets. It also writes the pod
plans that tell `lsconform.sandbox.pods` what to play.

Addresses: each pod gets its own loopback address from 127.10.0.0/16 and each Service a cluster
IP from 127.11.0.0/16. Several sandboxes may run at once (parallel test workers), so a sandbox
claims /24 blocks with an advisory lock file per block and holds the locks while it runs.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import logging
import random
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

from lsconform.constants import COMPONENTS, LABEL_COMPONENT
from lsconform.sandbox import helm
from lsconform.sandbox.apiserver.store import (
    BUILTIN_TYPES,
    OPENTELEMETRY_COLLECTOR,
    MemoryStore,
    PathList,
    ResourceType,
)
from lsconform.sandbox.chart import Document
from lsconform.sandbox.manifests import manifest_text

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]

# Kinds a cluster serves beyond the API server's built-in list.
EXTRA_TYPES: tuple[ResourceType, ...] = (
    ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False
    ),
    ResourceType(
        "", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, short_names=("pvc",)
    ),
    ResourceType("networking.k8s.io", "v1", "Ingress", "ingresses", True, short_names=("ing",)),
    ResourceType(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        True,
        short_names=("hpa",),
        categories=("all",),
    ),
    ResourceType("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        short_names=("crd",),
    ),
    OPENTELEMETRY_COLLECTOR,
)
ALL_TYPES = BUILTIN_TYPES + EXTRA_TYPES
KNOWN_KINDS = frozenset((t.api_version, t.kind) for t in ALL_TYPES)

NODE_NAMES = ("sandbox-node-1", "sandbox-node-2")
KUBELET_VERSION = "v1.30.4"
CONTAINER_RUNTIME = "containerd://1.7.22"
# Kubernetes' safe alphabet for generated name suffixes (no vowels, no 0/1/3).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

ADDRESS_LOCK_DIR = Path(tempfile.gettempdir()) / "lsconform-sandbox-addresses"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_nano(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


# ---------------------------------------------------------------------------------------------
# The store.


@dataclass
class ClusterState(MemoryStore):
    """The API server's `Store`, plus what the orchestrator needs about the sandbox.

    `vanishing_pods` lists `(namespace, name)` of pods that disappear on the first request for
    their logs (the pod-vanishes fault). `container_log_files` deletes such a pod and returns
    None, as for a pod that a rollout removed between listing and reading.
    """

    releases: list[str] = field(default_factory=list)
    namespace: str = ""
    plans: list[JsonObject] = field(default_factory=list)
    vanishing_pods: set[tuple[str, str]] = field(default_factory=set)
    rbac_role_yaml: str | None = None
    after_pod_deleted: Callable[[], None] | None = field(default=None, repr=False)
    """Called after a vanishing pod is deleted, to update what controllers derive from pods."""

    def container_log_files(self, namespace: str, pod: str, container: str) -> PathList | None:
        if (namespace, pod) in self.vanishing_pods:
            self.vanishing_pods.discard((namespace, pod))
            logger.info("pod-vanishes: deleting pod %s/%s on its first log request", namespace, pod)
            self.delete("pods", "", namespace, pod)
            if self.after_pod_deleted is not None:
                self.after_pod_deleted()
            return None
        return super().container_log_files(namespace, pod, container)


def new_state(workdir: Path) -> ClusterState:
    return ClusterState(workdir=workdir, types=list(ALL_TYPES))


# ---------------------------------------------------------------------------------------------
# Addresses.


class AddressPool:
    """Hands out pod addresses (127.10.k.1-254) and cluster IPs (127.11.k.1-254) by /24 block.

    A block is claimed with an exclusive `flock` on `ADDRESS_LOCK_DIR/block-<k>.lock`, held until
    `close()` or the end of the process. Concurrent sandboxes therefore never share a pod address,
    which matters because their pods bind the same ports.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._locks: list[IO[bytes]] = []
        self._pod_block: list[str] = []
        self._service_block: list[str] = []
        self.blocks: list[int] = []

    def _claim_block(self) -> int:
        ADDRESS_LOCK_DIR.mkdir(parents=True, exist_ok=True)
        start = self._rng.randrange(256)
        for offset in range(256):
            block = (start + offset) % 256
            if block in self.blocks:
                continue
            handle = open(ADDRESS_LOCK_DIR / f"block-{block}.lock", "wb")  # noqa: SIM115
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            self._locks.append(handle)
            self.blocks.append(block)
            return block
        raise RuntimeError("all 256 loopback address blocks in 127.10.0.0/16 are in use")

    def _refill(self) -> None:
        block = self._claim_block()
        self._pod_block = [f"127.10.{block}.{host}" for host in range(254, 0, -1)]
        self._service_block = [f"127.11.{block}.{host}" for host in range(254, 0, -1)]

    def pod_ip(self) -> str:
        if not self._pod_block:
            self._refill()
        return self._pod_block.pop()

    def cluster_ip(self) -> str:
        if not self._service_block:
            self._refill()
        return self._service_block.pop()

    def close(self) -> None:
        for handle in self._locks:
            handle.close()
        self._locks.clear()


# ---------------------------------------------------------------------------------------------
# Releases.


@dataclass
class ReleaseSpec:
    """One Helm release to lay out: its rendered documents and its revision history."""

    release: str
    namespace: str
    chart: helm.ChartMeta
    documents: list[Document]
    chart_values: JsonObject
    revisions: list[helm.Revision]
    notes: str = ""
    extra_objects: list[JsonObject] = field(default_factory=list)
    """Objects that exist because of the release but are not in its manifest (objects an
    operator creates from a custom resource)."""
    stale_env: dict[str, str] = field(default_factory=dict)
    """Env that agent-feature pods kept from before the latest change (stale-pod-env)."""


def _component_suffix(component_label: str) -> str:
    """Find the chart component a `app.kubernetes.io/component` value names (longest match)."""
    suffixes = sorted(
        [c.suffix for c in COMPONENTS]
        + [
            f"standalone-{feature}-{part}"
            for feature in ("insights", "polly", "fleet")
            for part in ("api-server", "queue", "postgres", "redis")
        ],
        key=len,
        reverse=True,
    )
    for suffix in suffixes:
        if component_label == suffix or component_label.endswith(f"-{suffix}"):
            return suffix
    return ""


def role_for(labels: Mapping[str, str], component: str) -> str:
    """Return the pod role `lsconform.sandbox.pods` plays, from the component and labels."""
    app = labels.get("app", "") or labels.get("app.kubernetes.io/name", "")
    if "postgres-exporter" in app:
        return "postgres-exporter"
    if "redis-exporter" in app:
        return "redis-exporter"
    if labels.get("app.kubernetes.io/component") == "opentelemetry-collector":
        return "otel-collector"
    if component.endswith("postgres"):
        return "postgres"
    if component.endswith("redis"):
        return "redis"
    if component in ("frontend", "clickhouse"):
        return component
    if component:
        return "langsmith-service"
    return "generic"


def _short_hash(text: str, length: int = 10) -> str:
    digest = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    chars = []
    for _ in range(length):
        digest, index = divmod(digest, len(NAME_ALPHABET))
        chars.append(NAME_ALPHABET[index])
    return "".join(chars)


# ---------------------------------------------------------------------------------------------
# The builder.


@dataclass
class PodSpecInput:
    """The inputs for creating one pod of a workload."""

    workload: JsonObject
    name: str
    labels: dict[str, str]
    owner: JsonObject
    release: str
    node: str | None = None
    """The node a DaemonSet pod is bound to; None lets the builder spread pods over nodes."""


class StateBuilder:
    """Fills a `ClusterState` from releases; call `add_release` for each, then `finish`."""

    def __init__(
        self,
        workdir: Path,
        faults: Iterable[str] = (),
        *,
        seed: int | None = None,
        now: datetime | None = None,
    ) -> None:
        self.workdir = workdir
        self.faults = frozenset(faults)
        self.rng = random.Random(seed)
        self.now = now or datetime.now(timezone.utc)
        self.state = new_state(workdir)
        self.state.after_pod_deleted = self.refresh_controllers
        self.addresses = AddressPool(self.rng)
        self.pods: list[JsonObject] = []
        self.plans: list[JsonObject] = []
        self.events: list[JsonObject] = []
        self._node_index = 0
        self._namespaces: set[str] = set()
        self._secrets: dict[tuple[str, str], JsonObject] = {}
        self._config_maps: dict[tuple[str, str], JsonObject] = {}
        self._uids: dict[tuple[str, str, str], str] = {}
        self._rollout_time = self.now - timedelta(minutes=50)

    # Identity helpers.

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex64(self) -> str:
        return f"{self.rng.getrandbits(256):064x}"

    def suffix(self, length: int = 5) -> str:
        return "".join(self.rng.choice(NAME_ALPHABET) for _ in range(length))

    def put(self, obj: JsonObject) -> JsonObject:
        metadata = obj.setdefault("metadata", {})
        metadata.setdefault("uid", self.uid())
        metadata.setdefault("creationTimestamp", rfc3339(self._rollout_time))
        return self.state.put(obj)

    # Cluster scaffolding.

    def add_cluster_basics(self) -> None:
        for namespace in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.add_namespace(namespace)
        for index, name in enumerate(NODE_NAMES, start=1):
            self.put(self._node(name, index))
        self.put(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "type": "ClusterIP",
                    "clusterIP": "127.11.255.1",
                    "clusterIPs": ["127.11.255.1"],
                    "ports": [
                        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}
                    ],
                    "sessionAffinity": "None",
                },
            }
        )

    def add_namespace(self, namespace: str) -> None:
        if namespace in self._namespaces:
            return
        self._namespaces.add(namespace)
        self.put(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": namespace,
                    "labels": {"kubernetes.io/metadata.name": namespace},
                    "creationTimestamp": rfc3339(self.now - timedelta(days=30)),
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
        )
        self.put(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": namespace},
            }
        )
        # The root CA bundle every namespace gets from the kube-controller-manager.
        self.put(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": "kube-root-ca.crt",
                    "namespace": namespace,
                },
                # The orchestrator fills in the API server's certificate once it exists.
                "data": {"ca.crt": ""},
            }
        )

    def _node(self, name: str, index: int) -> JsonObject:
        booted = rfc3339(self.now - timedelta(days=30))
        conditions = [
            ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID"),
            ("Ready", "True", "KubeletReady"),
        ]
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "creationTimestamp": booted,
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/os": "linux",
                    "beta.kubernetes.io/arch": "amd64",
                },
            },
            "spec": {"podCIDR": f"127.10.{index}.0/24"},
            "status": {
                "capacity": {"cpu": "2", "memory": "24Gi", "pods": "110"},
                "allocatable": {"cpu": "2", "memory": "23Gi", "pods": "110"},
                "conditions": [
                    {
                        "type": kind,
                        "status": status,
                        "reason": reason,
                        "message": f"kubelet condition {reason}",
                        "lastHeartbeatTime": rfc3339(self.now),
                        "lastTransitionTime": booted,
                    }
                    for kind, status, reason in conditions
                ],
                "addresses": [
                    {"type": "InternalIP", "address": f"127.9.0.{index}"},
                    {"type": "Hostname", "address": name},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "machineID": self.hex64()[:32],
                    "systemUUID": self.uid(),
                    "bootID": self.uid(),
                    "kernelVersion": "6.1.0-28-amd64",
                    "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "containerRuntimeVersion": CONTAINER_RUNTIME,
                    "kubeletVersion": KUBELET_VERSION,
                    "kubeProxyVersion": KUBELET_VERSION,
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
            },
        }

    # Releases.

    def add_release(self, spec: ReleaseSpec) -> None:
        """Lay out one release: its objects, hook Jobs, Helm Secrets, workloads and pods."""
        self.add_namespace(spec.namespace)
        if spec.release not in self.state.releases:
            self.state.releases.append(spec.release)
        for document in spec.documents:
            self._add_document(spec, document)
        for obj in spec.extra_objects:
            self._put_object(obj, spec.namespace)
        self._add_helm_secrets(spec)
        for obj in [d.obj for d in spec.documents if not d.is_hook] + spec.extra_objects:
            if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
                self._add_workload(spec, obj)

    def _put_object(self, obj: JsonObject, namespace: str) -> JsonObject:
        obj = _drop_nulls(obj)
        resource = self.state.type_of(obj)
        metadata = obj["metadata"]
        if resource.namespaced:
            metadata.setdefault("namespace", namespace)
            self.add_namespace(metadata["namespace"])
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            metadata.setdefault("generation", 1)
        _apply_defaults(obj)
        if obj["kind"] == "Service":
            self._allocate_service(obj)
        key = (metadata.get("namespace", ""), metadata["name"])
        if obj["kind"] == "Secret":
            self._secrets[key] = obj
        if obj["kind"] == "ConfigMap":
            self._config_maps[key] = obj
        stored = self.put(obj)
        self._uids[(obj["kind"], key[0], key[1])] = stored["metadata"]["uid"]
        return stored

    def _add_document(self, spec: ReleaseSpec, document: Document) -> None:
        obj = _drop_nulls(document.obj)
        if document.is_hook:
            self._add_hook_job(spec, obj)
            return
        annotations = obj["metadata"].setdefault("annotations", {}) or {}
        obj["metadata"]["annotations"] = annotations
        annotations["meta.helm.sh/release-name"] = spec.release
        annotations["meta.helm.sh/release-namespace"] = spec.namespace
        obj["metadata"].setdefault("labels", {})
        self._put_object(obj, spec.namespace)

    def _add_hook_job(self, spec: ReleaseSpec, obj: JsonObject) -> None:
        """A hook Job that ran at the last deploy; Jobs with a short TTL are already gone."""
        if (
            obj["kind"] != "Job"
            or int(obj.get("spec", {}).get("ttlSecondsAfterFinished", 0) or 0) < 60
        ):
            return
        started = self._rollout_time - timedelta(minutes=2)
        obj["status"] = {
            "startTime": rfc3339(started),
            "completionTime": rfc3339(started + timedelta(seconds=40)),
            "succeeded": 1,
            "ready": 0,
            "terminating": 0,
            "uncountedTerminatedPods": {},
            "conditions": [
                {
                    "type": "Complete",
                    "status": "True",
                    "lastProbeTime": rfc3339(started + timedelta(seconds=40)),
                    "lastTransitionTime": rfc3339(started + timedelta(seconds=40)),
                }
            ],
        }
        self._put_object(obj, spec.namespace)

    def _add_helm_secrets(self, spec: ReleaseSpec) -> None:
        first = spec.revisions[0].deployed_at if spec.revisions else rfc3339_nano(self.now)
        manifest = manifest_text(d for d in spec.documents if not d.is_hook)
        for revision in spec.revisions:
            payload = helm.release_payload(
                release=spec.release,
                namespace=spec.namespace,
                chart=spec.chart,
                chart_values=spec.chart_values,
                revision=revision,
                first_deployed=first,
                documents=spec.documents,
                notes=spec.notes,
                manifest=manifest,
            )
            deployed = datetime.strptime(revision.deployed_at[:19], "%Y-%m-%dT%H:%M:%S").replace(
                tzinfo=timezone.utc
            )
            secret = helm.release_secret(
                payload, corrupt=revision.corrupt, created_unix=int(deployed.timestamp())
            )
            secret["metadata"]["creationTimestamp"] = rfc3339(deployed)
            self._put_object(secret, spec.namespace)

    # Workloads and pods.

    def _add_workload(self, spec: ReleaseSpec, workload: JsonObject) -> None:
        kind = workload["kind"]
        metadata = workload["metadata"]
        namespace = metadata["namespace"]
        name = metadata["name"]
        workload_spec = workload.get("spec") or {}
        template = workload_spec.get("template") or {}
        replicas = int(
            workload_spec.get("replicas", 1) if workload_spec.get("replicas") is not None else 1
        )
        template_labels = dict((template.get("metadata") or {}).get("labels") or {})
        workload_uid = self._uids[(kind, namespace, name)]
        workload_ref = _owner_ref("apps/v1", kind, name, workload_uid)
        template_hash = _short_hash(repr(sorted(template_labels.items())) + repr(template))
        if kind == "Deployment":
            rs_name = f"{name}-{template_hash}"
            labels = {**template_labels, "pod-template-hash": template_hash}
            rs = self._replica_set(workload, rs_name, labels, replicas, workload_ref)
            owner = _owner_ref("apps/v1", "ReplicaSet", rs_name, rs["metadata"]["uid"])
            for _ in range(replicas):
                pod_name = f"{rs_name}-{self.suffix()}"
                self._add_pod(spec, PodSpecInput(workload, pod_name, labels, owner, spec.release))
        elif kind == "DaemonSet":
            labels = {
                **template_labels,
                "controller-revision-hash": template_hash,
                "pod-template-generation": "1",
            }
            for node in NODE_NAMES:
                pod_name = f"{name}-{self.suffix()}"
                self._add_pod(
                    spec,
                    PodSpecInput(workload, pod_name, labels, workload_ref, spec.release, node=node),
                )
        else:
            revision = f"{name}-{template_hash}"
            for ordinal in range(replicas):
                pod_name = f"{name}-{ordinal}"
                labels = {
                    **template_labels,
                    "controller-revision-hash": revision,
                    "statefulset.kubernetes.io/pod-name": pod_name,
                    "apps.kubernetes.io/pod-index": str(ordinal),
                }
                self._add_pod(
                    spec, PodSpecInput(workload, pod_name, labels, workload_ref, spec.release)
                )

    def _replica_set(
        self,
        deployment: JsonObject,
        name: str,
        labels: dict[str, str],
        replicas: int,
        owner: JsonObject,
    ) -> JsonObject:
        metadata = deployment["metadata"]
        template = deployment.get("spec", {}).get("template") or {}
        selector = dict(deployment.get("spec", {}).get("selector") or {})
        match_labels = {
            **(selector.get("matchLabels") or {}),
            "pod-template-hash": labels["pod-template-hash"],
        }
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": metadata["namespace"],
                "labels": labels,
                "annotations": {
                    "deployment.kubernetes.io/desired-replicas": str(replicas),
                    "deployment.kubernetes.io/max-replicas": str(replicas + 1),
                    "deployment.kubernetes.io/revision": "1",
                    **{
                        k: v
                        for k, v in (metadata.get("annotations") or {}).items()
                        if k.startswith("meta.helm.sh/")
                    },
                },
                "ownerReferences": [owner],
                "generation": 1,
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": match_labels},
                "template": {
                    "metadata": {**(template.get("metadata") or {}), "labels": labels},
                    "spec": template.get("spec") or {},
                },
            },
            "status": {"replicas": replicas, "observedGeneration": 1},
        }
        return self._put_object(rs, metadata["namespace"])

    def _next_node(self) -> str:
        node = NODE_NAMES[self._node_index % len(NODE_NAMES)]
        self._node_index += 1
        return node

    def _add_pod(self, spec: ReleaseSpec, item: PodSpecInput) -> None:
        """Create one pod of a workload, scheduled and running, and its plan."""
        namespace = item.workload["metadata"]["namespace"]
        template = item.workload.get("spec", {}).get("template") or {}
        node = item.node or self._next_node()
        ip = self.addresses.pod_ip()
        uid = self.uid()
        component = _component_suffix(item.labels.get(LABEL_COMPONENT, ""))
        # Agent-feature pods carry no checksum annotation, so under stale-pod-env they are the
        # ones that kept running from before the last Helm revision.
        stale = (
            bool(spec.stale_env)
            and component.startswith("standalone-")
            and component.endswith(("api-server", "queue"))
        )
        if stale:
            started = self._rollout_time - timedelta(days=1)
        else:
            started = self._rollout_time + timedelta(seconds=self.rng.randrange(5, 60))

        pod_spec = self._scheduled_spec(dict(template.get("spec") or {}), node)
        metadata: JsonObject = {
            "name": item.name,
            "namespace": namespace,
            "uid": uid,
            "labels": item.labels,
            "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
            "ownerReferences": [item.owner],
            "creationTimestamp": rfc3339(started - timedelta(seconds=3)),
        }
        if item.owner["kind"] in ("ReplicaSet", "DaemonSet"):
            metadata["generateName"] = item.name.rsplit("-", 1)[0] + "-"
        pod: JsonObject = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": pod_spec,
            "status": {},
        }

        container_statuses = []
        container_plans = []
        for container in pod_spec["containers"]:
            container_id = f"containerd://{self.hex64()}"
            container_statuses.append(_running_status(container, container_id, started))
            env = self._resolve_env(container, namespace, pod, node, ip)
            if stale:
                env.update(spec.stale_env)
            log_dir = (
                self.workdir / "nodes" / node / "var/log/pods" / f"{namespace}_{item.name}_{uid}"
            )
            container_plans.append(_container_plan(container, container_id, env, log_dir))
        host_ip = f"127.9.0.{NODE_NAMES.index(node) + 1}"
        pod["status"] = {
            "phase": "Running",
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": rfc3339(started - timedelta(seconds=2)),
            "qosClass": "Burstable",
            "containerStatuses": container_statuses,
        }
        _set_conditions(pod, ready=True, when=started)

        plan = {
            "namespace": namespace,
            "name": item.name,
            "uid": uid,
            "ip": ip,
            "node": node,
            "release": item.release,
            "component": component,
            # Every DaemonSet the sandbox lays out is a node log collector.
            "role": "log-collector"
            if item.owner["kind"] == "DaemonSet"
            else role_for(item.labels, component),
            "labels": dict(item.labels),
            "containers": container_plans,
            "faults": ["stale-pod-env"] if stale else [],
        }
        self.pods.append(pod)
        self.plans.append(plan)

    def _scheduled_spec(self, template_spec: JsonObject, node: str) -> JsonObject:
        """Return the pod spec as the API server stores it once scheduled: defaults filled in,
        the node set, and the service account token volume mounted in every container."""
        pod_spec: JsonObject = _drop_nulls(template_spec)
        account = pod_spec.get("serviceAccountName", "default")
        pod_spec.update(
            {
                "nodeName": node,
                "schedulerName": "default-scheduler",
                "restartPolicy": pod_spec.get("restartPolicy", "Always"),
                "dnsPolicy": pod_spec.get("dnsPolicy", "ClusterFirst"),
                "serviceAccount": account,
                "serviceAccountName": account,
                "enableServiceLinks": True,
                "preemptionPolicy": "PreemptLowerPriority",
                "priority": 0,
                "tolerations": [
                    {
                        "key": f"node.kubernetes.io/{taint}",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 300,
                    }
                    for taint in ("not-ready", "unreachable")
                ],
            }
        )
        token_volume = f"kube-api-access-{self.suffix()}"
        pod_spec["volumes"] = [*(pod_spec.get("volumes") or []), _token_volume(token_volume)]
        containers = [dict(c) for c in pod_spec.get("containers") or []]
        for container in containers:
            container["volumeMounts"] = [
                *(container.get("volumeMounts") or []),
                {
                    "name": token_volume,
                    "readOnly": True,
                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                },
            ]
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
        pod_spec["containers"] = containers
        return pod_spec

    def _resolve_env(
        self, container: JsonObject, namespace: str, pod: JsonObject, node: str, ip: str
    ) -> dict[str, str]:
        """Resolve the env a container starts with: envFrom sources first, then `env`, which
        wins."""
        env: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            prefix = str(source.get("prefix", ""))
            if "configMapRef" in source:
                ref = source["configMapRef"]
                data = (self._config_maps.get((namespace, ref.get("name", ""))) or {}).get("data")
                for key, value in (data or {}).items():
                    env[prefix + key] = str(value)
            elif "secretRef" in source:
                ref = source["secretRef"]
                data = (self._secrets.get((namespace, ref.get("name", ""))) or {}).get("data")
                for key, value in (data or {}).items():
                    env[prefix + key] = _b64decode(value)
        field_values = {
            "metadata.name": pod["metadata"]["name"],
            "metadata.namespace": namespace,
            "metadata.uid": pod["metadata"]["uid"],
            "spec.nodeName": node,
            "spec.serviceAccountName": str(pod["spec"].get("serviceAccountName", "")),
            "status.podIP": ip,
            "status.hostIP": f"127.9.0.{NODE_NAMES.index(node) + 1}",
        }
        for item in container.get("env") or []:
            name = str(item.get("name", ""))
            if "value" in item:
                env[name] = "" if item["value"] is None else str(item["value"])
                continue
            value = self._env_from_ref(item.get("valueFrom") or {}, namespace, field_values)
            if value is not None:
                env[name] = value
        return env

    def _env_from_ref(
        self, ref: Mapping[str, Any], namespace: str, field_values: Mapping[str, str]
    ) -> str | None:
        if "secretKeyRef" in ref:
            key_ref = ref["secretKeyRef"]
            secret = self._secrets.get((namespace, str(key_ref.get("name", ""))))
            raw = ((secret or {}).get("data") or {}).get(str(key_ref.get("key", "")))
            return _b64decode(raw) if raw is not None else None
        if "configMapKeyRef" in ref:
            key_ref = ref["configMapKeyRef"]
            config_map = self._config_maps.get((namespace, str(key_ref.get("name", ""))))
            value = ((config_map or {}).get("data") or {}).get(str(key_ref.get("key", "")))
            return None if value is None else str(value)
        if "fieldRef" in ref:
            return field_values.get(str(ref["fieldRef"].get("fieldPath", "")))
        return None

    # Services.

    def _allocate_service(self, service: JsonObject) -> None:
        spec = service.setdefault("spec", {})
        if spec.get("clusterIP") != "None":
            address = self.addresses.cluster_ip()
            spec["clusterIP"] = address
            spec["clusterIPs"] = [address]
        else:
            spec["clusterIPs"] = ["None"]
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.update(
            {
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "internalTrafficPolicy": "Cluster",
            }
        )
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
            if spec["type"] in ("LoadBalancer", "NodePort"):
                port.setdefault("nodePort", 30000 + self.rng.randrange(2768))
        if spec["type"] == "LoadBalancer":
            spec.setdefault("externalTrafficPolicy", "Cluster")
            spec.setdefault("allocateLoadBalancerNodePorts", True)
            service["status"] = {"loadBalancer": {}}

    # Faults on pods.

    def _apply_pod_faults(self) -> None:
        by_component: dict[str, list[int]] = {}
        for index, plan in enumerate(self.plans):
            if (
                plan["namespace"] == self.state.namespace
                and plan["release"] == self.state.releases[0]
            ):
                by_component.setdefault(plan["component"], []).append(index)
        backend = sorted(
            by_component.get("backend", []), key=lambda i: self.pods[i]["metadata"]["name"]
        )
        if "replica-not-ready" in self.faults and backend:
            index = backend[-1]
            self.set_ready(index, False, reason="readiness probe failed")
            self.plans[index]["faults"].append("replica-not-ready")
            self._event(
                self.pods[index],
                "Unhealthy",
                "Readiness probe failed: HTTP probe failed with statuscode: 503",
                warning=True,
            )
        if "pod-vanishes" in self.faults and backend:
            index = backend[0]
            pod = self.pods[index]
            self.state.vanishing_pods.add((pod["metadata"]["namespace"], pod["metadata"]["name"]))
            self.plans[index]["faults"].append("pod-vanishes")
        if "crashloop" in self.faults:
            targets = by_component.get("queue") or backend
            if targets:
                self._crashloop(sorted(targets)[0])

    def _crashloop(self, index: int) -> None:
        pod = self.pods[index]
        status = pod["status"]["containerStatuses"][0]
        started = datetime.strptime(status["state"]["running"]["startedAt"], "%Y-%m-%dT%H:%M:%SZ")
        started = started.replace(tzinfo=timezone.utc) + timedelta(minutes=20)
        status["restartCount"] = 3
        status["state"] = {"running": {"startedAt": rfc3339(started)}}
        status["lastState"] = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": rfc3339(started - timedelta(minutes=4)),
                "finishedAt": rfc3339(started - timedelta(seconds=30)),
                "containerID": f"containerd://{self.hex64()}",
            }
        }
        plan = self.plans[index]
        plan["containers"][0]["restart_count"] = 3
        plan["faults"].append("crashloop")
        self._event(
            pod,
            "BackOff",
            f"Back-off restarting failed container {status['name']} in "
            f"pod {pod['metadata']['name']}_{pod['metadata']['namespace']}"
            f"({pod['metadata']['uid']})",
            warning=True,
            count=3,
        )

    def set_ready(
        self, index: int, ready: bool, *, reason: str = "", container: str | None = None
    ) -> None:
        """Mark a pod's containers (or one container) ready or not, and its conditions."""
        pod = self.pods[index]
        for status in pod["status"]["containerStatuses"]:
            if container is None or status["name"] == container:
                status["ready"] = ready
                if not ready and reason.startswith("not started"):
                    status["started"] = False
                    status["state"] = {
                        "waiting": {"reason": "CreateContainerError", "message": reason}
                    }
        all_ready = all(s["ready"] for s in pod["status"]["containerStatuses"])
        when = datetime.strptime(pod["status"]["startTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=timezone.utc
        )
        _set_conditions(pod, ready=all_ready, when=when + timedelta(seconds=5))

    # Events.

    def _event(
        self,
        pod: JsonObject,
        reason: str,
        message: str,
        *,
        warning: bool = False,
        count: int = 1,
        container: str | None = None,
        when: datetime | None = None,
    ) -> None:
        metadata = pod["metadata"]
        moment = rfc3339(when or self._rollout_time + timedelta(minutes=5))
        involved: JsonObject = {
            "kind": "Pod",
            "namespace": metadata["namespace"],
            "name": metadata["name"],
            "uid": metadata["uid"],
            "apiVersion": "v1",
        }
        if container:
            involved["fieldPath"] = f"spec.containers{{{container}}}"
        source = "default-scheduler" if reason == "Scheduled" else "kubelet"
        self.events.append(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": f"{metadata['name']}.{self.hex64()[:16]}",
                    "namespace": metadata["namespace"],
                    "creationTimestamp": moment,
                },
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "source": {
                    "component": source,
                    **({"host": pod["spec"]["nodeName"]} if source == "kubelet" else {}),
                },
                "firstTimestamp": moment,
                "lastTimestamp": moment,
                "count": count,
                "type": "Warning" if warning else "Normal",
                "reportingComponent": source,
                "reportingInstance": pod["spec"]["nodeName"] if source == "kubelet" else "",
            }
        )

    def _pod_events(self, pod: JsonObject) -> None:
        metadata = pod["metadata"]
        started = datetime.strptime(pod["status"]["startTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=timezone.utc
        )
        node = pod["spec"]["nodeName"]
        self._event(
            pod,
            "Scheduled",
            f"Successfully assigned {metadata['namespace']}/{metadata['name']} to {node}",
            when=started,
        )
        for container in pod["spec"]["containers"]:
            name = container["name"]
            image = container.get("image", "")
            self._event(
                pod,
                "Pulled",
                f'Container image "{image}" already present on machine',
                container=name,
                when=started,
            )
            self._event(pod, "Created", f"Created container {name}", container=name, when=started)
            self._event(pod, "Started", f"Started container {name}", container=name, when=started)

    # Finishing.

    def finish(self) -> ClusterState:
        """Apply pod faults, store pods, workload statuses, Endpoints, slices and Events."""
        self._apply_pod_faults()
        for pod in self.pods:
            self._pod_events(pod)
        self.publish()
        return self.state

    def publish(self) -> None:
        """(Re)write pods, workload statuses, Endpoints, EndpointSlices and Events to the store."""
        for pod in self.pods:
            self.state.put(pod)
        self._update_workload_status()
        self._update_endpoints()
        for event in self.events:
            if not event["metadata"].get("uid"):
                event["metadata"]["uid"] = self.uid()
            self.state.put(event)
        self.state.plans = self.plans

    def publish_root_ca(self, certificate_pem: str) -> None:
        """Put the API server's certificate into every namespace's `kube-root-ca.crt`."""
        for namespace in sorted(self._namespaces):
            config_map = self.state.get("configmaps", "", namespace, "kube-root-ca.crt")
            if config_map is not None:
                config_map["data"] = {"ca.crt": certificate_pem}
                self.state.put(config_map)

    def refresh_controllers(self) -> None:
        """Recompute workload statuses, Endpoints and EndpointSlices from the pods in the store,
        as the controllers do after a pod is deleted."""
        self._update_workload_status()
        self._update_endpoints()

    def _pods_matching(self, namespace: str, selector: Mapping[str, str]) -> list[JsonObject]:
        return [
            pod
            for pod in self.pods
            if pod["metadata"]["namespace"] == namespace
            and selector
            and all(pod["metadata"]["labels"].get(k) == v for k, v in selector.items())
            and self.state.get("pods", "", namespace, pod["metadata"]["name"]) is not None
        ]

    def _update_workload_status(self) -> None:
        for kind, plural in (
            ("DaemonSet", "daemonsets"),
            ("Deployment", "deployments"),
            ("StatefulSet", "statefulsets"),
            ("ReplicaSet", "replicasets"),
        ):
            items, _ = self.state.list(plural, "apps", None)
            for workload in items:
                selector = (workload.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
                pods = self._pods_matching(workload["metadata"]["namespace"], selector)
                ready = sum(1 for p in pods if _is_ready(p))
                if kind == "DaemonSet":
                    workload["status"] = _daemon_set_status(workload, len(pods), ready)
                    self.state.put(workload)
                    continue
                desired = int(workload.get("spec", {}).get("replicas", 1) or 0)
                status: JsonObject = {
                    "observedGeneration": workload["metadata"].get("generation", 1),
                    "replicas": len(pods),
                    "readyReplicas": ready,
                    "availableReplicas": ready,
                }
                if kind == "Deployment":
                    status["updatedReplicas"] = len(pods)
                    if ready < desired:
                        status["unavailableReplicas"] = desired - ready
                    status["conditions"] = [
                        _condition(
                            "Available",
                            "True" if ready >= desired else "False",
                            "MinimumReplicasAvailable"
                            if ready >= desired
                            else "MinimumReplicasUnavailable",
                            self._rollout_time,
                        ),
                        _condition(
                            "Progressing", "True", "NewReplicaSetAvailable", self._rollout_time
                        ),
                    ]
                elif kind == "StatefulSet":
                    revision = (
                        pods[0]["metadata"]["labels"].get("controller-revision-hash", "")
                        if pods
                        else ""
                    )
                    status.update(
                        {
                            "currentReplicas": len(pods),
                            "updatedReplicas": len(pods),
                            "currentRevision": revision,
                            "updateRevision": revision,
                            "collisionCount": 0,
                        }
                    )
                else:
                    status["fullyLabeledReplicas"] = len(pods)
                workload["status"] = status
                self.state.put(workload)

    def _update_endpoints(self) -> None:
        services, _ = self.state.list("services", "", None)
        for service in services:
            namespace = service["metadata"]["namespace"]
            selector = service.get("spec", {}).get("selector") or {}
            if not selector:
                continue
            pods = self._pods_matching(namespace, selector)
            self.state.put(_endpoints(service, pods))
            self.state.put(_endpoint_slice(service, pods, self._slice_name(service)))

    def _slice_name(self, service: JsonObject) -> str:
        name = service["metadata"]["name"]
        return f"{name[:57]}-{_short_hash(service['metadata']['namespace'] + name, 5)}"

    # Outputs for the pods and for the simulated services.

    def dns_records(self) -> JsonObject:
        """Return the workdir/dns.json mapping of Service names to a ready pod and its ports."""
        records: JsonObject = {}
        services, _ = self.state.list("services", "", None)
        for service in services:
            namespace = service["metadata"]["namespace"]
            name = service["metadata"]["name"]
            selector = service.get("spec", {}).get("selector") or {}
            pods = [p for p in self._pods_matching(namespace, selector) if _is_ready(p)]
            pod = pods[0] if pods else None
            ports = {
                str(port["port"]): _target_port(port, pod)
                for port in service["spec"].get("ports") or []
            }
            record = {"ip": pod["status"]["podIP"] if pod else None, "ports": ports}
            names = [
                f"{name}.{namespace}.svc.cluster.local",
                f"{name}.{namespace}.svc",
                f"{name}.{namespace}",
            ]
            if namespace == self.state.namespace:
                names.append(name)
            for dns_name in names:
                records[dns_name] = record
        return records

    def close(self) -> None:
        self.addresses.close()


# ---------------------------------------------------------------------------------------------
# Helpers.


def _drop_nulls(value: Any) -> Any:
    """Copy a YAML value without null fields, as the API server stores objects."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _token_volume(name: str) -> JsonObject:
    """Return the projected service account token volume the API server adds to every pod."""
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
            ],
        },
    }


def _running_status(container: JsonObject, container_id: str, started: datetime) -> JsonObject:
    image = str(container.get("image", ""))
    return {
        "name": container["name"],
        "image": image,
        "imageID": _image_id(image),
        "containerID": container_id,
        "ready": True,
        "started": True,
        "restartCount": 0,
        "state": {"running": {"startedAt": rfc3339(started)}},
        "lastState": {},
    }


def _container_plan(
    container: JsonObject, container_id: str, env: dict[str, str], pod_log_dir: Path
) -> JsonObject:
    return {
        "name": container["name"],
        "container_id": container_id,
        "image": str(container.get("image", "")),
        "restart_count": 0,
        "ports": [
            {
                "name": str(port.get("name", "")),
                "containerPort": int(port["containerPort"]),
                "protocol": str(port.get("protocol", "TCP")),
            }
            for port in container.get("ports") or []
            if "containerPort" in port
        ],
        "env": env,
        "log_dir": str(pod_log_dir / container["name"]),
    }


def _apply_defaults(obj: JsonObject) -> None:
    """Fill in the defaults the API server adds to a created object of the common kinds."""
    kind = obj["kind"]
    spec = obj.get("spec")
    if kind == "Secret":
        obj.setdefault("type", "Opaque")
    elif kind == "Service":
        obj.setdefault("status", {"loadBalancer": {}})
    elif kind == "Deployment" and isinstance(spec, dict):
        spec.setdefault(
            "strategy",
            {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
        )
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
    elif kind == "StatefulSet" and isinstance(spec, dict):
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault(
            "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
        )
        spec.setdefault("revisionHistoryLimit", 10)


def _daemon_set_status(daemon_set: JsonObject, scheduled: int, ready: int) -> JsonObject:
    """Return a DaemonSet's status: one pod per node, counted as the controller counts them."""
    return {
        "currentNumberScheduled": scheduled,
        "desiredNumberScheduled": len(NODE_NAMES),
        "numberAvailable": ready,
        "numberMisscheduled": 0,
        "numberReady": ready,
        "observedGeneration": daemon_set["metadata"].get("generation", 1),
        "updatedNumberScheduled": scheduled,
        **({"numberUnavailable": len(NODE_NAMES) - ready} if ready < len(NODE_NAMES) else {}),
    }


def _b64decode(value: Any) -> str:
    try:
        return base64.b64decode(str(value)).decode("utf-8", errors="replace")
    except ValueError:
        return ""


def _image_id(image: str) -> str:
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _owner_ref(api_version: str, kind: str, name: str, uid: str) -> JsonObject:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _condition(kind: str, status: str, reason: str, when: datetime) -> JsonObject:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "lastUpdateTime": rfc3339(when),
        "lastTransitionTime": rfc3339(when),
    }


def _set_conditions(pod: JsonObject, *, ready: bool, when: datetime) -> None:
    ready_text = "True" if ready else "False"
    conditions = []
    for kind, status in (
        ("PodReadyToStartContainers", "True"),
        ("Initialized", "True"),
        ("Ready", ready_text),
        ("ContainersReady", ready_text),
        ("PodScheduled", "True"),
    ):
        condition: JsonObject = {
            "type": kind,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": rfc3339(when),
        }
        if status == "False":
            names = [
                s["name"] for s in pod["status"].get("containerStatuses", []) if not s["ready"]
            ]
            condition["reason"] = "ContainersNotReady"
            condition["message"] = f"containers with unready status: [{' '.join(names)}]"
        conditions.append(condition)
    pod["status"]["conditions"] = conditions


def _is_ready(pod: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def _target_port(port: Mapping[str, Any], pod: Mapping[str, Any] | None) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    if pod is None:
        return None
    for container in pod["spec"].get("containers", []):
        for container_port in container.get("ports") or []:
            if container_port.get("name") == target:
                return int(container_port["containerPort"])
    return None


def _pod_address(pod: Mapping[str, Any]) -> JsonObject:
    metadata = pod["metadata"]
    return {
        "ip": pod["status"]["podIP"],
        "nodeName": pod["spec"]["nodeName"],
        "targetRef": {
            "kind": "Pod",
            "namespace": metadata["namespace"],
            "name": metadata["name"],
            "uid": metadata["uid"],
        },
    }


def _endpoint_ports(service: Mapping[str, Any], pods: list[JsonObject]) -> list[JsonObject]:
    ports = []
    for port in service["spec"].get("ports") or []:
        target = next(
            (t for t in (_target_port(port, p) for p in pods) if t is not None),
            _target_port(port, None),
        )
        if target is None:
            continue
        entry = {"port": target, "protocol": port.get("protocol", "TCP")}
        if port.get("name"):
            entry["name"] = port["name"]
        ports.append(entry)
    return ports


def _endpoints(service: Mapping[str, Any], pods: list[JsonObject]) -> JsonObject:
    metadata = service["metadata"]
    ready = [_pod_address(p) for p in pods if _is_ready(p)]
    not_ready = [_pod_address(p) for p in pods if not _is_ready(p)]
    endpoints: JsonObject = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "labels": dict(metadata.get("labels") or {}),
            "creationTimestamp": metadata.get("creationTimestamp"),
        },
    }
    if pods:
        subset: JsonObject = {"ports": _endpoint_ports(service, pods)}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        endpoints["subsets"] = [subset]
    return dict(_drop_nulls(endpoints))


def _endpoint_slice(service: Mapping[str, Any], pods: list[JsonObject], name: str) -> JsonObject:
    metadata = service["metadata"]
    endpoints = []
    for pod in pods:
        ready = _is_ready(pod)
        address = _pod_address(pod)
        endpoints.append(
            {
                "addresses": [address["ip"]],
                "conditions": {"ready": ready, "serving": ready, "terminating": False},
                "nodeName": address["nodeName"],
                "targetRef": address["targetRef"],
            }
        )
    return _drop_nulls_object(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": name,
                "namespace": metadata["namespace"],
                "generateName": f"{metadata['name']}-",
                "labels": {
                    **(metadata.get("labels") or {}),
                    "kubernetes.io/service-name": metadata["name"],
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                },
                "ownerReferences": [
                    {
                        **_owner_ref("v1", "Service", metadata["name"], metadata.get("uid", "")),
                        "blockOwnerDeletion": True,
                    }
                ],
                "creationTimestamp": metadata.get("creationTimestamp"),
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": _endpoint_ports(service, pods),
        }
    )


def _drop_nulls_object(obj: JsonObject) -> JsonObject:
    cleaned: JsonObject = _drop_nulls(obj)
    return cleaned
