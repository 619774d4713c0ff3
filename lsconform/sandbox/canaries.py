"""The fake secrets the sandbox plants, so that tests can prove a support bundle redacts them.

Every value is invented, contains `CANARY` and is distinctive enough to be searched for in any
encoding. `CANARIES` maps a name to each value. The sandbox puts them where real installations
keep or leak secrets:

- the Helm release values (`config.langsmithLicenseKey`, `config.apiKeySalt`,
  `config.basicAuth.jwtSecret`, the admin password, the insights and polly encryption keys), and
  so the `<fullname>-secrets` Secret that the chart renders from them;
- a literal `env` value on the backend container (`backend.deployment.extraEnv`): an API key,
  and a database URL with its password, which a careless user writes in values instead of a
  Secret;
- a ConfigMap key: the user-created ConfigMap `smtp-settings` carries `SMTP_PASSWORD`, which
  platform-backend reads through `configMapKeyRef`. The chart's own `<fullname>-config` has no
  place for user keys, so the canary sits in a ConfigMap of the user's, as in real clusters;
- log lines of the simulated backend and queue: a bearer token in a request header, an e-mail
  address, a database URL with its password (in a JSON record and in a plain error line), and a
  LangSmith API key inside a run's `inputs` (as JSON and as a Python repr);
- with the external-datastores profile, the passwords of the external PostgreSQL (in
  `postgres.external.connectionUrl`), Redis and ClickHouse.
"""

from __future__ import annotations

import json
from typing import Any

CANARY_MARK = "CANARY"

LICENSE_KEY = "lsc-CANARY-license-7f3a91c2e5b8d046"
API_KEY_SALT = "lsc-CANARY-api-key-salt-2b8e61d0c4f7"
JWT_SECRET = "lsc-CANARY-jwt-secret-9d04a7e3f15c"  # noqa: S105 - fake
ADMIN_PASSWORD = "lsc-CANARY-Admin-Passw0rd-5e2f"  # noqa: S105 - fake
INSIGHTS_ENCRYPTION_KEY = "lsc-CANARY-insights-key-3c7d18ab"
POLLY_ENCRYPTION_KEY = "lsc-CANARY-polly-key-81fe02c6"
ENV_API_KEY = "lsc-CANARY-analytics-api-key-d83c"
VALUES_DSN_PASSWORD = "lsc-CANARY-analytics-pg-a41e"  # noqa: S105 - fake
VALUES_DSN = (
    f"postgresql://analytics:{VALUES_DSN_PASSWORD}@analytics-db.example.internal:5432/events"
)
SMTP_PASSWORD = "lsc-CANARY-smtp-password-6b0d"  # noqa: S105 - fake
LOG_BEARER_TOKEN = "eyJhbGciOiJIUzI1NiJ9.CANARY-bearer-token.c2lnbmF0dXJl"  # noqa: S105 - fake
LOG_EMAIL = "canary.CANARY.user@example.com"
LOG_DSN_PASSWORD = "CANARY-pg-password-93f1"  # noqa: S105 - fake
LOG_DSN = f"postgresql://langsmith:{LOG_DSN_PASSWORD}@langsmith-postgres:5432/postgres"
LOG_API_KEY = "lsv2_pt_CANARY0000000000000000000000000_c0ffee0001"
EXTERNAL_PG_PASSWORD = "lsc-CANARY-external-pg-0d5a"  # noqa: S105 - fake
EXTERNAL_REDIS_PASSWORD = "lsc-CANARY-external-redis-77c1"  # noqa: S105 - fake
EXTERNAL_CLICKHOUSE_PASSWORD = "lsc-CANARY-external-ch-e4b9"  # noqa: S105 - fake

CANARIES: dict[str, str] = {
    "license_key": LICENSE_KEY,
    "api_key_salt": API_KEY_SALT,
    "jwt_secret": JWT_SECRET,
    "admin_password": ADMIN_PASSWORD,
    "insights_encryption_key": INSIGHTS_ENCRYPTION_KEY,
    "polly_encryption_key": POLLY_ENCRYPTION_KEY,
    "env_api_key": ENV_API_KEY,
    "values_dsn_password": VALUES_DSN_PASSWORD,
    "configmap_smtp_password": SMTP_PASSWORD,
    "log_bearer_token": LOG_BEARER_TOKEN,
    "log_email": LOG_EMAIL,
    "log_dsn_password": LOG_DSN_PASSWORD,
    "log_api_key": LOG_API_KEY,
    "external_pg_password": EXTERNAL_PG_PASSWORD,
    "external_redis_password": EXTERNAL_REDIS_PASSWORD,
    "external_clickhouse_password": EXTERNAL_CLICKHOUSE_PASSWORD,
}

# Canaries that only the external-datastores profile plants. Every profile plants the others.
EXTERNAL_DATASTORE_CANARIES = frozenset(
    {"external_pg_password", "external_redis_password", "external_clickhouse_password"}
)

# The user-created ConfigMap with an SMTP password in plain data.
SMTP_CONFIG_MAP = "smtp-settings"

# The credentials of the chart's required values.
CREDENTIAL_VALUES: dict[str, Any] = {
    "config": {
        "langsmithLicenseKey": LICENSE_KEY,
        "apiKeySalt": API_KEY_SALT,
        "basicAuth": {"initialOrgAdminPassword": ADMIN_PASSWORD, "jwtSecret": JWT_SECRET},
    },
    "insights": {"encryptionKey": INSIGHTS_ENCRYPTION_KEY},
    "polly": {"encryptionKey": POLLY_ENCRYPTION_KEY},
}

# Values a careless user adds: secrets as literal env values, and an env entry that reads the
# SMTP password from a ConfigMap.
CARELESS_VALUES: dict[str, Any] = {
    "backend": {
        "deployment": {
            "extraEnv": [
                {"name": "ANALYTICS_API_KEY", "value": ENV_API_KEY},
                {"name": "ANALYTICS_DATABASE_URL", "value": VALUES_DSN},
            ]
        }
    },
    "platformBackend": {
        "deployment": {
            "extraEnv": [
                {
                    "name": "SMTP_PASSWORD",
                    "valueFrom": {
                        "configMapKeyRef": {"name": SMTP_CONFIG_MAP, "key": "SMTP_PASSWORD"}
                    },
                }
            ]
        }
    },
}

# The external-datastores profile's connection settings.
EXTERNAL_POSTGRES_URL = (
    f"langsmith:{EXTERNAL_PG_PASSWORD}@postgres.example.internal:5432/langsmith?sslmode=require"
)
EXTERNAL_REDIS_URL = f"redis://:{EXTERNAL_REDIS_PASSWORD}@redis.example.internal:6379"


def smtp_config_map(namespace: str) -> dict[str, Any]:
    """Return the user-created ConfigMap that keeps an SMTP password in plain data."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": SMTP_CONFIG_MAP,
            "namespace": namespace,
            "labels": {"app": "smtp-relay"},
        },
        "data": {
            "SMTP_HOST": "smtp.example.com",
            "SMTP_PORT": "587",
            "SMTP_USER": "langsmith-notifications",
            "SMTP_PASSWORD": SMTP_PASSWORD,
        },
    }


def canary_records() -> list[dict[str, Any]]:
    """Return the structured log records that carry the canaries, as a service would log them."""
    return [
        {
            "level": "info",
            "msg": "forwarding request to platform-backend",
            "headers": {"authorization": f"Bearer {LOG_BEARER_TOKEN}"},
        },
        {"level": "info", "msg": "user logged in", "email": LOG_EMAIL},
        {"level": "info", "msg": "connecting to database", "dsn": LOG_DSN},
        {
            "level": "debug",
            "msg": "run received",
            "payload": json.dumps({"inputs": {"api_key": LOG_API_KEY}}),
        },
    ]


# The error line that carries the log DSN. A bundle keeps the line and drops the password.
LOG_ERROR_LINE = (
    f"sqlalchemy.exc.OperationalError: (psycopg.OperationalError) connection to {LOG_DSN} "
    'failed: FATAL:  password authentication failed for user "langsmith"'
)


def canary_text_lines() -> list[tuple[str, str]]:
    """Return the plain (not JSON) log lines that carry canaries, as (stream, text)."""
    payload = {"name": "ChatOpenAI", "inputs": {"api_key": LOG_API_KEY, "prompt": "hello"}}
    return [
        ("stderr", LOG_ERROR_LINE),
        ("stdout", f"DEBUG posting run to the ingest queue: {payload!r}"),
    ]
