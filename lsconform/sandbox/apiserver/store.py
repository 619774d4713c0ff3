"""The object store the sandbox's API server serves, and a simple in-memory implementation.

The API server reads every object through the `Store` protocol and never changes one itself,
except through `delete` when a fault requests it. The cluster state builder (or a test) fills a
`MemoryStore`, or any class with the same methods, and hands it to the server.

Objects are plain dictionaries shaped exactly like the Kubernetes JSON of their kind
(`apiVersion`, `kind`, `metadata`, `spec`, `status`). The store owns `metadata.resourceVersion`:
every change gets the next number of one counter shared by all kinds, as etcd does, so that a
watch can resume from any version it has seen.

Thread safety: `MemoryStore` may be changed from any thread. Subscribers are called in the thread
that made the change, so a subscriber running an event loop must hand the event over with
`loop.call_soon_threadsafe`.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, cast, runtime_checkable

JsonObject = dict[str, Any]
JsonValue = TypeVar("JsonValue")
EventType = Literal["ADDED", "MODIFIED", "DELETED"]

READ_VERBS = ("get", "list", "watch")

# How many past events a MemoryStore keeps so that a watch can resume from an older
# resourceVersion. An older version gets 410 Gone, as from a real API server once etcd compacts.
EVENT_HISTORY = 10_000


@dataclass(frozen=True)
class ResourceType:
    """One resource the API server serves (a row of an APIResourceList)."""

    group: str
    """API group, "" for the core group."""
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...] = READ_VERBS
    subresources: tuple[str, ...] = ()
    """Subresource names such as "log", "proxy", "portforward", "status"."""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


def _core(kind: str, plural: str, namespaced: bool, **extra: Any) -> ResourceType:
    return ResourceType("", "v1", kind, plural, namespaced, **extra)


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _core("Namespace", "namespaces", False, short_names=("ns",)),
    _core("Node", "nodes", False, subresources=("proxy", "status"), short_names=("no",)),
    _core(
        "Pod",
        "pods",
        True,
        subresources=("log", "proxy", "portforward", "status"),
        short_names=("po",),
        categories=("all",),
    ),
    _core(
        "Service",
        "services",
        True,
        subresources=("proxy", "status"),
        short_names=("svc",),
        categories=("all",),
    ),
    _core("Endpoints", "endpoints", True, short_names=("ep",)),
    _core("ConfigMap", "configmaps", True, short_names=("cm",)),
    _core("Secret", "secrets", True),
    _core("Event", "events", True, short_names=("ev",)),
    _core("ServiceAccount", "serviceaccounts", True, short_names=("sa",)),
    ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    ResourceType(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        True,
        subresources=("status", "scale"),
        short_names=("deploy",),
        categories=("all",),
    ),
    ResourceType(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        True,
        subresources=("status", "scale"),
        short_names=("sts",),
        categories=("all",),
    ),
    ResourceType(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        True,
        subresources=("status", "scale"),
        short_names=("rs",),
        categories=("all",),
    ),
    ResourceType(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        True,
        subresources=("status",),
        short_names=("ds",),
        categories=("all",),
    ),
    ResourceType("batch", "v1", "Job", "jobs", True, subresources=("status",), categories=("all",)),
    ResourceType(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        True,
        subresources=("status",),
        short_names=("cj",),
        categories=("all",),
    ),
)

# Custom resources the sandbox commonly contains. They are not registered by default. A store
# adds them with `register` when it contains objects of that kind, as a cluster serves a group
# only once its CustomResourceDefinition is installed.
OPENTELEMETRY_COLLECTOR = ResourceType(
    "opentelemetry.io",
    "v1beta1",
    "OpenTelemetryCollector",
    "opentelemetrycollectors",
    True,
    subresources=("status", "scale"),
    short_names=("otelcol", "otelcols"),
)
SERVICE_MONITOR = ResourceType(
    "monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", True, short_names=("smon",)
)
POD_MONITOR = ResourceType(
    "monitoring.coreos.com", "v1", "PodMonitor", "podmonitors", True, short_names=("pmon",)
)


@dataclass(frozen=True)
class WatchEvent:
    """One change of one object, as a watch stream reports it."""

    type: EventType
    resource: ResourceType
    object: JsonObject
    """A copy of the object after the change (for DELETED: its last state, with the new version)."""
    resource_version: int


WatchCallback = Callable[[WatchEvent], None]
# Aliases, because the name `list` is a method of the store classes below.
EventList = list[WatchEvent]
PathList = list[Path]


@runtime_checkable
class Store(Protocol):
    """What the API server needs from the cluster state.

    Every method may be called from the server's event loop thread, so each must return quickly
    (no network, no long locks). Returned objects belong to the caller: the server never changes
    them, but a store should return copies so that later changes do not show through.
    """

    def resource_types(self) -> Sequence[ResourceType]:
        """Return every resource type to serve, built-in and custom, in discovery order."""
        ...

    def list(self, plural: str, group: str, namespace: str | None) -> tuple[list[JsonObject], str]:
        """Return the objects of one resource (all namespaces when `namespace` is None), sorted
        by namespace and name, and the store's current resourceVersion."""
        ...

    def get(self, plural: str, group: str, namespace: str | None, name: str) -> JsonObject | None:
        """Return one object, or None when it does not exist."""
        ...

    def delete(
        self, plural: str, group: str, namespace: str | None, name: str
    ) -> JsonObject | None:
        """Delete one object and notify subscribers; return its last state, or None if absent."""
        ...

    def resource_version(self) -> str:
        """Return the store's current resourceVersion (the version of its latest change)."""
        ...

    def subscribe(self, callback: WatchCallback) -> Callable[[], None]:
        """Call `callback` for every later change; return a function that unsubscribes."""
        ...

    def events_since(self, resource_version: int) -> EventList | None:
        """Return the changes after `resource_version`, oldest first, or None when that version
        is older than the history kept (the server then answers 410 Gone)."""
        ...

    def pod_ip(self, namespace: str, name: str) -> str | None:
        """Return the loopback address that plays the pod, or None if it has none."""
        ...

    def node_root(self, node: str) -> Path | None:
        """Return the root of the node's fake filesystem (holding var/log/...), or None if the
        node is unknown."""
        ...

    def container_log_files(self, namespace: str, pod: str, container: str) -> PathList | None:
        """Return the container's CRI log files ordered by restart number (the last one is the
        current container, the one before it the previous), or None if the pod has no such
        container. A container that has written nothing yet may have no file."""
        ...


def _selector_key(group: str, plural: str) -> tuple[str, str]:
    return (group, plural)


def _sort_key(item: JsonObject) -> tuple[str, str]:
    metadata = item.get("metadata", {})
    return (metadata.get("namespace", ""), metadata.get("name", ""))


_RESTART_FILE = re.compile(r"^(\d+)\.log$")


@dataclass
class MemoryStore:
    """A thread-safe in-memory `Store` that also offers `put` and `register` to fill it.

    `workdir` is the sandbox's working directory: node roots are `workdir/nodes/<node>` and
    container logs are `workdir/nodes/<node>/var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log`,
    where the node and uid come from the pod object (`spec.nodeName`, `metadata.uid`).
    """

    workdir: Path
    types: list[ResourceType] = field(default_factory=lambda: list(BUILTIN_TYPES))
    _objects: dict[tuple[str, str], dict[tuple[str, str], JsonObject]] = field(
        default_factory=dict, init=False, repr=False
    )
    _version: int = field(default=0, init=False)
    _history: deque[WatchEvent] = field(
        default_factory=lambda: deque(maxlen=EVENT_HISTORY), init=False, repr=False
    )
    _subscribers: list[WatchCallback] = field(default_factory=list, init=False, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    # Filling the store.

    def register(self, resource: ResourceType) -> None:
        """Serve one more resource type (a custom resource, for example); idempotent."""
        with self._lock:
            if self.find_type(resource.plural, resource.group) is None:
                self.types.append(resource)

    def type_of(self, obj: JsonObject) -> ResourceType:
        """Return the registered type of an object by its apiVersion and kind."""
        api_version = obj.get("apiVersion", "")
        kind = obj.get("kind", "")
        for resource in self.types:
            if resource.api_version == api_version and resource.kind == kind:
                return resource
        raise KeyError(
            f"no resource type registered for apiVersion {api_version!r} kind {kind!r}; "
            "call MemoryStore.register first"
        )

    def put(self, obj: JsonObject) -> JsonObject:
        """Add or replace an object (by kind, namespace and name) and notify subscribers.

        The store stamps `metadata.resourceVersion` and, when missing, `metadata.uid` and
        `metadata.creationTimestamp`. Returns the stored copy.
        """
        resource = self.type_of(obj)
        stored = copy_json(obj)
        metadata = stored.setdefault("metadata", {})
        if not resource.namespaced:
            metadata.pop("namespace", None)
        elif not metadata.get("namespace"):
            raise ValueError(f"{resource.kind} {metadata.get('name')!r} needs metadata.namespace")
        key = (metadata.get("namespace", ""), metadata["name"])
        with self._lock:
            bucket = self._objects.setdefault(_selector_key(resource.group, resource.plural), {})
            event_type: EventType = "MODIFIED" if key in bucket else "ADDED"
            metadata.setdefault("uid", _uid_for(resource, key))
            metadata.setdefault("creationTimestamp", "2026-12-04T20:00:00Z")
            self._version += 1
            metadata["resourceVersion"] = str(self._version)
            bucket[key] = stored
            self._emit(event_type, resource, stored)
        return copy_json(stored)

    def put_all(self, objects: Iterable[JsonObject]) -> None:
        for obj in objects:
            self.put(obj)

    # The Store protocol.

    def resource_types(self) -> Sequence[ResourceType]:
        with self._lock:
            return tuple(self.types)

    def find_type(self, plural: str, group: str) -> ResourceType | None:
        for resource in self.types:
            if resource.plural == plural and resource.group == group:
                return resource
        return None

    def list(self, plural: str, group: str, namespace: str | None) -> tuple[list[JsonObject], str]:
        with self._lock:
            bucket = self._objects.get(_selector_key(group, plural), {})
            items = [
                copy_json(obj)
                for (obj_namespace, _), obj in bucket.items()
                if namespace is None or obj_namespace == namespace
            ]
            version = str(self._version)
        items.sort(key=_sort_key)
        return items, version

    def get(self, plural: str, group: str, namespace: str | None, name: str) -> JsonObject | None:
        with self._lock:
            obj = self._objects.get(_selector_key(group, plural), {}).get((namespace or "", name))
            return copy_json(obj) if obj is not None else None

    def delete(
        self, plural: str, group: str, namespace: str | None, name: str
    ) -> JsonObject | None:
        resource = self.find_type(plural, group)
        if resource is None:
            return None
        with self._lock:
            bucket = self._objects.get(_selector_key(group, plural), {})
            obj = bucket.pop((namespace or "", name), None)
            if obj is None:
                return None
            self._version += 1
            obj["metadata"]["resourceVersion"] = str(self._version)
            self._emit("DELETED", resource, obj)
            return copy_json(obj)

    def resource_version(self) -> str:
        with self._lock:
            return str(self._version)

    def subscribe(self, callback: WatchCallback) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def events_since(self, resource_version: int) -> EventList | None:
        with self._lock:
            if resource_version >= self._version:
                return []
            oldest_kept = self._history[0].resource_version if self._history else self._version
            if resource_version < oldest_kept - 1:
                return None
            return [event for event in self._history if event.resource_version > resource_version]

    def pod_ip(self, namespace: str, name: str) -> str | None:
        pod = self.get("pods", "", namespace, name)
        if pod is None:
            return None
        ip = pod.get("status", {}).get("podIP")
        return ip if isinstance(ip, str) and ip else None

    def node_root(self, node: str) -> Path | None:
        if self.get("nodes", "", None, node) is None:
            return None
        return self.workdir / "nodes" / node

    def container_log_files(self, namespace: str, pod: str, container: str) -> PathList | None:
        obj = self.get("pods", "", namespace, pod)
        if obj is None:
            return None
        spec = obj.get("spec", {})
        names = [c.get("name") for c in spec.get("containers", []) + spec.get("initContainers", [])]
        if container not in names:
            return None
        node = spec.get("nodeName", "")
        uid = obj["metadata"].get("uid", "")
        log_dir = (
            self.workdir / "nodes" / node / "var/log/pods" / f"{namespace}_{pod}_{uid}" / container
        )
        return restart_log_files(log_dir)

    # Internals.

    def _emit(self, event_type: EventType, resource: ResourceType, obj: JsonObject) -> None:
        event = WatchEvent(event_type, resource, copy_json(obj), self._version)
        self._history.append(event)
        for callback in list(self._subscribers):
            callback(event)


def copy_json(value: JsonValue) -> JsonValue:
    """Copy JSON-shaped data (dicts, lists and scalars), several times faster than deepcopy.

    Other mutable values, which Kubernetes objects do not contain, are shared, not copied.
    """
    if isinstance(value, dict):
        return cast(JsonValue, {key: copy_json(item) for key, item in value.items()})
    if isinstance(value, list):
        return cast(JsonValue, [copy_json(item) for item in value])
    return value


def restart_log_files(log_dir: Path) -> list[Path]:
    """Return the `<restart>.log` files of a container's log directory, by restart number."""
    if not log_dir.is_dir():
        return []
    numbered: list[tuple[int, Path]] = []
    for path in log_dir.iterdir():
        match = _RESTART_FILE.match(path.name)
        if match:
            numbered.append((int(match.group(1)), path))
    numbered.sort()
    return [path for _, path in numbered]


def _uid_for(resource: ResourceType, key: tuple[str, str]) -> str:
    """Derive a stable UUID-shaped uid from the object's identity, so reruns match."""
    digest = hashlib.sha256(f"{resource.api_version}/{resource.kind}/{key}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
