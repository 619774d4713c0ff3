"""An RBAC authorizer for one user, from Role and ClusterRole objects given as YAML.

It decides like Kubernetes' RBAC authorizer does for a user bound to those roles: a Role grants
its rules in its own namespace, a ClusterRole grants them in every namespace and at the cluster
scope. Discovery paths (`/api`, `/apis`, `/version`, `/openapi/...`) stay open to every
authenticated user, as the built-in `system:discovery` ClusterRole makes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lsconform.sandbox.apiserver.requestinfo import RequestInfo
from lsconform.sandbox.apiserver.status import ApiError, forbidden

DEFAULT_USER = "system:serviceaccount:langsmith:lsconform"


@dataclass(frozen=True)
class PolicyRule:
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...] = ()

    def allows(self, verb: str, group: str, resource: str, name: str) -> bool:
        if "*" not in self.verbs and verb not in self.verbs:
            return False
        if "*" not in self.api_groups and group not in self.api_groups:
            return False
        if not _resource_matches(self.resources, resource):
            return False
        return not self.resource_names or name in self.resource_names


def _resource_matches(patterns: tuple[str, ...], resource: str) -> bool:
    """Match `pods` or `pods/log` against rule resources, with `*` and `*/<subresource>`."""
    if "*" in patterns or resource in patterns:
        return True
    _, _, subresource = resource.partition("/")
    return bool(subresource) and f"*/{subresource}" in patterns


@dataclass(frozen=True)
class Grant:
    """The rules of one role and where they apply (None = every namespace and cluster scope)."""

    role: str
    namespace: str | None
    rules: tuple[PolicyRule, ...]


SKIPPED_KINDS = frozenset({"ServiceAccount", "RoleBinding", "ClusterRoleBinding"})


class InvalidRoleError(ValueError):
    """The RBAC YAML is not a Role or ClusterRole this authorizer can use."""


def _strings(value: Any, field: str, role: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRoleError(f"{role}: rules[].{field} must be a list of strings, got {value!r}")
    return tuple(value)


def parse_roles(text: str, default_namespace: str = "default") -> list[Grant]:
    """Parse one or more YAML documents, each a Role or ClusterRole (or a List of them)."""
    grants: list[Grant] = []
    for document in yaml.safe_load_all(text):
        if document is None:
            continue
        grants.extend(_grants_from(document, default_namespace))
    if not grants:
        raise InvalidRoleError("the RBAC YAML contains no Role or ClusterRole")
    return grants


def _grants_from(document: Any, default_namespace: str) -> Iterable[Grant]:
    if not isinstance(document, dict):
        raise InvalidRoleError(f"expected a Role or ClusterRole mapping, got {document!r:.80}")
    kind = document.get("kind")
    if kind == "List":
        for item in document.get("items") or []:
            yield from _grants_from(item, default_namespace)
        return
    if kind in SKIPPED_KINDS:
        # `lsconform rbac` prints the ServiceAccount and bindings with the roles; the sandbox
        # grants the roles to its one user, so those documents have nothing to add.
        return
    if kind not in ("Role", "ClusterRole"):
        raise InvalidRoleError(
            f"expected kind Role or ClusterRole, got {kind!r}; give a file of Role and "
            "ClusterRole documents (ServiceAccounts and bindings are ignored)"
        )
    metadata = document.get("metadata") or {}
    role = f"{kind} {metadata.get('name', '')!s}".strip()
    rules = []
    for rule in document.get("rules") or []:
        if not isinstance(rule, dict):
            raise InvalidRoleError(f"{role}: each rule must be a mapping, got {rule!r:.80}")
        rules.append(
            PolicyRule(
                api_groups=_strings(rule.get("apiGroups"), "apiGroups", role),
                resources=_strings(rule.get("resources"), "resources", role),
                verbs=_strings(rule.get("verbs"), "verbs", role),
                resource_names=_strings(rule.get("resourceNames"), "resourceNames", role),
            )
        )
    namespace = None if kind == "ClusterRole" else metadata.get("namespace") or default_namespace
    yield Grant(role, namespace, tuple(rules))


@dataclass(frozen=True)
class Authorizer:
    user: str
    grants: tuple[Grant, ...]

    @classmethod
    def from_file(cls, path: Path, user: str = DEFAULT_USER) -> Authorizer:
        namespace = _user_namespace(user)
        return cls(user, tuple(parse_roles(path.read_text(encoding="utf-8"), namespace)))

    @classmethod
    def from_yaml(cls, text: str, user: str = DEFAULT_USER) -> Authorizer:
        return cls(user, tuple(parse_roles(text, _user_namespace(user))))

    def allows(self, info: RequestInfo, verb: str | None = None) -> bool:
        if not info.is_resource:
            return True
        verb = verb or info.verb
        for grant in self.grants:
            if grant.namespace is not None and grant.namespace != info.namespace:
                continue
            for rule in grant.rules:
                if rule.allows(verb, info.group, info.resource_path, _plain_name(info)):
                    return True
        return False

    def check(self, info: RequestInfo, verb: str | None = None) -> None:
        """Raise a 403 ApiError shaped like Kubernetes' own unless the request is allowed."""
        if not self.allows(info, verb):
            raise forbidden_error(self.user, info, verb or info.verb)


def _user_namespace(user: str) -> str:
    parts = user.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        return parts[2]
    return "default"


def _plain_name(info: RequestInfo) -> str:
    """Return the name RBAC's resourceNames match: a proxy target without scheme and port."""
    if info.subresource != "proxy":
        return info.name
    parts = info.name.split(":")
    if len(parts) == 3 or (len(parts) == 2 and parts[0] in ("http", "https")):
        return parts[1]
    return parts[0]


def forbidden_error(user: str, info: RequestInfo, verb: str) -> ApiError:
    qualified = f"{info.resource}.{info.group}" if info.group else info.resource
    scope = f'in the namespace "{info.namespace}"' if info.namespace else "at the cluster scope"
    reason = (
        f'User "{user}" cannot {verb} resource "{info.resource_path}" '
        f'in API group "{info.group}" {scope}'
    )
    name = _plain_name(info)
    subject = f'{qualified} "{name}"' if name else qualified
    return forbidden(f"{subject} is forbidden: {reason}", name, info.group, info.resource)
