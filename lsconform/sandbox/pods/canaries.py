"""The log canaries the simulated services write; the values live in `lsconform.sandbox.canaries`.

Every value is invented and contains `CANARY`, so a test can search a support bundle for that
word and prove that nothing of the kind left the cluster unredacted.
"""

from __future__ import annotations

from lsconform.sandbox.canaries import (
    CANARY_MARK,
    LOG_API_KEY,
    LOG_BEARER_TOKEN,
    LOG_DSN,
    LOG_DSN_PASSWORD,
    LOG_EMAIL,
    canary_records,
    canary_text_lines,
)

CANARY_BEARER_TOKEN = LOG_BEARER_TOKEN
CANARY_EMAIL = LOG_EMAIL
CANARY_DSN_PASSWORD = LOG_DSN_PASSWORD
CANARY_DSN = LOG_DSN
CANARY_API_KEY = LOG_API_KEY

CANARY_VALUES = (CANARY_BEARER_TOKEN, CANARY_EMAIL, CANARY_DSN_PASSWORD, CANARY_API_KEY)

__all__ = [
    "CANARY_API_KEY",
    "CANARY_BEARER_TOKEN",
    "CANARY_DSN",
    "CANARY_DSN_PASSWORD",
    "CANARY_EMAIL",
    "CANARY_MARK",
    "CANARY_VALUES",
    "canary_records",
    "canary_text_lines",
]
