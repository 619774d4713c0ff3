"""Label and field selectors with Kubernetes' syntax and errors.

Label selectors (k8s.io/apimachinery `labels.Parse`): comma-separated requirements, each one of
`key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`,
`key>n`, `key<n`. A `!=` or `notin` requirement also matches objects without the label.

Field selectors (`fields.ParseSelector`): `path=value`, `path==value` and `path!=value`, on the
fields each kind supports; any other field is rejected with "field label not supported", as the
real server does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lsconform.sandbox.apiserver.status import ApiError, bad_request

JsonObject = dict[str, Any]

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_KEY_RE = re.compile(rf"^{_KEY}$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    """One of: exists, !exists, =, !=, in, notin, gt, lt."""
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "exists":
            return present
        if self.operator == "!exists":
            return not present
        if self.operator in ("=", "in"):
            return present and value in self.values
        if self.operator in ("!=", "notin"):
            return not present or value not in self.values
        if not present or value is None:
            return False
        try:
            number = int(value)
        except ValueError:
            return False
        bound = int(self.values[0])
        return number > bound if self.operator == "gt" else number < bound


LabelSelector = tuple[Requirement, ...]


def _split_requirements(text: str) -> list[str]:
    """Split at commas that are not inside a parenthesised value set."""
    parts: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


_SET_RE = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_BINARY_RE = re.compile(r"^(?P<key>[^=!<>\s]+)\s*(?P<op>==|=|!=|>|<)\s*(?P<value>\S*)$")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a labelSelector parameter; raise a 400 ApiError naming the bad part."""
    text = text.strip()
    if not text:
        return ()
    requirements = [_parse_requirement(part.strip(), text) for part in _split_requirements(text)]
    return tuple(requirements)


def _invalid(selector: str, detail: str) -> ApiError:
    return bad_request(f"unable to parse requirement: {detail}: {selector!r}")


def _parse_requirement(part: str, selector: str) -> Requirement:
    if not part:
        raise _invalid(selector, "found '', expected: identifier")
    set_match = _SET_RE.match(part)
    if set_match:
        key = _checked_key(set_match["key"], selector)
        values = tuple(v.strip() for v in set_match["values"].split(","))
        if set_match["op"] == "in" and values == ("",):
            raise _invalid(selector, "for 'in' operator, values set can't be empty")
        for value in values:
            _checked_value(value, selector)
        return Requirement(key, set_match["op"], values)
    binary = _BINARY_RE.match(part)
    if binary:
        key = _checked_key(binary["key"], selector)
        op = binary["op"]
        value = _checked_value(binary["value"], selector)
        if op in (">", "<"):
            if not value.lstrip("-").isdigit():
                raise _invalid(selector, "for 'Gt', 'Lt' operators, the value must be an integer")
            return Requirement(key, "gt" if op == ">" else "lt", (value,))
        return Requirement(key, "!=" if op == "!=" else "=", (value,))
    if part.startswith("!"):
        return Requirement(_checked_key(part[1:].strip(), selector), "!exists")
    return Requirement(_checked_key(part, selector), "exists")


def _checked_key(key: str, selector: str) -> str:
    name = key.rsplit("/", 1)[-1]
    if not _KEY_RE.match(key) or len(name) > 63:
        raise _invalid(selector, f"invalid label key {key!r}")
    return key


def _checked_value(value: str, selector: str) -> str:
    if len(value) > 63 or not _VALUE_RE.match(value):
        raise _invalid(selector, f"invalid label value: {value!r}")
    return value


def labels_match(selector: LabelSelector, obj: JsonObject) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(requirement.matches(labels) for requirement in selector)


# Field selectors.

FieldSelector = tuple[tuple[str, bool, str], ...]
"""(field path, equal?, value) triples."""

_COMMON_FIELDS = ("metadata.name", "metadata.namespace")

# The fields each built-in kind accepts in a fieldSelector (Kubernetes 1.3x field label
# conversion functions), by (group, plural).
SUPPORTED_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "pods"): (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    ("", "secrets"): ("type",),
    ("", "events"): (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    ("", "namespaces"): ("status.phase",),
    ("", "nodes"): ("spec.unschedulable",),
    ("", "replicationcontrollers"): ("status.replicas",),
    ("apps", "replicasets"): ("status.replicas",),
    ("batch", "jobs"): ("status.successful",),
}

_FIELD_RE = re.compile(r"^(?P<field>[^=!\s]+)\s*(?P<op>==|=|!=)\s*(?P<value>.*)$")


def parse_field_selector(text: str, group: str, plural: str, kind: str) -> FieldSelector:
    """Parse a fieldSelector parameter for one resource; reject fields the kind lacks."""
    text = text.strip()
    if not text:
        return ()
    allowed = _COMMON_FIELDS + SUPPORTED_FIELDS.get((group, plural), ())
    terms: list[tuple[str, bool, str]] = []
    for part in text.split(","):
        match = _FIELD_RE.match(part.strip())
        if not match:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field = match["field"]
        if field not in allowed:
            raise bad_request(_unsupported_field_message(field, group, plural))
        terms.append((field, match["op"] != "!=", match["value"].strip()))
    return tuple(terms)


def _unsupported_field_message(field: str, group: str, plural: str) -> str:
    # Built-in kinds and custom resources word this differently on a real server.
    if (group, plural) in SUPPORTED_FIELDS or group in _BUILTIN_GROUPS:
        return f"field label not supported: {field}"
    return f'"{field}" is not a known field selector: only "metadata.name", "metadata.namespace"'


_BUILTIN_GROUPS = ("", "apps", "batch", "discovery.k8s.io")


def _field_value(obj: JsonObject, path: str) -> str:
    if path == "source":
        return str(obj.get("source", {}).get("component", ""))
    value: Any = obj
    for step in path.split("."):
        value = value.get(step) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fields_match(selector: FieldSelector, obj: JsonObject) -> bool:
    return all((_field_value(obj, path) == value) == equal for path, equal, value in selector)


def object_filter(
    label_selector: LabelSelector, field_selector: FieldSelector
) -> Callable[[JsonObject], bool]:
    def accept(obj: JsonObject) -> bool:
        return labels_match(label_selector, obj) and fields_match(field_selector, obj)

    return accept
