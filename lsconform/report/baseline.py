"""Comparing a run with an earlier one: what regressed.

Pod names change on every rollout (the ReplicaSet hash and the random suffix), so results are
compared by check id and a target whose generated pod-name parts are replaced by `*`. Several
pods of one component then share a key, and the key's status is the worst of them.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# `<name>-<pod-template-hash>-<5 random characters>`: the hash is 5 to 10 characters of the
# alphabet Kubernetes uses for generated names (no vowels), the suffix exactly 5.
GENERATED_POD_NAME = re.compile(
    r"-[bcdfghjklmnpqrstvwxz2456789]{5,10}-[bcdfghjklmnpqrstvwxz2456789]{5}\b"
)
BAD = ("fail", "error")
GOOD = ("pass",)


@dataclass(frozen=True)
class Regression:
    """One thing that worked in the baseline and does not now.

    `kind` is `check` (a check that passed now fails or errors), `family` (a metric family the
    endpoint exposed before is missing now), `logs` (a container's logs are no longer
    collected) or `spans` (a service's spans stopped arriving).
    """

    kind: str
    check_id: str
    target: str
    before: str
    after: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def normalise_target(target: str) -> str:
    """Replace the generated parts of pod names so that targets match across rollouts."""
    return GENERATED_POD_NAME.sub("-*", target)


def _worst(statuses: list[str]) -> str:
    for status in ("fail", "error", "warn", "skip", "pass"):
        if status in statuses:
            return status
    return "pass"


def _index(report: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in report.get("results", []):
        key = (record["check_id"], normalise_target(record["target"]))
        grouped[key].append(record)
    return grouped


def _kind(check_id: str) -> str:
    if check_id.startswith("logs.") and "collect" in check_id:
        return "logs"
    if check_id.startswith("traces.") and ("arriv" in check_id or "span" in check_id):
        return "spans"
    return "check"


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[Regression]:
    """List what passed in `before` and fails or errors in `after`, plus lost families."""
    old, new = _index(before), _index(after)
    regressions: list[Regression] = []
    for key in sorted(old.keys() & new.keys()):
        check_id, target = key
        was = _worst([r["status"] for r in old[key]])
        now = _worst([r["status"] for r in new[key]])
        if was in GOOD and now in BAD:
            summary = next(r["summary"] for r in new[key] if r["status"] == now)
            regressions.append(Regression(_kind(check_id), check_id, target, was, now, summary))
        if check_id == "metrics.families":
            regressions.extend(_lost_families(check_id, target, old[key], new[key]))
    return regressions


def _missing(records: list[dict[str, Any]]) -> set[str]:
    missing: set[str] = set()
    for record in records:
        missing.update(record.get("evidence", {}).get("missing", []) or [])
    return missing


def _lost_families(
    check_id: str, target: str, old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> list[Regression]:
    lost = sorted(_missing(new) - _missing(old))
    return [
        Regression(
            "family", check_id, target, "present", "missing", f"metric family {family} disappeared"
        )
        for family in lost
    ]


def load_report(path: Path) -> dict[str, Any]:
    """Read a report.json, with a clear error when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read report {path}: {error}") from error
    if not isinstance(data, dict) or "results" not in data or "schema_version" not in data:
        raise ValueError(f"{path} is not an lsconform report.json (no schema_version/results)")
    major = str(data["schema_version"]).split(".", 1)[0]
    if major != "1":
        raise ValueError(
            f"{path} has report schema {data['schema_version']}; this lsconform reads 1.x"
        )
    return data
