"""The result of one check, as the plugin records it and every renderer reads it."""

from __future__ import annotations

import enum
import re
from dataclasses import asdict, dataclass, field
from typing import Any

# Evidence is bounded so that a huge or hostile response cannot bloat a report: a quoted line is
# cut to this many characters, and an evidence mapping keeps at most this many entries.
MAX_EVIDENCE_TEXT = 500
MAX_EVIDENCE_ITEMS = 40


# Secrets that log lines and error messages quoted as evidence may carry. They are masked when a
# result is created, so no renderer, report file or xdist message ever holds them. The support
# bundle applies a fuller redaction of its own; this is the floor for everything a check prints.
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Password in a URL's user information: scheme://user:password@host
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/\s@]+):[^@\s/]+@"), r"\1:***@"),
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1***"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), "***JWT***"),
    (re.compile(r"\blsv2_[A-Za-z0-9]+_[A-Za-z0-9_]{8,}"), "lsv2_***"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), "sk-***"),
    (
        re.compile(
            r"(?i)((?:password|passwd|secret|token|api[_-]?key|license[_-]?key|salt)"
            r"[\"']?\s*[:=]\s*[\"']?)([^\"'\s,;}&]{4,})"
        ),
        r"\1***",
    ),
)


def mask_secrets(text: str) -> str:
    """Mask passwords in URLs, bearer tokens, JWTs, API keys and `password=...` assignments."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {key: _mask_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_value(item) for item in value]
    return value


class Status(str, enum.Enum):
    """Outcome of a check. `error` means the suite could not decide (timeout, forbidden)."""

    PASS = "pass"  # noqa: S105 (a status, not a password)
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"


class Severity(str, enum.Enum):
    """How much a non-pass result of a check matters to the run's verdict."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class Area(str, enum.Enum):
    """The telemetry area a check belongs to; also the pytest marker of its tests."""

    RELEASE = "release"
    METRICS = "metrics"
    LOGS = "logs"
    TRACES = "traces"


def bound_text(text: str, limit: int = MAX_EVIDENCE_TEXT) -> str:
    """Cut `text` to at most `limit` characters, saying how much was cut.

    The result is never longer than `limit`, so bounding twice changes nothing (results travel
    from xdist workers to the controller and are bounded again there).
    """
    if len(text) <= limit:
        return text
    suffix = f"… ({len(text) - limit} more characters)"
    return text[: max(limit - len(suffix), 0)] + suffix


def bound_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    """Bound every string in an evidence mapping and the number of its entries."""
    bounded: dict[str, Any] = {}
    items = list(evidence.items())
    for index, (key, value) in enumerate(items):
        if index >= MAX_EVIDENCE_ITEMS - 1 and len(items) > MAX_EVIDENCE_ITEMS:
            bounded["_truncated"] = f"{len(items) - index} more entries"
            break
        bounded[key] = _bound_value(value)
    return bounded


def _bound_value(value: Any) -> Any:
    if isinstance(value, str):
        return bound_text(value)
    if isinstance(value, dict):
        return bound_evidence(value)
    if isinstance(value, (list, tuple)):
        if len(value) <= MAX_EVIDENCE_ITEMS:
            return [_bound_value(item) for item in value]
        kept = [_bound_value(item) for item in value[: MAX_EVIDENCE_ITEMS - 1]]
        kept.append(f"… {len(value) - len(kept)} more")
        return kept
    return value


@dataclass
class CheckResult:
    """One check's verdict on one target, with what it saw and what to do about it.

    `check_id` is stable across releases of lsconform (`metrics.parse`); `target` names what was
    examined (`backend/langsmith-backend-5f7c9-abcde:1984/metrics`). `summary` is one line naming
    the cause; `remedy` is the fix; both are empty only on a pass. `duration` is in seconds.
    """

    check_id: str
    area: Area
    component: str
    target: str
    status: Status
    summary: str
    severity: Severity = Severity.CRITICAL
    evidence: dict[str, Any] = field(default_factory=dict)
    remedy: str = ""
    duration: float = 0.0
    nodeid: str = ""

    def __post_init__(self) -> None:
        self.summary = mask_secrets(self.summary)
        self.remedy = mask_secrets(self.remedy)
        self.evidence = bound_evidence(_mask_value(self.evidence))

    def to_dict(self) -> dict[str, Any]:
        """Convert to the JSON report's record shape (enums as their string values)."""
        data = asdict(self)
        data["area"] = self.area.value
        data["status"] = self.status.value
        data["severity"] = self.severity.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        """Rebuild a result from `to_dict` output (used for xdist transport and saved reports)."""
        return cls(
            check_id=data["check_id"],
            area=Area(data["area"]),
            component=data["component"],
            target=data["target"],
            status=Status(data["status"]),
            summary=data["summary"],
            severity=Severity(data.get("severity", "critical")),
            evidence=dict(data.get("evidence", {})),
            remedy=data.get("remedy", ""),
            duration=float(data.get("duration", 0.0)),
            nodeid=data.get("nodeid", ""),
        )
