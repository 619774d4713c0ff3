"""Turn a request path into what Kubernetes authorizes and audits: verb, group, resource, ...

This follows the API server's own request-info rules (k8s.io/apiserver `RequestInfoFactory`).
`/api/v1/...` is the core group and `/apis/<group>/<version>/...` any other. An optional
`namespaces/<ns>/` segment scopes the request. A name after the resource makes it a `get`
instead of a `list`, and `watch=1` makes a list a `watch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

# HTTP method → verb for requests that name one object or a subresource (a list has its own).
METHOD_VERBS = {
    "GET": "get",
    "HEAD": "get",
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
    "OPTIONS": "options",
}


@dataclass(frozen=True)
class RequestInfo:
    """A request described in Kubernetes' terms."""

    is_resource: bool
    verb: str
    path: str
    api_prefix: str = ""
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    rest: str = ""
    """The path after the subresource: what `proxy` forwards, including node `proxy/logs`."""

    @property
    def resource_path(self) -> str:
        """The resource as RBAC names it, with its subresource: `pods/log`."""
        if self.subresource:
            return f"{self.resource}/{self.subresource}"
        return self.resource


def parse_request(method: str, path: str, watch: bool) -> RequestInfo:
    """Describe a request from its method, raw (percent-encoded) URL path and watch parameter."""
    verb = METHOD_VERBS.get(method.upper(), method.lower())
    raw_parts = path.strip("/").split("/")
    parts = [unquote(part) for part in raw_parts]
    if not parts or parts[0] not in ("api", "apis"):
        return RequestInfo(False, verb, path)
    prefix = parts[0]
    if prefix == "api":
        if len(parts) < 2:
            return RequestInfo(False, verb, path)
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 3:
            return RequestInfo(False, verb, path)
        group, version, rest = parts[1], parts[2], parts[3:]
    if not rest:
        return RequestInfo(False, verb, path)

    # The deprecated `/watch/` prefix still works on real servers.
    is_watch_path = rest[0] == "watch"
    if is_watch_path:
        rest = rest[1:]
    namespace = ""
    # `/namespaces` and `/namespaces/<name>` are the namespaces resource itself.
    if rest and rest[0] == "namespaces" and len(rest) > 2:
        namespace = rest[1]
        rest = rest[2:]
    if not rest:
        return RequestInfo(False, verb, path)
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    # The remainder keeps its percent-encoding, because the proxy forwards it as sent.
    remainder = "/".join(raw_parts[len(parts) - len(rest) + 3 :]) if len(rest) > 3 else ""
    if remainder and path.endswith("/"):
        remainder += "/"
    if not name and verb == "get":
        verb = "watch" if watch or is_watch_path else "list"
    elif verb == "get" and (watch or is_watch_path):
        verb = "watch"
    if not name and verb == "delete":
        verb = "deletecollection"
    return RequestInfo(
        True,
        verb,
        path,
        api_prefix=prefix,
        group=group,
        version=version,
        namespace=namespace,
        resource=resource,
        subresource=subresource,
        name=name,
        rest=remainder,
    )
