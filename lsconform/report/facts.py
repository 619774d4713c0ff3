"""The release facts every report shows, read from a Release without depending on its class."""

from __future__ import annotations

from typing import Any

from lsconform.results import CheckResult, Status

STATUS_ORDER = (Status.FAIL, Status.ERROR, Status.WARN, Status.SKIP, Status.PASS)


def release_facts(release: Any) -> dict[str, Any] | None:
    """Return the release's identifying facts as a JSON-safe mapping, or None without a release."""
    if release is None:
        return None
    facts: dict[str, Any] = {}
    for key in (
        "name",
        "namespace",
        "revision",
        "status",
        "chart_name",
        "chart_version",
        "app_version",
        "fullname",
        "source",
    ):
        value = getattr(release, key, None)
        if value is not None:
            facts[key] = value
    components = getattr(release, "components", None) or []
    facts["components"] = sorted(
        getattr(c, "suffix", str(c)) for c in components if getattr(c, "enabled", True)
    )
    return facts


def count_by_status(results: list[CheckResult]) -> dict[str, int]:
    """Count results per status, with every status present."""
    counts = {status.value: 0 for status in Status}
    for result in results:
        counts[result.status.value] += 1
    return counts


def sort_results(results: list[CheckResult]) -> list[CheckResult]:
    """Order results by area, component, check id and target: the same order on every run."""
    return sorted(results, key=lambda r: (r.area.value, r.component, r.check_id, r.target))
