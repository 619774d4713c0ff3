"""What a log collector is to lsconform, and what it would do with one container's log file.

A collector family module (`otel`, `fluentbit`, `datadog`) turns configuration into `Collector`
objects. `evaluate(target)` decides whether the collector selects a container's log file and, if
it does, whether it can open and parse it. The answer depends on three things besides the patterns:

- mounts: a collector sees the node's files only through its hostPath volumes, at the path it
  mounts them; a `/var/log/containers` link resolves inside the collector, so its absolute
  target must be mounted at the identical path;
- permission: CRI-O writes log files with mode 0600 and containerd with 0640, both owned by
  root, so a reader that is neither uid 0 nor privileged may fail to open them;
- parser: a Docker JSON parser applied to CRI lines (or the reverse) fails on every line.
"""

from __future__ import annotations

import enum
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lsconform.probes.logfiles import LineFormat, RuntimeKind, container_link_name

POD_LOG_ROOT = "/var/log/pods"
CONTAINER_LINK_ROOT = "/var/log/containers"

# Image defaults for the user a collector runs as, used when its securityContext sets none.
# otel/opentelemetry-collector(-contrib) images set USER 10001; the Fluent Bit and Datadog agent
# images run as root.
_IMAGE_DEFAULT_UIDS = (
    (re.compile(r"opentelemetry-collector|otelcol"), 10001),
    (re.compile(r"fluent-bit|fluent/fluent"), 0),
    (re.compile(r"datadog/agent|datadoghq.*agent|/agent:"), 0),
)


class Family(str, enum.Enum):
    """A collector family; its patterns follow that collector's own semantics."""

    OTEL = "otel"
    FLUENT_BIT = "fluent-bit"
    DATADOG = "datadog"


class Outcome(str, enum.Enum):
    """The outcome of one collector for one container's logs."""

    READS = "reads"
    NOT_SELECTED = "not-selected"
    BROKEN = "broken"
    DOUBTFUL = "doubtful"


@dataclass(frozen=True)
class ContainerLogTarget:
    """One container of the release, with what decides where its logs are and who reads them."""

    namespace: str
    pod: str
    uid: str
    container: str
    container_id: str
    restart_count: int
    node: str
    runtime: RuntimeKind
    image: str = ""
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    pod_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def pod_path(self) -> str:
        """The node path of the current log file."""
        return (
            f"{POD_LOG_ROOT}/{self.namespace}_{self.pod}_{self.uid}/"
            f"{self.container}/{self.restart_count}.log"
        )

    @property
    def link_path(self) -> str:
        """The node path of the container's link in /var/log/containers."""
        name = container_link_name(self.pod, self.namespace, self.container, self.container_id)
        return f"{CONTAINER_LINK_ROOT}/{name}"

    @property
    def line_format(self) -> LineFormat:
        """The line format the node's runtime writes."""
        if self.runtime is RuntimeKind.DOCKER:
            return LineFormat.DOCKER_JSON
        return LineFormat.CRI


@dataclass(frozen=True)
class HostMount:
    """A hostPath volume as one container of the collector mounts it."""

    host_path: str
    mount_path: str
    sub_path: str = ""


@dataclass
class Reader:
    """The pod and container a collector runs as: what it mounts, which user it runs as.

    `run_as_user` is None when neither the securityContext nor a known image default sets it.
    `origin` names where the configuration came from (a Kubernetes object or a file).
    """

    origin: str
    namespace: str = ""
    container: str = ""
    image: str = ""
    mounts: list[HostMount] = field(default_factory=list)
    run_as_user: int | None = None
    privileged: bool = False
    groups: tuple[int, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    field_env: dict[str, str] = field(default_factory=dict)
    known_mounts: bool = True
    not_running: str = ""
    """Why no pod of the collector runs (its workload reports none ready), or empty."""

    def container_path(self, node_path: str) -> str | None:
        """Return where `node_path` appears inside the collector, or None when not mounted.

        A reader known only from a configuration file has no pod spec; it is taken to see the
        node's files at their own paths.
        """
        if not self.known_mounts:
            return node_path
        best: HostMount | None = None
        for mount in self.mounts:
            host = mount.host_path.rstrip("/") or "/"
            if mount.sub_path:
                host = posixpath.join(host, mount.sub_path)
            if _is_under(node_path, host) and (
                best is None or len(host) > len(best.host_path.rstrip("/"))
            ):
                best = HostMount(host, mount.mount_path)
        if best is None:
            return None
        rest = node_path[len(best.host_path.rstrip("/")) :]
        return (best.mount_path.rstrip("/") + rest) or "/"

    def sees_at_same_path(self, node_path: str) -> bool:
        """Say whether `node_path` is mounted at the identical path (a link target resolves)."""
        return self.container_path(node_path) == node_path

    def can_read_root_files(self, runtime: RuntimeKind) -> tuple[bool | None, str]:
        """Say whether this reader can open the runtime's root-owned log files, and why.

        Returns None when it cannot be decided (unknown user).
        """
        if self.privileged:
            return True, "the collector container is privileged"
        if self.run_as_user == 0:
            return True, "the collector runs as uid 0"
        if self.run_as_user is None:
            return None, "the collector's user is not set and its image default is unknown"
        if runtime is RuntimeKind.CRIO:
            return False, (
                f"CRI-O writes log files as root with mode 0600; the collector runs as uid "
                f"{self.run_as_user}, so every open fails with permission denied"
            )
        if runtime is RuntimeKind.CONTAINERD and 0 not in self.groups:
            return None, (
                f"containerd writes log files as root:root with mode 0640; the collector runs "
                f"as uid {self.run_as_user} without group 0, so opening them may fail"
            )
        return True, f"uid {self.run_as_user} with group read access"


def _is_under(path: str, root: str) -> bool:
    if root == "/":
        return path.startswith("/")
    return path == root or path.startswith(root + "/")


@dataclass
class Verdict:
    """One collector's result for one container: outcome, the path it reads, reason and fix."""

    collector: str
    family: Family
    outcome: Outcome
    reason: str
    path: str = ""
    remedy: str = ""
    notes: list[str] = field(default_factory=list)

    def to_evidence(self) -> dict[str, Any]:
        """Convert to a plain evidence mapping."""
        data: dict[str, Any] = {
            "collector": self.collector,
            "family": self.family.value,
            "outcome": self.outcome.value,
            "reason": self.reason,
        }
        if self.path:
            data["path"] = self.path
        if self.remedy:
            data["remedy"] = self.remedy
        if self.notes:
            data["notes"] = list(self.notes)
        return data


class Collector(Protocol):
    """A log collector configuration that can be evaluated against one container."""

    name: str
    family: Family
    reader: Reader
    problems: list[str]

    def evaluate(self, target: ContainerLogTarget) -> Verdict:
        """Say what this collector would do with the target's log file."""
        ...


# ---------------------------------------------------------------------------------------------
# Reading a collector's pod spec.


def reader_from_pod_spec(
    pod_spec: Mapping[str, Any],
    *,
    origin: str,
    namespace: str,
    container_match: re.Pattern[str] | None = None,
) -> Reader:
    """Build a Reader from a pod spec (of a DaemonSet, Deployment or pod template).

    The collector container is the first whose image matches `container_match`, else the first.
    """
    containers = [c for c in pod_spec.get("containers") or [] if isinstance(c, dict)]
    chosen: Mapping[str, Any] = containers[0] if containers else {}
    if container_match is not None:
        for container in containers:
            if container_match.search(str(container.get("image", ""))):
                chosen = container
                break
    volumes = {
        str(volume.get("name")): volume
        for volume in pod_spec.get("volumes") or []
        if isinstance(volume, dict)
    }
    return reader_from_container(
        chosen,
        volumes=volumes,
        pod_security=pod_spec.get("securityContext") or {},
        origin=origin,
        namespace=namespace,
    )


def reader_from_container(
    container: Mapping[str, Any],
    *,
    volumes: Mapping[str, Mapping[str, Any]],
    pod_security: Mapping[str, Any],
    origin: str,
    namespace: str,
) -> Reader:
    """Build a Reader from one container, the pod's volumes and the pod's securityContext."""
    mounts = []
    for mount in container.get("volumeMounts") or []:
        if not isinstance(mount, dict):
            continue
        volume = volumes.get(str(mount.get("name"))) or {}
        host_path = (volume.get("hostPath") or {}).get("path")
        if host_path:
            mounts.append(
                HostMount(str(host_path), str(mount.get("mountPath", "")), mount.get("subPath", ""))
            )
    security = container.get("securityContext") or {}
    image = str(container.get("image", ""))
    run_as_user = _first_int(security.get("runAsUser"), pod_security.get("runAsUser"))
    if run_as_user is None:
        run_as_user = image_default_uid(image)
    groups = tuple(
        value
        for value in (
            _first_int(security.get("runAsGroup"), pod_security.get("runAsGroup")),
            _first_int(pod_security.get("fsGroup")),
            *[_first_int(g) for g in pod_security.get("supplementalGroups") or []],
        )
        if value is not None
    )
    env, field_env = _env_of(container)
    return Reader(
        origin=origin,
        namespace=namespace,
        container=str(container.get("name", "")),
        image=image,
        mounts=mounts,
        run_as_user=run_as_user,
        privileged=bool(security.get("privileged")),
        groups=groups,
        env=env,
        field_env=field_env,
    )


def _first_int(*values: object) -> int | None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def image_default_uid(image: str) -> int | None:
    """Return the user a known collector image runs as by default, or None."""
    for pattern, uid in _IMAGE_DEFAULT_UIDS:
        if pattern.search(image):
            return uid
    return None


def _env_of(container: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Split a container's env into literal values and downward-API field paths."""
    env: dict[str, str] = {}
    field_env: dict[str, str] = {}
    for item in container.get("env") or []:
        if not isinstance(item, dict) or "name" not in item:
            continue
        name = str(item["name"])
        if "value" in item:
            env[name] = str(item["value"])
            continue
        field_ref = ((item.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
        if field_ref:
            field_env[name] = str(field_ref)
    return env, field_env


def field_value(target: ContainerLogTarget, field_path: str) -> str | None:
    """Resolve a downward-API field path for a pod on the target's node.

    For a DaemonSet collector, `spec.nodeName` is the target's node, because the instance that
    reads a node's files runs on that node. Pod fields are the target pod's only for sidecars.
    """
    values = {
        "spec.nodeName": target.node,
        "metadata.name": target.pod,
        "metadata.namespace": target.namespace,
        "metadata.uid": target.uid,
    }
    return values.get(field_path)


def check_access(
    reader: Reader, target: ContainerLogTarget, node_path: str, *, via_link: bool
) -> tuple[Outcome, str, str] | None:
    """Check that a selected file can be opened: mount, link target and permission.

    Returns None when the file can be opened, else (outcome, reason, remedy). A reader known
    only from a configuration file is not checked, because its pod spec is unknown.
    """
    if not reader.known_mounts:
        return None
    if via_link and not reader.sees_at_same_path(target.pod_path):
        seen = reader.container_path(target.pod_path)
        where = f"at {seen}" if seen else "at all"
        return (
            Outcome.BROKEN,
            f"the link {target.link_path} points to {target.pod_path}, which is not mounted "
            f"{where} inside the collector, so the link dangles there",
            f"mount hostPath {POD_LOG_ROOT} at the identical path {POD_LOG_ROOT} in the "
            f"collector (or read {POD_LOG_ROOT} directly)",
        )
    readable, why = reader.can_read_root_files(target.runtime)
    if readable is False:
        return (
            Outcome.BROKEN,
            why,
            "run the log reader as uid 0 (keep readOnlyRootFilesystem and drop other "
            "capabilities) or grant read access to the log files on the node",
        )
    if readable is None:
        return (Outcome.DOUBTFUL, why, "set runAsUser: 0 on the collector container")
    return None


def no_mount_problem(reader: Reader, target: ContainerLogTarget, node_path: str) -> tuple[str, str]:
    """Describe why a node path matched by a pattern is not visible there inside the collector."""
    mounted = ", ".join(f"{m.host_path}→{m.mount_path}" for m in reader.mounts) or "none"
    root = POD_LOG_ROOT if node_path.startswith(POD_LOG_ROOT) else CONTAINER_LINK_ROOT
    inside = reader.container_path(node_path)
    where = (
        f"the collector mounts it at {inside} instead"
        if inside
        else "the collector mounts no hostPath that contains it"
    )
    return (
        f"the patterns select {node_path}, but {where} (hostPath mounts: {mounted}), so the "
        f"pattern matches no file inside the collector",
        f"add a hostPath volume for {root} mounted read-only at {root} in container "
        f"{reader.container or 'of the collector'}",
    )


def parser_problem(
    formats: Sequence[LineFormat], parser: str, target: ContainerLogTarget
) -> tuple[Outcome, str, str] | None:
    """Say why a parser that accepts `formats` fails on the target's lines, or None.

    An empty `formats` accepts every format; `[UNKNOWN]` means no parser handles the runtime's
    line prefix, so records arrive with it still in their body.
    """
    if not formats or target.line_format in formats:
        return None
    if list(formats) == [LineFormat.UNKNOWN]:
        return (
            Outcome.DOUBTFUL,
            f"{parser}: records keep the runtime's `<time> <stream> <tag>` prefix and partial "
            f"lines stay split",
            PARSER_REMEDY,
        )
    accepted = ", ".join(fmt.value for fmt in formats)
    return (
        Outcome.BROKEN,
        f"{parser}: node runtime {target.runtime.value} writes {target.line_format.value} lines "
        f"but the parser accepts only {accepted}, so every line fails to parse",
        PARSER_REMEDY,
    )


PARSER_REMEDY = (
    "parse with a parser that detects the runtime's format: the OpenTelemetry `container` "
    "operator, or Fluent Bit `multiline.parser docker, cri`"
)


SAMPLE_LINES = {
    LineFormat.CRI: '2026-01-01T00:00:00.000000001Z stdout F {"level":"info","msg":"ready"}',
    LineFormat.DOCKER_JSON: (
        '{"log":"{\\"level\\":\\"info\\",\\"msg\\":\\"ready\\"}\\n","stream":"stdout",'
        '"time":"2026-01-01T00:00:00.000000001Z"}'
    ),
}


def regex_accepts(pattern: str, fmt: LineFormat) -> bool | None:
    """Try a collector's regular expression on a sample line of `fmt`; None if it won't compile.

    Go (RE2) and Onigmo name groups `(?P<name>` or `(?<name>`; Python accepts only the first.
    """
    translated = re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern)
    try:
        compiled = re.compile(translated)
    except re.error:
        return None
    return compiled.search(SAMPLE_LINES[fmt]) is not None
