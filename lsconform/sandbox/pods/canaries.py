"""Fake secrets that simulated services write to their logs, so that redaction can be tested.

Every value is invented and contains `CANARY`, so a test can search a support bundle for that
word and prove that nothing of the kind left the cluster unredacted. The shapes follow what real
logs leak: a bearer token in a request header, an e-mail address, a database URL with its
password, and a LangSmith API key inside a run's inputs.
"""

from __future__ import annotations

import json
from typing import Any

CANARY_MARK = "CANARY"
CANARY_BEARER_TOKEN = "eyJhbGciOiJIUzI1NiJ9.CANARY-bearer-token.c2lnbmF0dXJl"  # noqa: S105 - fake
CANARY_EMAIL = "canary.CANARY.user@example.com"
CANARY_DSN_PASSWORD = "CANARY-pg-password-93f1"  # noqa: S105 - fake
CANARY_DSN = f"postgresql://langsmith:{CANARY_DSN_PASSWORD}@langsmith-postgres:5432/postgres"
CANARY_API_KEY = "lsv2_pt_CANARY0000000000000000000000000_c0ffee0001"

CANARY_VALUES = (CANARY_BEARER_TOKEN, CANARY_EMAIL, CANARY_DSN_PASSWORD, CANARY_API_KEY)


def canary_records() -> list[dict[str, Any]]:
    """Return the structured log records that carry the canaries, as a service would log them."""
    return [
        {
            "level": "info",
            "msg": "forwarding request to platform-backend",
            "headers": {"authorization": f"Bearer {CANARY_BEARER_TOKEN}"},
        },
        {"level": "info", "msg": "user logged in", "email": CANARY_EMAIL},
        {"level": "info", "msg": "connecting to database", "dsn": CANARY_DSN},
        {
            "level": "debug",
            "msg": "run received",
            "payload": json.dumps({"inputs": {"api_key": CANARY_API_KEY}}),
        },
    ]
