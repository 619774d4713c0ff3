"""The result of one check, as the plugin records it and every renderer reads it."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

# Evidence is bounded so that a huge or hostile response cannot bloat a report: a quoted line is
# cut to this many characters, and an evidence mapping keeps at most this many entries.
MAX_EVIDENCE_TEXT = 500
MAX_EVIDENCE_ITEMS = 40


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
    """Cut `text` to `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def bound_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    """Bound every string in an evidence mapping and the number of its entries."""
    bounded: dict[str, Any] = {}
    for index, (key, value) in enumerate(evidence.items()):
        if index >= MAX_EVIDENCE_ITEMS:
            bounded["_truncated"] = f"{len(evidence) - MAX_EVIDENCE_ITEMS} more entries"
            break
        bounded[key] = _bound_value(value)
    return bounded


def _bound_value(value: Any) -> Any:
    if isinstance(value, str):
        return bound_text(value)
    if isinstance(value, dict):
        return bound_evidence(value)
    if isinstance(value, (list, tuple)):
        items = [_bound_value(item) for item in value[:MAX_EVIDENCE_ITEMS]]
        if len(value) > MAX_EVIDENCE_ITEMS:
            items.append(f"… {len(value) - MAX_EVIDENCE_ITEMS} more")
        return items
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

    def to_dict(self) -> dict[str, Any]:
        """Convert to the JSON report's record shape (enums as their string values)."""
        data = asdict(self)
        data["area"] = self.area.value
        data["status"] = self.status.value
        data["severity"] = self.severity.value
        data["evidence"] = bound_evidence(self.evidence)
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
