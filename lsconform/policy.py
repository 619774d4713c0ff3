"""The severity policy: how much each check's non-pass matters, and what fails the run.

Every check has a default severity. Users raise or lower it by check id in configuration
(`lsconform_severity` lines in pytest.ini or `[tool.pytest.ini_options]`, or a YAML file given
with `--severity-file`). The run's verdict then follows this table (docs/severity-policy.md):

| result | critical | warning | info |
| --- | --- | --- | --- |
| fail | fails the run | fails with `--fail-on warn` | never fails |
| warn | fails with `--fail-on warn` | fails with `--fail-on warn` | never fails |
| error | fails with `--fail-on error` | fails with `--fail-on error` | never fails |
| pass, skip | never fails | never fails | never fails |

`--fail-on` adds kinds to `fail`, which always counts, except that `--fail-on regression` alone
makes no result fail the run by itself: only regressions against `--baseline` do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from lsconform.results import Severity, Status
from lsconform.settings import FailOn

DEFAULT_SEVERITY: dict[str, Severity] = {
    "release.revision": Severity.CRITICAL,
    "release.workload": Severity.CRITICAL,
    "release.restarts": Severity.CRITICAL,
    "metrics.reachable": Severity.CRITICAL,
    "metrics.content_type": Severity.CRITICAL,
    "metrics.parse": Severity.CRITICAL,
    "metrics.families": Severity.CRITICAL,
    "metrics.counters": Severity.WARNING,
    "metrics.budget": Severity.WARNING,
    "metrics.collectable": Severity.CRITICAL,
    "metrics.none_expected": Severity.INFO,
    "metrics.nginx_status": Severity.WARNING,
    "metrics.exporter": Severity.WARNING,
    "logs.output": Severity.CRITICAL,
}
# Checks not listed above (new areas add theirs) are critical unless configured otherwise.
FALLBACK_SEVERITY = Severity.CRITICAL


class PolicyError(ValueError):
    """A severity override that names an unknown level or is not `check.id=level`."""


def parse_overrides(lines: Iterable[str], source: str) -> dict[str, Severity]:
    """Parse `check.id=level` lines (blank lines and `#` comments ignored)."""
    overrides: dict[str, Severity] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        check_id, separator, level = (part.strip() for part in line.partition("="))
        if not separator or not check_id:
            raise PolicyError(
                f"{source} line {number}: invalid severity override {raw.strip()!r}; "
                "expected check.id=critical|warning|info"
            )
        overrides[check_id] = _level(level, f"{source} line {number}")
    return overrides


def load_severity_file(path: Path) -> dict[str, Severity]:
    """Read a YAML mapping of check id to level."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PolicyError(f"cannot read severity file {path}: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise PolicyError(f"severity file {path} must be a mapping of check id to level")
    return {str(key): _level(str(value), f"{path} key {key}") for key, value in data.items()}


def _level(text: str, where: str) -> Severity:
    try:
        return Severity(text.lower())
    except ValueError:
        raise PolicyError(
            f"{where}: invalid severity {text!r}; expected critical, warning or info"
        ) from None


class SeverityPolicy:
    """Severity per check id, and whether a result fails the run."""

    def __init__(self, overrides: Mapping[str, Severity] | None = None) -> None:
        self.overrides = dict(overrides or {})

    def severity(self, check_id: str) -> Severity:
        if check_id in self.overrides:
            return self.overrides[check_id]
        return DEFAULT_SEVERITY.get(check_id, FALLBACK_SEVERITY)

    def fails_run(self, status: Status, severity: Severity, fail_on: frozenset[FailOn]) -> bool:
        """Whether a result with this status and severity fails the run under `fail_on`."""
        if severity is Severity.INFO or status in (Status.PASS, Status.SKIP):
            return False
        if fail_on == frozenset({FailOn.REGRESSION}):
            return False
        if status is Status.FAIL:
            return severity is Severity.CRITICAL or FailOn.WARN in fail_on
        if status is Status.WARN:
            return FailOn.WARN in fail_on
        return FailOn.ERROR in fail_on
