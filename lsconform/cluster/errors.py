"""The exceptions of Kubernetes access: every API or transport failure is one of these.

Each exception names the cause, the evidence (HTTP status, the API server's Status message cut to
`MAX_STATUS_MESSAGE` characters, the request path) and the fix. Exceptions of the HTTP library
never reach callers; they are chained with `from` so a traceback still shows them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# A Status message of the API server can quote a whole object; 300 characters keep the reason
# and the object's name, which is all a user needs to act.
MAX_STATUS_MESSAGE = 300


def bound_message(text: str, limit: int = MAX_STATUS_MESSAGE) -> str:
    """Cut `text` to `limit` characters on one line, saying how much was cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return f"{flat[:limit]}… ({len(flat) - limit} more characters)"


class ClusterError(Exception):
    """Base of every Kubernetes access failure: a cause, its evidence and a fix."""

    default_fix = "check the API server address and credentials in the kubeconfig"

    def __init__(
        self,
        cause: str,
        *,
        evidence: Mapping[str, Any] | None = None,
        fix: str | None = None,
    ) -> None:
        self.cause = cause
        self.evidence: dict[str, Any] = dict(evidence or {})
        self.fix = fix if fix is not None else self.default_fix
        super().__init__(self.render())

    @property
    def status(self) -> int | None:
        """HTTP status of the failed response, when there was one."""
        value = self.evidence.get("status")
        return value if isinstance(value, int) else None

    def render(self) -> str:
        """Format the message: cause, then evidence as `key=value`, then the fix."""
        text = self.cause
        if self.evidence:
            shown = ", ".join(f"{key}={value}" for key, value in self.evidence.items())
            text = f"{text} ({shown})"
        if self.fix:
            text = f"{text}. Fix: {self.fix}"
        return text


class ConfigError(ClusterError):
    """The kubeconfig or in-cluster configuration cannot be loaded or used."""

    default_fix = "pass --kubeconfig PATH and --context NAME as you would to kubectl"


class Unauthorized(ClusterError):
    """The API server rejected the credentials (HTTP 401)."""

    default_fix = (
        "the token or client certificate in the kubeconfig is missing or expired; "
        "run `kubectl auth whoami` with the same kubeconfig and renew the credentials"
    )


@dataclass(frozen=True)
class RbacRule:
    """One RBAC permission: `verb` on `resource[/subresource]` of API `group` in `namespace`.

    `namespace` is None for cluster-scoped resources (nodes), which need a ClusterRole.
    """

    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str | None = None

    @property
    def resource_name(self) -> str:
        """The resource as an RBAC rule spells it: `services/proxy`."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    @property
    def verbs(self) -> tuple[str, ...]:
        """Verbs to grant. Streaming subresources are opened with GET over a WebSocket, which
        Kubernetes 1.30 and later authorise as `create`, so both are granted for them."""
        if self.subresource in ("portforward", "exec", "attach") and self.verb == "get":
            return ("get", "create")
        return (self.verb,)

    def to_yaml(self) -> str:
        """Render the rule as YAML to add under `rules:` of a Role (or a ClusterRole)."""
        verbs = ", ".join(f'"{verb}"' for verb in self.verbs)
        where = (
            f"# add to a Role in namespace {self.namespace} (and bind it to the user)"
            if self.namespace
            else "# add to a ClusterRole (and bind it to the user)"
        )
        return (
            f"{where}\n"
            f'- apiGroups: ["{self.group}"]\n'
            f'  resources: ["{self.resource_name}"]\n'
            f"  verbs: [{verbs}]\n"
        )


class Forbidden(ClusterError):
    """The credentials lack an RBAC permission (HTTP 403); `rule` is the permission missing."""

    def __init__(
        self,
        cause: str,
        *,
        rule: RbacRule,
        evidence: Mapping[str, Any] | None = None,
        fix: str | None = None,
    ) -> None:
        self.rule = rule
        scope = f"namespace {rule.namespace}" if rule.namespace else "the cluster"
        default = (
            f"grant verb {'/'.join(rule.verbs)} on {rule.resource_name} "
            f'(apiGroup "{rule.group}") in {scope}'
        )
        super().__init__(cause, evidence=evidence, fix=fix if fix is not None else default)

    def rule_yaml(self) -> str:
        """Render the RBAC rule to add, as YAML (see `RbacRule.to_yaml`)."""
        return self.rule.to_yaml()


class NotFound(ClusterError):
    """The object or the API path does not exist (HTTP 404)."""

    default_fix = "check the namespace and the object's name"


class TooManyRequests(ClusterError):
    """The API server throttled the client (HTTP 429) and retries did not get through.

    `retry_after` is the server's Retry-After in seconds, when it sent one.
    """

    default_fix = "the API server is overloaded; lower --concurrency or retry later"

    def __init__(
        self,
        cause: str,
        *,
        retry_after: float | None = None,
        evidence: Mapping[str, Any] | None = None,
        fix: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(cause, evidence=evidence, fix=fix)


class ServerError(ClusterError):
    """The API server failed (HTTP 5xx) and retries did not help."""

    default_fix = "the API server is failing; check its health (`kubectl get --raw /readyz`)"


class RequestTimeout(ClusterError):
    """No complete response arrived within the timeout."""

    default_fix = "the server is slow or stalled; raise the timeout or check the server's load"


class Unreachable(ClusterError):
    """No connection could be made, or the connection broke before a response arrived."""

    default_fix = "check that the address is reachable from here (network, VPN, proxy)"


class ConnectionRefused(Unreachable):
    """The target port refuses connections: nothing listens there."""

    default_fix = "check that the container listens on that port and the port number is right"


class ResponseTooLarge(ClusterError):
    """The response is larger than the size cap allowed for this request."""

    default_fix = "narrow the request (a label selector) or raise the size cap"


class InvalidResponse(ClusterError):
    """The response is not what the API promises (not JSON, wrong shape)."""

    default_fix = "check that the address is a Kubernetes API server and not a proxy or web page"


# The API path shapes the RBAC rule is read from: core resources under /api/v1, group resources
# under /apis/<group>/<version>, optionally in a namespace, optionally with a name and subresource.
_API_PATH = re.compile(
    r"^/(?:api/(?P<core_version>[^/]+)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<namespace>[^/]+))?"
    r"(?:/(?P<resource>[^/]+)(?:/(?P<name>[^/]+)(?:/(?P<subresource>[^/]+))?)?)?"
)


def rule_for_request(method: str, path: str, params: Mapping[str, str] | None = None) -> RbacRule:
    """Derive the RBAC rule a request needs from its method and API path.

    A GET on a collection is `list` (or `watch` with `watch=true`), on a named object `get`;
    POST is `create`. `/api/v1/namespaces/<ns>` itself is the `namespaces` resource.
    """
    path = urlsplit(path).path
    match = _API_PATH.match(path)
    if match is None:
        return RbacRule(verb=_verb_for(method, named=True, params=params), group="", resource=path)
    group = match.group("group") or ""
    namespace = match.group("namespace")
    resource = match.group("resource")
    name = match.group("name")
    subresource = match.group("subresource") or ""
    if resource is None and namespace is not None:
        # The namespace object itself: /api/v1/namespaces/<ns>.
        return RbacRule(
            verb=_verb_for(method, named=True, params=params), group="", resource="namespaces"
        )
    return RbacRule(
        verb=_verb_for(method, named=name is not None, params=params),
        group=group,
        resource=resource or "",
        subresource=subresource,
        namespace=namespace,
    )


def _verb_for(method: str, *, named: bool, params: Mapping[str, str] | None) -> str:
    method = method.upper()
    if method == "POST":
        return "create"
    if method in ("PUT",):
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete"
    if params and str(params.get("watch", "")).lower() in ("true", "1"):
        return "watch"
    return "get" if named else "list"


def parse_status(body: bytes) -> dict[str, Any] | None:
    """Return the API server's Status object in `body`, or None when the body is not one."""
    if not body or body[:1] != b"{":
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(data, dict) and data.get("kind") == "Status":
        return data
    return None


def status_message(body: bytes) -> str:
    """Return the Status message in `body` (bounded), or the start of the body as text."""
    status = parse_status(body)
    if status is not None:
        return bound_message(str(status.get("message", "")))
    return bound_message(body[: MAX_STATUS_MESSAGE * 2].decode("utf-8", errors="replace"))


def error_for_status(
    status: int,
    body: bytes,
    *,
    method: str,
    path: str,
    params: Mapping[str, str] | None = None,
    retry_after: float | None = None,
) -> ClusterError:
    """Map a failed API response to the exception for its status code."""
    message = status_message(body)
    evidence: dict[str, Any] = {"status": status, "request": f"{method} {path}"}
    if message:
        evidence["message"] = message
    if status == 401:
        return Unauthorized("the API server rejected the credentials", evidence=evidence)
    if status == 403:
        rule = rule_for_request(method, path, params)
        return Forbidden(
            f"the credentials may not {'/'.join(rule.verbs)} {rule.resource_name}",
            rule=rule,
            evidence=evidence,
        )
    if status == 404:
        return NotFound(f"{path} was not found", evidence=evidence)
    if status == 429:
        return TooManyRequests(
            "the API server throttled the request (429 Too Many Requests)",
            retry_after=retry_after,
            evidence=evidence,
        )
    if status in (408, 504):
        return RequestTimeout("the API server timed out the request", evidence=evidence)
    if status >= 500:
        return ServerError(f"the API server failed with HTTP {status}", evidence=evidence)
    return ClusterError(
        f"the API server rejected the request with HTTP {status}",
        evidence=evidence,
        fix="this is likely a bug in lsconform or an unsupported Kubernetes version; report it",
    )
