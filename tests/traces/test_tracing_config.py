"""Tracing settings from the ConfigMap, the user values and the containers' env."""

from __future__ import annotations

from datetime import datetime, timezone

from lsconform.probes.tracing_config import (
    TracingConfig,
    compare_env,
    configmap_changed_at,
    container_started_at,
    effective_env,
    find_misplaced_settings,
    reads_configmap,
)

ON = {
    "OTEL_TRACING_ENABLED": "true",
    "OTLP_ENDPOINT": "http://gw.obs.svc.cluster.local:4318/v1/traces",
    "OTEL_ENVIRONMENT": "ls_self_hosted",
    "OTEL_EXPORTER": "http",
    "OTEL_USE_TLS": "false",
    "OTEL_EXPORTER_OTLP_INSECURE": "true",
    "LOG_LEVEL": "info",
}


def test_config_from_configmap_on() -> None:
    config = TracingConfig.from_configmap("langsmith-config", ON)
    assert config.enabled
    assert config.exporter == "http"
    assert config.use_tls is False
    assert config.insecure is True
    assert "LOG_LEVEL" not in config.keys
    assert len(config.keys) == 6


def test_config_from_configmap_off() -> None:
    config = TracingConfig.from_configmap(
        "langsmith-config", {"OTEL_TRACING_ENABLED": "false", "OTLP_ENDPOINT": ""}
    )
    assert not config.enabled
    assert config.endpoint == ""
    assert config.use_tls is None
    assert config.effective_exporter == "http"


def test_misplaced_top_level_observability() -> None:
    values = {
        "observability": {"tracing": {"enabled": True, "endpoint": "http://gw:4318/v1/traces"}},
        "config": {"logLevel": "info"},
    }
    found = find_misplaced_settings(values)
    paths = [f.path for f in found]
    assert "observability" in paths
    assert all(f.expected == "config.observability.tracing" for f in found)


def test_misplaced_config_tracing_and_unknown_keys() -> None:
    values = {
        "config": {
            "tracing": {"enabled": True},
            "observability": {"tracing": {"enabled": True, "useTLS": False, "endpoint": "x"}},
        }
    }
    found = {f.path: f for f in find_misplaced_settings(values)}
    assert "config.tracing" in found
    assert found["config.observability.tracing.useTLS"].expected == (
        "config.observability.tracing.useTls"
    )


def test_misplaced_none_for_chart_layout() -> None:
    values = {
        "config": {
            "observability": {"tracing": {"enabled": True, "endpoint": "x", "useTls": False}}
        }
    }
    assert find_misplaced_settings(values) == []


def test_effective_env_env_wins() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "langsmith-config"}}],
        "env": [
            {"name": "OTLP_ENDPOINT", "value": "http://other:4318/v1/traces"},
            {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        ],
    }
    env = effective_env(container, {"langsmith-config": ON})
    assert env["OTLP_ENDPOINT"] == ("http://other:4318/v1/traces", "env")
    assert env["OTEL_EXPORTER"] == ("http", "envFrom ConfigMap langsmith-config")
    assert env["API_KEY"][0] is None
    differences = compare_env(TracingConfig.from_configmap("langsmith-config", ON), env)
    assert [(d.key, d.source) for d in differences] == [("OTLP_ENDPOINT", "env")]
    assert reads_configmap(container, "langsmith-config")
    assert not reads_configmap(container, "other")


def test_compare_env_absent_keys() -> None:
    config = TracingConfig.from_configmap("langsmith-config", ON)
    differences = compare_env(config, {})
    assert len(differences) == 6
    assert all(d.actual is None and d.source == "absent" for d in differences)


def test_configmap_changed_at_takes_newest() -> None:
    configmap = {
        "metadata": {
            "creationTimestamp": "2026-12-04T10:00:00Z",
            "managedFields": [{"time": "2026-12-04T11:00:00Z"}, {"time": "2026-12-04T12:30:00Z"}],
        }
    }
    assert configmap_changed_at(configmap) == datetime(2026, 12, 4, 12, 30, tzinfo=timezone.utc)
    assert configmap_changed_at({"metadata": {}}) is None


def test_container_started_at() -> None:
    pod = {
        "status": {
            "startTime": "2026-12-04T09:00:00Z",
            "containerStatuses": [
                {"name": "api-server", "state": {"running": {"startedAt": "2026-12-04T09:00:05Z"}}},
            ],
        }
    }
    assert container_started_at(pod, "api-server") == datetime(
        2026, 12, 4, 9, 0, 5, tzinfo=timezone.utc
    )
    assert container_started_at(pod, "other") == datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)
