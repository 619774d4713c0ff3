"""The Datadog agent's container log collection rules.

The rules follow the agent's container filter (pkg/util/containers/filter.go in
DataDog/datadog-agent) and the "Container Discovery Management" guide:

- logs are collected only with `DD_LOGS_ENABLED=true`; then from every container with
  `DD_LOGS_CONFIG_CONTAINER_COLLECT_ALL=true`, otherwise only from containers that have an
  `ad.datadoghq.com/<container>.logs` annotation (the filter lists then do not apply);
- the pod annotations `ad.datadoghq.com/exclude`, `ad.datadoghq.com/logs_exclude`,
  `ad.datadoghq.com/<container>.exclude` and `ad.datadoghq.com/<container>.logs_exclude` set to a
  true value (Go's strconv.ParseBool) exclude first;
- each list is space-separated `name:`, `image:` or `kube_namespace:` regular expressions
  (Go RE2, unanchored); entries with another prefix are ignored;
- within a list pair, any include match wins over every exclude; the global pair
  (`DD_CONTAINER_INCLUDE`/`_EXCLUDE`, or the legacy `DD_AC_INCLUDE`/`_EXCLUDE` when those are
  unset) and the logs pair (`DD_CONTAINER_INCLUDE_LOGS`/`_EXCLUDE_LOGS`) are separate filters,
  and a container excluded by either gets no log collection;
- the agent tails `/var/log/pods/...` and needs `/var/log/pods` and `/var/log/containers`
  mounted; it detects the line format itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lsconform.probes.collectors.model import (
    CONTAINER_LINK_ROOT,
    POD_LOG_ROOT,
    ContainerLogTarget,
    Family,
    Outcome,
    Reader,
    Verdict,
    check_access,
)

_TRUE_VALUES = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_PREFIXES = ("name:", "image:", "kube_namespace:")
# RE2 has no lookaround and no back-references; the agent rejects such expressions.
_NOT_RE2 = re.compile(r"\(\?[=!]|\(\?<[=!]|\\[1-9]")


class InvalidRule(ValueError):
    """A filter entry the agent cannot compile."""


@dataclass(frozen=True)
class FilterRule:
    """One `<field>:<regex>` entry of a filter list."""

    field: str
    pattern: str

    def matches(self, name: str, image: str, namespace: str) -> bool:
        """Say whether the rule's regular expression occurs in its field (unanchored)."""
        value = {"name": name, "image": image, "kube_namespace": namespace}[self.field]
        return re.search(self.pattern, value) is not None


def parse_rules(value: str) -> tuple[list[FilterRule], list[str]]:
    """Parse a space-separated filter list; return the rules and the ignored entries.

    Raises InvalidRule for an expression the agent cannot compile (it then drops the filter).
    """
    rules: list[FilterRule] = []
    ignored: list[str] = []
    for entry in value.split():
        prefix = next((p for p in _PREFIXES if entry.startswith(p)), None)
        if prefix is None:
            ignored.append(entry)
            continue
        pattern = entry[len(prefix) :]
        if _NOT_RE2.search(pattern):
            raise InvalidRule(f"{entry!r} uses lookaround or a back-reference, which RE2 lacks")
        try:
            re.compile(pattern)
        except re.error as error:
            raise InvalidRule(f"{entry!r} is not a valid regular expression: {error}") from error
        rules.append(FilterRule(prefix[:-1], pattern))
    return rules, ignored


def is_true(value: str | None) -> bool:
    """Parse a boolean as Go's strconv.ParseBool does (anything else is false)."""
    return value is not None and value.strip() in _TRUE_VALUES


def excluded_by_annotation(annotations: Mapping[str, str], container: str) -> str | None:
    """Return the annotation that excludes the container's logs, or None."""
    for key in (
        "ad.datadoghq.com/exclude",
        "ad.datadoghq.com/logs_exclude",
        f"ad.datadoghq.com/{container}.exclude",
        f"ad.datadoghq.com/{container}.logs_exclude",
    ):
        if is_true(annotations.get(key)):
            return key
    return None


def filter_excludes(
    include: str, exclude: str, name: str, image: str, namespace: str
) -> FilterRule | None:
    """Apply one include/exclude pair; return the exclude rule that applies, or None.

    Any include match keeps the container; an exclude rule is not applied to an empty value.
    """
    include_rules, _ = parse_rules(include)
    exclude_rules, _ = parse_rules(exclude)
    if any(rule.matches(name, image, namespace) for rule in include_rules):
        return None
    values = {"name": name, "image": image, "kube_namespace": namespace}
    for rule in exclude_rules:
        if values[rule.field] and rule.matches(name, image, namespace):
            return rule
    return None


@dataclass
class DatadogSettings:
    """The agent's log collection settings, as environment variables name them."""

    logs_enabled: bool = False
    collect_all: bool = False
    include: str = ""
    exclude: str = ""
    include_logs: str = ""
    exclude_logs: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DatadogSettings:
        """Read the settings from the agent container's environment."""
        include = env.get("DD_CONTAINER_INCLUDE", "")
        exclude = env.get("DD_CONTAINER_EXCLUDE", "")
        return cls(
            logs_enabled=_env_bool(env.get("DD_LOGS_ENABLED")),
            collect_all=_env_bool(env.get("DD_LOGS_CONFIG_CONTAINER_COLLECT_ALL")),
            include=include or env.get("DD_AC_INCLUDE", ""),
            exclude=exclude or env.get("DD_AC_EXCLUDE", ""),
            include_logs=env.get("DD_CONTAINER_INCLUDE_LOGS", ""),
            exclude_logs=env.get("DD_CONTAINER_EXCLUDE_LOGS", ""),
        )

    @classmethod
    def from_helm_values(cls, values: Mapping[str, Any]) -> DatadogSettings:
        """Read the settings from the values of the `datadog` Helm chart."""
        datadog = values.get("datadog") or {}
        logs = datadog.get("logs") or {}
        return cls(
            logs_enabled=bool(logs.get("enabled")),
            collect_all=bool(logs.get("containerCollectAll")),
            include=str(datadog.get("containerInclude") or ""),
            exclude=str(datadog.get("containerExclude") or ""),
            include_logs=str(datadog.get("containerIncludeLogs") or ""),
            exclude_logs=str(datadog.get("containerExcludeLogs") or ""),
        )


def _env_bool(value: str | None) -> bool:
    # The agent reads booleans from the environment with viper, which accepts these spellings.
    return value is not None and value.strip().lower() in ("1", "t", "true", "yes", "y", "on")


def collects(settings: DatadogSettings, target: ContainerLogTarget) -> tuple[bool, str, str]:
    """Decide whether the agent collects the target's logs; return (collects, reason, remedy)."""
    if not settings.logs_enabled:
        return (
            False,
            "log collection is off (DD_LOGS_ENABLED is not true)",
            ("set datadog.logs.enabled: true (DD_LOGS_ENABLED=true)"),
        )
    annotation = excluded_by_annotation(target.pod_annotations, target.container)
    if annotation:
        return False, f"pod annotation {annotation} excludes it", f"remove {annotation}"
    if not settings.collect_all:
        key = f"ad.datadoghq.com/{target.container}.logs"
        if key in target.pod_annotations:
            return True, f"annotation {key} configures its logs", ""
        return (
            False,
            (
                f"containerCollectAll is off and pod {target.pod} has no {key} annotation, so the "
                f"agent collects only annotated containers"
            ),
            (
                "set datadog.logs.containerCollectAll: true, or add the annotation through the "
                "chart's commonPodAnnotations"
            ),
        )
    for variable, include, exclude in (
        ("DD_CONTAINER_EXCLUDE", settings.include, settings.exclude),
        ("DD_CONTAINER_EXCLUDE_LOGS", settings.include_logs, settings.exclude_logs),
    ):
        rule = filter_excludes(include, exclude, target.container, target.image, target.namespace)
        if rule is not None:
            return (
                False,
                f"{variable} rule {rule.field}:{rule.pattern} excludes it",
                (f"narrow the rule {rule.field}:{rule.pattern} or add a matching include rule"),
            )
    return True, "containerCollectAll is on and no rule excludes it", ""


@dataclass
class DatadogCollector:
    """A Datadog agent (DaemonSet, DatadogAgent resource or Helm values) and its log settings."""

    name: str
    reader: Reader
    settings: DatadogSettings
    problems: list[str] = field(default_factory=list)
    family: Family = Family.DATADOG

    def evaluate(self, target: ContainerLogTarget) -> Verdict:
        """Say whether the agent collects the target's logs and can read them."""
        try:
            selected, reason, remedy = collects(self.settings, target)
        except InvalidRule as error:
            return Verdict(
                self.name,
                self.family,
                Outcome.BROKEN,
                f"a container filter is invalid ({error}); the agent drops the filter",
                remedy="fix the filter's regular expression (Go RE2 syntax)",
            )
        if not selected:
            return Verdict(self.name, self.family, Outcome.NOT_SELECTED, reason, remedy=remedy)
        if self.reader.known_mounts:
            missing = [
                root
                for root in (POD_LOG_ROOT, CONTAINER_LINK_ROOT)
                if not self.reader.sees_at_same_path(f"{root}/x")
            ]
            if missing:
                return Verdict(
                    self.name,
                    self.family,
                    Outcome.BROKEN,
                    f"{reason}, but the agent does not mount {' and '.join(missing)} at the same "
                    f"path; it resolves /var/log/containers links into /var/log/pods and tails "
                    f"0 files without both",
                    remedy="mount hostPath /var/log/pods and /var/log/containers read-only at "
                    "the same paths in the agent container",
                )
            problem = check_access(self.reader, target, target.pod_path, via_link=False)
            if problem is not None:
                return Verdict(self.name, self.family, problem[0], problem[1], remedy=problem[2])
        return Verdict(self.name, self.family, Outcome.READS, reason, target.pod_path)
