"""One immutable Settings object: everything a run was asked to do, built from options and env."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path


class Access(str, enum.Enum):
    """The way the suite reaches HTTP endpoints inside the cluster."""

    AUTO = "auto"
    PROXY = "proxy"
    PORT_FORWARD = "port-forward"
    DIRECT = "direct"


class FailOn(str, enum.Enum):
    """Result kinds that make the run fail (exit status 1)."""

    FAIL = "fail"
    WARN = "warn"
    ERROR = "error"
    REGRESSION = "regression"


DEFAULT_PROBE_TIMEOUT = 10.0  # seconds; Prometheus' default scrape_timeout
DEFAULT_BODY_LIMIT = 16 * 1024 * 1024  # bytes; a common body_size_limit for Prometheus scrapes
DEFAULT_SAMPLE_LIMIT = 50_000  # series per scrape; a typical sample_limit in scrape configs
DEFAULT_CONCURRENCY = 16  # requests in flight at once against the API server


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The run's target and the way it reaches the cluster.

    `namespace` is the LangSmith release's namespace; `release` picks one release when several
    share it. Durations are in seconds and sizes in bytes.
    """

    namespace: str | None = None
    release: str | None = None
    kubeconfig: Path | None = None
    context: str | None = None
    in_cluster: bool = False
    access: Access = Access.AUTO
    probe_timeout: float = DEFAULT_PROBE_TIMEOUT
    body_limit: int = DEFAULT_BODY_LIMIT
    sample_limit: int = DEFAULT_SAMPLE_LIMIT
    concurrency: int = DEFAULT_CONCURRENCY
    exporter_namespaces: tuple[str, ...] = ()
    report_dir: Path | None = None
    fail_on: frozenset[FailOn] = field(default_factory=lambda: frozenset({FailOn.FAIL}))
    sandbox: bool = False
    sandbox_profile: str = "default"
    sandbox_faults: tuple[str, ...] = ()
    scrape_interval: float = 2.0
    traces_wait: float = 8.0
    trace_backend: str | None = None
    require_tracing: bool = False
    baseline: Path | None = None
    log_collector_configs: tuple[Path, ...] = ()
    severity_overrides: tuple[tuple[str, str], ...] = ()

    @property
    def active(self) -> bool:
        """Whether the run has a target: a namespace or a sandbox to check."""
        return self.namespace is not None or self.sandbox
