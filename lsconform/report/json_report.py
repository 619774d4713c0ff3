"""report.json: one versioned document with the release facts and every check result."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from lsconform import __version__
from lsconform.report.facts import count_by_status, release_facts, sort_results
from lsconform.results import CheckResult
from lsconform.settings import Settings

# Bump the major version when a field is removed or changes meaning; the minor version when
# fields are added. docs/report-schema.md describes every field.
SCHEMA_VERSION = "1.0"


def build_report(
    *,
    release: Any,
    results: list[CheckResult],
    settings: Settings,
    duration: float,
    discovery_problem: str | None,
) -> dict[str, Any]:
    """Build the report document (see docs/report-schema.md)."""
    ordered = sort_results(results)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "lsconform", "version": __version__},
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "duration": round(duration, 3),
        "target": {
            "namespace": settings.namespace,
            "context": settings.context,
            "sandbox": (
                {"profile": settings.sandbox_profile, "faults": list(settings.sandbox_faults)}
                if settings.sandbox
                else None
            ),
        },
        "release": release_facts(release),
        "discovery_problem": discovery_problem,
        "summary": count_by_status(ordered),
        "results": [result.to_dict() for result in ordered],
    }


def write_json_report(path: Path, **fields: Any) -> dict[str, Any]:
    """Write report.json to `path` and return the document."""
    document = build_report(**fields)
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return document
