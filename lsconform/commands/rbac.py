"""`lsconform rbac`: print the RBAC objects a run with the given options needs.

The suite only reads. Every permission below is one the checks use, with the reason, and the
manifests in ci/rbac/ are this command's output, so the two cannot disagree (a test compares
them). There are three places a permission applies:

- the release namespace, granted by a Role: discovery, pod logs, scraping the release's pods;
- namespaces that hold the OTel collector, the datastore exporters or a log collector: granted
  by the optional ClusterRole in every namespace, or by a Role in each `--exporter-namespace`;
- cluster-scoped resources (nodes, namespaces) and lists across all namespaces: only a
  ClusterRole can grant them.

Without the ClusterRole the suite still runs. The node log checks then end as `error` naming
`nodes/proxy`, and collectors and exporters are searched only in the release namespace and the
`--exporter-namespace` namespaces.
"""

from __future__ import annotations

import argparse
import enum
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

DEFAULT_NAME = "lsconform"
# Rule comments in the YAML are wrapped to this many characters.
COMMENT_WIDTH = 92


class Scope(str, enum.Enum):
    """The place a permission applies."""

    RELEASE = "release"
    """The release namespace (a Role)."""
    OBSERVABILITY = "observability"
    """Namespaces with collectors or exporters (the ClusterRole, or a Role per namespace)."""
    CLUSTER = "cluster"
    """Cluster-scoped resources and lists across all namespaces (the ClusterRole only)."""


class Needs(str, enum.Enum):
    """The `--access` modes that use a permission."""

    ALWAYS = "always"
    PROXY = "proxy"
    """The API server's service and pod proxy: `--access auto` (outside a cluster) or `proxy`."""
    PORT_FORWARD = "port-forward"
    """Port-forward streams: every `--access` except `direct`."""


@dataclass(frozen=True)
class Permission:
    """One RBAC rule the checks use, with the reason and the check areas that need it."""

    api_group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    scope: Scope
    reason: str
    areas: tuple[str, ...]
    needs: Needs = Needs.ALWAYS

    @property
    def label(self) -> str:
        """A short name for messages and test ids: `pods/log get`."""
        return f"{','.join(self.resources)} {','.join(self.verbs)}"


# Port-forward streams are opened with a WebSocket GET or a SPDY POST. Kubernetes authorises
# the POST as `create`; older API servers authorise the GET as `get` and newer ones require
# `create` for it too, so both verbs are granted.
PERMISSIONS: tuple[Permission, ...] = (
    Permission(
        "",
        ("secrets",),
        ("list",),
        Scope.RELEASE,
        "discovery reads the Helm release records: it lists only Secrets labelled owner=helm, "
        "but RBAC cannot limit a list by label, so the rule allows listing every Secret here",
        ("release",),
    ),
    Permission(
        "",
        ("configmaps",),
        ("get", "list"),
        Scope.RELEASE,
        "Helm release records stored as ConfigMaps, and the chart's config ConfigMap with "
        "the OTEL_* settings the pods read",
        ("release", "traces"),
    ),
    Permission(
        "",
        ("pods",),
        ("list",),
        Scope.RELEASE,
        "discovery lists the release's pods: readiness, restarts, container ports and env",
        ("release",),
    ),
    Permission(
        "",
        ("services", "endpoints"),
        ("get", "list"),
        Scope.RELEASE,
        "discovery resolves the Services and their ready endpoints",
        ("metrics",),
    ),
    Permission(
        "apps",
        ("deployments", "statefulsets"),
        ("list",),
        Scope.RELEASE,
        "discovery lists the release's workloads and their replica counts",
        ("release",),
    ),
    Permission(
        "",
        ("pods/log",),
        ("get",),
        Scope.RELEASE,
        "the log checks read each container's output through the API",
        ("logs",),
    ),
    Permission(
        "",
        ("pods/proxy",),
        ("get",),
        Scope.RELEASE,
        "the metrics checks scrape each pod's metrics endpoint through the API server",
        ("metrics",),
        Needs.PROXY,
    ),
    Permission(
        "",
        ("services/proxy",),
        ("get",),
        Scope.RELEASE,
        "the metrics checks scrape each Service's metrics port, as Prometheus would",
        ("metrics",),
        Needs.PROXY,
    ),
    Permission(
        "",
        ("pods/portforward",),
        ("get", "create"),
        Scope.RELEASE,
        "the frontend's /nginx_status answers only localhost, so it is read through a port-forward",
        ("metrics",),
        Needs.PORT_FORWARD,
    ),
    Permission(
        "",
        ("services", "endpoints"),
        ("get", "list"),
        Scope.OBSERVABILITY,
        "the OTel collector's Service and endpoints, and the datastore exporters' Services",
        ("metrics", "traces"),
    ),
    Permission(
        "",
        ("configmaps",),
        ("get",),
        Scope.OBSERVABILITY,
        "log collector configurations (Fluent Bit, OpenTelemetry Collector filelog) mounted "
        "from ConfigMaps",
        ("logs",),
    ),
    Permission(
        "apps",
        ("deployments", "statefulsets", "daemonsets"),
        ("list",),
        Scope.OBSERVABILITY,
        "exporter and collector workloads, and log collector DaemonSets (in every namespace "
        "when the ClusterRole grants it)",
        ("metrics", "logs"),
    ),
    Permission(
        "",
        ("pods/proxy", "services/proxy"),
        ("get",),
        Scope.OBSERVABILITY,
        "scraping the exporters and the collector's own metrics through the API server",
        ("metrics", "traces"),
        Needs.PROXY,
    ),
    Permission(
        "",
        ("pods/portforward",),
        ("get", "create"),
        Scope.OBSERVABILITY,
        "sending test spans to the collector and telling a localhost-only receiver from a "
        "stopped one",
        ("traces",),
        Needs.PORT_FORWARD,
    ),
    Permission(
        "",
        ("namespaces",),
        ("list",),
        Scope.CLUSTER,
        "finding the namespaces named like *observability* or *monitoring* that hold exporters",
        ("metrics",),
    ),
    Permission(
        "",
        ("nodes",),
        ("list",),
        Scope.CLUSTER,
        "listing nodes, for each node's container runtime (the log format it writes)",
        ("logs",),
    ),
    Permission(
        "",
        ("nodes/proxy",),
        ("get",),
        Scope.CLUSTER,
        "the kubelet's /logs/ listing proves each container's log file exists on its node "
        "where collectors read it",
        ("logs",),
    ),
    Permission(
        "opentelemetry.io",
        ("opentelemetrycollectors",),
        ("list",),
        Scope.OBSERVABILITY,
        "OpenTelemetryCollector resources of the OpenTelemetry Operator",
        ("logs", "traces"),
    ),
    Permission(
        "datadoghq.com",
        ("datadogagents",),
        ("list",),
        Scope.OBSERVABILITY,
        "DatadogAgent resources of the Datadog Operator, a log collector",
        ("logs",),
    ),
)


@dataclass(frozen=True)
class RbacOptions:
    """The run options the RBAC objects depend on."""

    namespace: str = "langsmith"
    exporter_namespaces: tuple[str, ...] = ()
    access: str = "auto"
    service_account: str = DEFAULT_NAME
    cluster_role: bool = False
    namespaced: bool = True
    bindings: bool = True


def needed(permission: Permission, access: str) -> bool:
    """Return whether a run with `--access access` uses `permission`."""
    if permission.needs is Needs.PROXY:
        return access in ("auto", "proxy")
    if permission.needs is Needs.PORT_FORWARD:
        return access != "direct"
    return True


def permissions_for(options: RbacOptions, scopes: Iterable[Scope]) -> list[Permission]:
    """Return the permissions of `scopes` that a run with `options` uses."""
    wanted = set(scopes)
    return [p for p in PERMISSIONS if p.scope in wanted and needed(p, options.access)]


def render(options: RbacOptions) -> str:
    """Render the RBAC objects for `options` as one YAML stream."""
    documents: list[str] = []
    if options.namespaced:
        if options.bindings:
            documents.append(_service_account(options))
        release_rules = permissions_for(options, [Scope.RELEASE])
        documents += _role_and_binding(options, options.namespace, release_rules)
        # The release namespace's Role already exists, and a namespace named twice gets one Role.
        others = [n for n in dict.fromkeys(options.exporter_namespaces) if n != options.namespace]
        for namespace in others:
            rules = permissions_for(options, [Scope.OBSERVABILITY])
            documents += _role_and_binding(options, namespace, rules)
    if options.cluster_role:
        documents += _cluster_role_and_binding(options)
    header = (
        "# RBAC for lsconform, generated by: "
        f"{command_line(options)}\n"
        "# The suite only reads; each rule says which checks use it.\n"
    )
    return header + "---\n".join(documents)


def command_line(options: RbacOptions) -> str:
    """Return the `lsconform rbac` command that renders `options`."""
    parts = ["lsconform rbac", f"--namespace={options.namespace}"]
    parts += [f"--exporter-namespace={namespace}" for namespace in options.exporter_namespaces]
    if options.access != "auto":
        parts.append(f"--access={options.access}")
    if options.service_account != DEFAULT_NAME:
        parts.append(f"--service-account={options.service_account}")
    if options.cluster_role and not options.namespaced:
        parts.append("--cluster-role-only")
    elif options.cluster_role:
        parts.append("--cluster-role")
    if not options.bindings:
        parts.append("--no-bindings")
    return " ".join(parts)


def _service_account(options: RbacOptions) -> str:
    return (
        "apiVersion: v1\n"
        "kind: ServiceAccount\n"
        "metadata:\n"
        f"  name: {options.service_account}\n"
        f"  namespace: {options.namespace}\n"
        f"{_labels()}"
    )


def _labels() -> str:
    return "  labels:\n    app.kubernetes.io/name: lsconform\n"


def _rules(permissions: list[Permission]) -> str:
    lines = ["rules:\n"]
    for permission in permissions:
        comment = f"{permission.reason} ({', '.join(permission.areas)} checks)"
        lines += [f"  # {line}\n" for line in textwrap.wrap(comment, COMMENT_WIDTH)]
        lines.append(f'  - apiGroups: ["{permission.api_group}"]\n')
        lines.append(f"    resources: [{', '.join(permission.resources)}]\n")
        lines.append(f"    verbs: [{', '.join(permission.verbs)}]\n")
    return "".join(lines)


def _role_and_binding(
    options: RbacOptions, namespace: str, permissions: list[Permission]
) -> list[str]:
    role = (
        "apiVersion: rbac.authorization.k8s.io/v1\n"
        "kind: Role\n"
        "metadata:\n"
        f"  name: {options.service_account}\n"
        f"  namespace: {namespace}\n"
        f"{_labels()}"
        f"{_rules(permissions)}"
    )
    if not options.bindings:
        return [role]
    binding = (
        "apiVersion: rbac.authorization.k8s.io/v1\n"
        "kind: RoleBinding\n"
        "metadata:\n"
        f"  name: {options.service_account}\n"
        f"  namespace: {namespace}\n"
        f"{_labels()}"
        "roleRef:\n"
        "  apiGroup: rbac.authorization.k8s.io\n"
        "  kind: Role\n"
        f"  name: {options.service_account}\n"
        f"{_subjects(options)}"
    )
    return [role, binding]


def cluster_role_name(options: RbacOptions) -> str:
    """Name the ClusterRole after the service account and its namespace, so that installs
    for several release namespaces do not overwrite each other's."""
    return f"{options.service_account}-{options.namespace}"


def _cluster_role_and_binding(options: RbacOptions) -> list[str]:
    name = cluster_role_name(options)
    permissions = permissions_for(options, [Scope.OBSERVABILITY, Scope.CLUSTER])
    role = (
        "apiVersion: rbac.authorization.k8s.io/v1\n"
        "kind: ClusterRole\n"
        "metadata:\n"
        f"  name: {name}\n"
        f"{_labels()}"
        f"{_rules(permissions)}"
    )
    if not options.bindings:
        return [role]
    binding = (
        "apiVersion: rbac.authorization.k8s.io/v1\n"
        "kind: ClusterRoleBinding\n"
        "metadata:\n"
        f"  name: {name}\n"
        f"{_labels()}"
        "roleRef:\n"
        "  apiGroup: rbac.authorization.k8s.io\n"
        "  kind: ClusterRole\n"
        f"  name: {name}\n"
        f"{_subjects(options)}"
    )
    return [role, binding]


def _subjects(options: RbacOptions) -> str:
    return (
        "subjects:\n"
        "  - kind: ServiceAccount\n"
        f"    name: {options.service_account}\n"
        f"    namespace: {options.namespace}\n"
    )


def register(subparsers: Any) -> None:
    """Add the `rbac` subcommand."""
    parser = subparsers.add_parser(
        "rbac",
        help="print the RBAC Role (and ClusterRole) a run needs",
        description="Print, as YAML for kubectl apply, the ServiceAccount, Role and "
        "RoleBinding a run with these options needs in the release namespace, and with "
        "--cluster-role the ClusterRole for node logs and for collectors and exporters in "
        "other namespaces. See docs/rbac.md for why each permission is needed.",
    )
    parser.add_argument(
        "--namespace", default="langsmith", help="release namespace (default langsmith)"
    )
    parser.add_argument(
        "--exporter-namespace",
        action="append",
        default=[],
        help="also grant, by a Role there, what the checks read in this namespace "
        "(collectors, exporters); repeatable, like the suite's option",
    )
    parser.add_argument(
        "--access",
        choices=("auto", "proxy", "port-forward", "direct"),
        default="auto",
        help="the suite's --access; direct needs neither the proxy nor port-forward rules "
        "(default auto)",
    )
    parser.add_argument(
        "--service-account",
        default=DEFAULT_NAME,
        help=f"name of the ServiceAccount and the roles (default {DEFAULT_NAME})",
    )
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument(
        "--cluster-role",
        action="store_true",
        help="also print the ClusterRole and ClusterRoleBinding",
    )
    cluster.add_argument(
        "--cluster-role-only",
        action="store_true",
        help="print only the ClusterRole and ClusterRoleBinding",
    )
    parser.add_argument(
        "--no-bindings",
        action="store_true",
        help="print only the roles, without the ServiceAccount and bindings",
    )
    parser.set_defaults(func=run)


def options_from(args: argparse.Namespace) -> RbacOptions:
    """Build RbacOptions from the parsed command line."""
    return RbacOptions(
        namespace=args.namespace,
        exporter_namespaces=tuple(args.exporter_namespace),
        access=args.access,
        service_account=args.service_account,
        cluster_role=args.cluster_role or args.cluster_role_only,
        namespaced=not args.cluster_role_only,
        bindings=not args.no_bindings,
    )


def run(args: argparse.Namespace) -> int:
    """Print the RBAC objects for the command line's options."""
    sys.stdout.write(render(options_from(args)))
    return 0
