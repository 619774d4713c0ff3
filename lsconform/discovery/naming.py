"""The chart's naming rules, used only to explain why a name differs from what a user expects.

Discovery never builds the name of an object it looks up from these rules: it reads names from
the release's manifest and from labels. These functions reproduce the chart's
`langsmith.fullname` and `langsmith.name` helpers (chart `langsmith` 0.17.0-rc.12,
`templates/_helpers.tpl`) so a report can say "the Service is `prod-ls-langsmith-backend`
because the release name `prod-ls` does not contain `langsmith`".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lsconform.constants import CHART_NAME

# Kubernetes object names that are DNS labels (Services among them) are at most 63 characters,
# so Helm charts cut generated names there.
DNS_LABEL_MAX = 63


def _trunc_trim(text: str) -> str:
    """Cut to 63 characters and drop trailing '-', like the chart's `trunc 63 | trimSuffix`."""
    return text[:DNS_LABEL_MAX].rstrip("-")


def chart_name(values: Mapping[str, Any]) -> str:
    """The `app.kubernetes.io/name` label value: `nameOverride` or `langsmith`, cut to 63."""
    override = values.get("nameOverride") or ""
    return _trunc_trim(str(override) or CHART_NAME)


def fullname(release: str, values: Mapping[str, Any]) -> str:
    """The prefix of every object name: `fullnameOverride`, else the release name if it
    contains the chart name (a substring test), else `<release>-<name>`; cut to 63."""
    override = values.get("fullnameOverride") or ""
    if override:
        return _trunc_trim(str(override))
    name = str(values.get("nameOverride") or "") or CHART_NAME
    if name in release:
        return _trunc_trim(release)
    return _trunc_trim(f"{release}-{name}")


def explain_fullname(release: str, values: Mapping[str, Any]) -> str:
    """Say in one sentence which rule produced the fullname for these values."""
    result = fullname(release, values)
    if values.get("fullnameOverride"):
        return f"fullnameOverride sets the name prefix to {result!r}"
    name = chart_name(values)
    source = "nameOverride" if values.get("nameOverride") else "the chart name"
    if name in release:
        return (
            f"release name {release!r} contains {source} {name!r}, so the name prefix is "
            f"the release name {result!r}"
        )
    return (
        f"release name {release!r} does not contain {source} {name!r}, so the name prefix "
        f"is {result!r}"
    )
