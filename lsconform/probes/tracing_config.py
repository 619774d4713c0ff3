"""LangSmith's tracing settings: from the config ConfigMap, the user values and the pods' env.

The chart turns `config.observability.tracing` into keys of the `<fullname>-config` ConfigMap
(`OTEL_TRACING_ENABLED`, `OTLP_ENDPOINT`, `OTEL_EXPORTER`, `OTEL_USE_TLS`,
`OTEL_EXPORTER_OTLP_INSECURE`, `OTEL_ENVIRONMENT`); with tracing off it writes only the first two.
Services read them through `envFrom`, resolved once when a container starts, and an `env` entry
of the same name wins over `envFrom`. Helm ignores values keys the chart does not read, so
tracing settings under another key leave tracing off without any error.

Everything here works on Kubernetes objects as plain JSON dicts.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lsconform.constants import TRACING_KEYS

CHART_TRACING_PATH = ("config", "observability", "tracing")
CHART_TRACING_KEYS = ("enabled", "endpoint", "env", "exporter", "useTls")
ENABLE_HINT = (
    "set config.observability.tracing.enabled: true and config.observability.tracing.endpoint "
    "(e.g. http://<collector>.<namespace>.svc.cluster.local:4318/v1/traces) in the release "
    "values, then helm upgrade"
)
# Keys whose presence elsewhere in the values suggests tracing settings meant for the chart.
_TRACING_WORDS = ("tracing", "observability", "otel", "opentelemetry", "otlp")


@dataclass(frozen=True)
class TracingConfig:
    """The tracing keys of the config ConfigMap, typed. Absent keys are "" or None."""

    configmap: str
    enabled: bool
    endpoint: str
    exporter: str
    use_tls: bool | None
    insecure: bool | None
    environment: str
    keys: dict[str, str]

    @classmethod
    def from_configmap(cls, name: str, data: Mapping[str, str]) -> TracingConfig:
        """Read the tracing keys of a ConfigMap's `data`."""
        keys = {key: str(data[key]) for key in TRACING_KEYS if key in data}
        return cls(
            configmap=name,
            enabled=_flag(keys.get("OTEL_TRACING_ENABLED")) is True,
            endpoint=keys.get("OTLP_ENDPOINT", "").strip(),
            exporter=keys.get("OTEL_EXPORTER", "").strip().lower(),
            use_tls=_flag(keys.get("OTEL_USE_TLS")),
            insecure=_flag(keys.get("OTEL_EXPORTER_OTLP_INSECURE")),
            environment=keys.get("OTEL_ENVIRONMENT", ""),
            keys=keys,
        )

    @property
    def effective_exporter(self) -> str:
        """The exporter the services use: OTEL_EXPORTER, or the chart default `http`."""
        return self.exporter or "http"


def _flag(text: str | None) -> bool | None:
    if text is None:
        return None
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    return None


@dataclass(frozen=True)
class MisplacedSetting:
    """A tracing setting in the user values at a path the chart does not read."""

    path: str
    value: str
    expected: str


def find_misplaced_settings(values: Mapping[str, Any]) -> list[MisplacedSetting]:
    """Find tracing settings in user values under keys the chart ignores.

    Reports mappings named like tracing/observability/otel that hold tracing keys anywhere but
    `config.observability.tracing`, and unknown keys inside `config.observability.tracing`
    (such as `useTLS`), with the key the chart reads instead.
    """
    found: list[MisplacedSetting] = []
    for path, node in _walk(values, ()):
        if path == CHART_TRACING_PATH:
            found.extend(_unknown_chart_keys(node))
            continue
        if _is_chart_prefix(path) or not path or path[-1].lower() not in _TRACING_WORDS:
            continue
        if _holds_tracing_keys(node) and not _below(path, CHART_TRACING_PATH):
            found.append(
                MisplacedSetting(
                    path=".".join(path),
                    value=_summary(node),
                    expected=".".join(CHART_TRACING_PATH),
                )
            )
    return found


def _walk(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if not isinstance(node, Mapping):
        return
    for key, child in node.items():
        child_path = (*path, str(key))
        if isinstance(child, Mapping):
            yield child_path, child
            yield from _walk(child, child_path)


def _is_chart_prefix(path: tuple[str, ...]) -> bool:
    return path == CHART_TRACING_PATH[: len(path)]


def _below(path: tuple[str, ...], prefix: tuple[str, ...]) -> bool:
    return path[: len(prefix)] == prefix


def _holds_tracing_keys(node: Mapping[str, Any]) -> bool:
    keys = {str(key) for key in node}
    if keys & {"enabled", "endpoint", "exporter", "useTls"}:
        return True
    return any(isinstance(node.get(word), Mapping) for word in ("tracing", "traces"))


def _unknown_chart_keys(node: Mapping[str, Any]) -> list[MisplacedSetting]:
    found = []
    for key in node:
        if key in CHART_TRACING_KEYS:
            continue
        close = difflib.get_close_matches(str(key), CHART_TRACING_KEYS, n=1, cutoff=0.5)
        expected = (
            ".".join((*CHART_TRACING_PATH, close[0]))
            if close
            else ("one of " + ", ".join(CHART_TRACING_KEYS))
        )
        found.append(
            MisplacedSetting(
                path=".".join((*CHART_TRACING_PATH, str(key))),
                value=_summary(node[key]),
                expected=expected,
            )
        )
    return found


def _summary(value: Any, limit: int = 200) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True)
class EnvDifference:
    """A tracing key whose value in a container's effective env differs from the ConfigMap."""

    key: str
    expected: str | None
    actual: str | None
    source: str


def effective_env(
    container: Mapping[str, Any], configmaps: Mapping[str, Mapping[str, str]]
) -> dict[str, tuple[str | None, str]]:
    """Resolve a container spec's env as the kubelet does at start: envFrom, then env.

    Returns name → (value, source). A value from a Secret or the downward API is None (not
    read); `configmaps` maps ConfigMap names to their current data.
    """
    env: dict[str, tuple[str | None, str]] = {}
    for source in container.get("envFrom") or []:
        reference = source.get("configMapRef") or {}
        name = reference.get("name")
        if not name:
            continue
        prefix = str(source.get("prefix") or "")
        for key, value in (configmaps.get(name) or {}).items():
            env[prefix + key] = (str(value), f"envFrom ConfigMap {name}")
    for entry in container.get("env") or []:
        name = str(entry.get("name", ""))
        if "value" in entry:
            env[name] = (str(entry["value"]), "env")
            continue
        reference = (entry.get("valueFrom") or {}).get("configMapKeyRef")
        if reference:
            data = configmaps.get(reference.get("name", "")) or {}
            env[name] = (
                data.get(reference.get("key", "")),
                f"env from ConfigMap {reference.get('name')}",
            )
        else:
            env[name] = (None, "env from a Secret or the downward API")
    return env


def compare_env(
    config: TracingConfig, env: Mapping[str, tuple[str | None, str]]
) -> list[EnvDifference]:
    """List the ConfigMap's tracing keys that the container's env does not carry as is."""
    differences = []
    for key, expected in config.keys.items():
        actual, source = env.get(key, (None, "absent"))
        if actual != expected:
            differences.append(EnvDifference(key, expected, actual, source))
    return differences


def reads_configmap(container: Mapping[str, Any], configmap: str) -> bool:
    """Return whether a container takes env from the named ConfigMap (envFrom or a key ref)."""
    for source in container.get("envFrom") or []:
        if (source.get("configMapRef") or {}).get("name") == configmap:
            return True
    for entry in container.get("env") or []:
        reference = (entry.get("valueFrom") or {}).get("configMapKeyRef") or {}
        if reference.get("name") == configmap:
            return True
    return False


def parse_time(text: Any) -> datetime | None:
    """Parse a Kubernetes RFC 3339 timestamp (`2026-12-04T20:00:00Z`), or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def configmap_changed_at(configmap: Mapping[str, Any]) -> datetime | None:
    """The latest time the ConfigMap was written: its newest managedFields entry, else creation.

    The API server stamps `metadata.managedFields[].time` on every apply or update, so the
    newest entry is the last change of the data (or of its labels; that over-reports only).
    """
    metadata = configmap.get("metadata") or {}
    times = [parse_time(entry.get("time")) for entry in metadata.get("managedFields") or []]
    times.append(parse_time(metadata.get("creationTimestamp")))
    known = [stamp for stamp in times if stamp is not None]
    return max(known) if known else None


def container_started_at(pod: Mapping[str, Any], container: str) -> datetime | None:
    """When the named container's current run started (running.startedAt), else the pod's start."""
    status = pod.get("status") or {}
    for container_status in status.get("containerStatuses") or []:
        if container_status.get("name") == container:
            running = (container_status.get("state") or {}).get("running") or {}
            started = parse_time(running.get("startedAt"))
            if started is not None:
                return started
    return parse_time(status.get("startTime"))
