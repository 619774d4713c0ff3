"""Where the sandbox plants its fake secrets: values, Secrets, a ConfigMap, env and logs."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from lsconform.sandbox import canaries, helm, profiles
from lsconform.sandbox.canaries import CANARIES, EXTERNAL_DATASTORE_CANARIES
from lsconform.sandbox.state import ClusterState

BuildState = Callable[..., Any]
NAMESPACE = "langsmith"


def secret_value(state: ClusterState, name: str, key: str, namespace: str = NAMESPACE) -> str:
    secret = state.get("secrets", "", namespace, name)
    assert secret is not None, name
    return base64.b64decode(secret["data"][key]).decode()


def plan_env(state: ClusterState, component: str) -> dict[str, str]:
    plan = next(p for p in state.plans if p["component"] == component)
    env: dict[str, str] = plan["containers"][0]["env"]
    return env


def deployed_values(state: ClusterState, release: str = "langsmith") -> dict[str, Any]:
    secrets, _ = state.list("secrets", "", NAMESPACE)
    latest = max(
        (s for s in secrets if s["metadata"]["name"].startswith(f"sh.helm.release.v1.{release}.")),
        key=lambda s: int(s["metadata"]["name"].rsplit(".v", 1)[1]),
    )
    config: dict[str, Any] = helm.decode_secret(latest)["config"]
    return config


def test_canaries_are_distinct_and_marked() -> None:
    values = list(CANARIES.values())
    assert len(set(values)) == len(values)
    for name, value in CANARIES.items():
        assert "CANARY" in value, name
        assert len(value) >= 16, name
    assert set(EXTERNAL_DATASTORE_CANARIES) <= set(CANARIES)


@pytest.mark.parametrize("profile", sorted(profiles.PROFILES))
def test_profile_values_carry_no_placeholder(profile: str) -> None:
    text = json.dumps(profiles.get_profile(profile).values)
    assert "PLACEHOLDER" not in text.upper()
    assert canaries.LICENSE_KEY in text
    assert canaries.VALUES_DSN in text


def test_secret_holds_value_canaries(build_state: BuildState) -> None:
    state = build_state().state
    assert (
        secret_value(state, "langsmith-secrets", "langsmith_license_key") == CANARIES["license_key"]
    )
    assert secret_value(state, "langsmith-secrets", "api_key_salt") == CANARIES["api_key_salt"]
    assert secret_value(state, "langsmith-secrets", "jwt_secret") == CANARIES["jwt_secret"]
    assert (
        secret_value(state, "langsmith-secrets", "initial_org_admin_password")
        == CANARIES["admin_password"]
    )


def test_release_values_hold_canaries(build_state: BuildState) -> None:
    config = deployed_values(build_state().state)
    assert config["config"]["langsmithLicenseKey"] == canaries.LICENSE_KEY
    assert config["config"]["apiKeySalt"] == canaries.API_KEY_SALT
    assert config["config"]["basicAuth"]["jwtSecret"] == canaries.JWT_SECRET
    extra_env = {e["name"]: e for e in config["backend"]["deployment"]["extraEnv"]}
    assert extra_env["ANALYTICS_DATABASE_URL"]["value"] == canaries.VALUES_DSN
    assert f":{canaries.VALUES_DSN_PASSWORD}@" in canaries.VALUES_DSN


def test_literal_env_value_on_backend(build_state: BuildState) -> None:
    state = build_state().state
    deployment = state.get("deployments", "apps", NAMESPACE, "langsmith-backend")
    assert deployment is not None
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    literal = {e["name"]: e.get("value") for e in env}
    assert literal["ANALYTICS_API_KEY"] == canaries.ENV_API_KEY
    assert plan_env(state, "backend")["ANALYTICS_API_KEY"] == canaries.ENV_API_KEY


def test_config_map_holds_smtp_password(build_state: BuildState) -> None:
    state = build_state().state
    config_map = state.get("configmaps", "", NAMESPACE, canaries.SMTP_CONFIG_MAP)
    assert config_map is not None
    assert config_map["data"]["SMTP_PASSWORD"] == canaries.SMTP_PASSWORD
    assert config_map["data"]["SMTP_HOST"] == "smtp.example.com"
    # Not part of the Helm release: created by hand next to it.
    assert "meta.helm.sh/release-name" not in (config_map["metadata"].get("annotations") or {})
    assert plan_env(state, "platform-backend")["SMTP_PASSWORD"] == canaries.SMTP_PASSWORD


def test_external_datastores_hold_canaries(build_state: BuildState) -> None:
    state = build_state(profile="external-datastores").state
    postgres_url = secret_value(state, "langsmith-postgres", "connection_url")
    assert f":{canaries.EXTERNAL_PG_PASSWORD}@" in postgres_url
    redis_url = secret_value(state, "langsmith-redis", "connection_url")
    assert f":{canaries.EXTERNAL_REDIS_PASSWORD}@" in redis_url
    assert (
        secret_value(state, "langsmith-clickhouse", "clickhouse_password")
        == canaries.EXTERNAL_CLICKHOUSE_PASSWORD
    )


def test_log_canaries_cover_every_log_value() -> None:
    records = json.dumps(canaries.canary_records())
    lines = "\n".join(text for _, text in canaries.canary_text_lines())
    for name in ("log_bearer_token", "log_email", "log_dsn_password", "log_api_key"):
        assert CANARIES[name] in records + lines, name
    assert canaries.LOG_DSN in lines
    assert "'inputs': {'api_key': " in lines
