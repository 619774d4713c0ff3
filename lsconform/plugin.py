"""pytest hooks only: options → Settings, the sandbox, discovery, parametrisation, results.

Everything below this module is plain Python. The hooks here turn options into a `Settings`
and start the sandbox when asked. They discover the release once, on the xdist controller, which
hands the serialised Release to its workers. They parametrise the checks over the Release's
targets and collect every check's `CheckResult` for the renderers.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lsconform import results as results_module
from lsconform.policy import SeverityPolicy
from lsconform.results import Area, CheckResult, Severity, Status
from lsconform.settings import (
    DEFAULT_PROBE_TIMEOUT,
    Access,
    FailOn,
    Settings,
)

log = logging.getLogger(__name__)

# The conformance checks: the repository's checks/ folder in a checkout or editable install,
# and their copy inside the package (`lsconform/_checks`, a link in the repository) in a wheel.
_REPOSITORY_CHECKS = Path(__file__).resolve().parent.parent / "checks"
CHECKS_DIR = (
    _REPOSITORY_CHECKS
    if _REPOSITORY_CHECKS.is_dir()
    else Path(__file__).resolve().parent / "_checks"
)
RESULT_PROPERTY = "lsconform_result"
RELEASE_WORKERINPUT = "lsconform_release"
NOT_ACTIVE_REASON = (
    "lsconform checks need a target: run `pytest --namespace <namespace>` against a cluster, "
    "or `pytest --sandbox` to check the bundled sandbox release"
)

session_key = pytest.StashKey["LsconformSession"]()


# ---------------------------------------------------------------------------------------------
# Option parsing


def _positive_seconds(flag: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise pytest.UsageError(
                f"{flag}: invalid value {text!r}; expected a number of seconds, such as 10"
            ) from None
        if not value > 0:
            raise pytest.UsageError(f"{flag}: invalid value {text!r}; expected seconds above 0")
        return value

    return parse


def _access(text: str) -> Access:
    try:
        return Access(text)
    except ValueError:
        choices = ", ".join(a.value for a in Access)
        raise pytest.UsageError(
            f"--access: invalid value {text!r}; expected one of {choices}"
        ) from None


def _fail_on(text: str) -> frozenset[FailOn]:
    kinds: set[FailOn] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            kinds.add(FailOn(part))
        except ValueError:
            choices = ", ".join(k.value for k in FailOn)
            raise pytest.UsageError(
                f"--fail-on: invalid value {part!r}; expected a comma-separated list of {choices}"
            ) from None
    if not kinds:
        raise pytest.UsageError("--fail-on: empty value; expected for example fail or fail,warn")
    return frozenset(kinds)


def _namespace(text: str) -> str:
    # A namespace name is an RFC 1123 DNS label: lower-case alphanumerics and '-', at most 63.
    stripped = text.strip()
    valid = (
        0 < len(stripped) <= 63
        and stripped[0].isalnum()
        and stripped[-1].isalnum()
        and all(c.islower() or c.isdigit() or c == "-" for c in stripped)
    )
    if not valid:
        raise pytest.UsageError(
            f"--namespace: invalid value {text!r}; a namespace is a DNS label of at most 63 "
            "lower-case letters, digits and '-'"
        )
    return stripped


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lsconform", "lsconform: LangSmith telemetry conformance")
    group.addoption(
        "--namespace",
        type=_namespace,
        default=None,
        help="namespace of the LangSmith Helm release to check",
    )
    group.addoption(
        "--release",
        default=None,
        help="name of the Helm release to check when the namespace contains several",
    )
    group.addoption(
        "--kubeconfig",
        default=None,
        help="path of the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)",
    )
    group.addoption("--context", default=None, help="kubeconfig context to use")
    group.addoption(
        "--access",
        type=_access,
        default=Access.AUTO,
        help="how to reach endpoints in the cluster: auto (default), proxy (the API server's "
        "service and pod proxy), port-forward, or direct (in-cluster DNS)",
    )
    group.addoption(
        "--probe-timeout",
        type=_positive_seconds("--probe-timeout"),
        default=DEFAULT_PROBE_TIMEOUT,
        help="seconds each probe may take, like Prometheus' scrape_timeout (default 10)",
    )
    group.addoption(
        "--exporter-namespace",
        action="append",
        default=[],
        help="namespace to search for Postgres and Redis exporters (repeatable; default: the "
        "release namespace and every namespace named like *observability* or *monitoring*)",
    )
    group.addoption(
        "--scrape-interval",
        type=_positive_seconds("--scrape-interval"),
        default=2.0,
        help="seconds between the two scrapes compared for counters that decrease (default 2)",
    )
    group.addoption(
        "--traces-wait",
        type=_positive_seconds("--traces-wait"),
        default=8.0,
        help="maximum seconds to wait for spans to arrive (default 8; ends early on evidence)",
    )
    group.addoption(
        "--trace-backend",
        default=None,
        help="base URL of a Tempo or Jaeger query API to look for spans in",
    )
    group.addoption(
        "--require-tracing",
        action="store_true",
        default=False,
        help="fail when the release has tracing turned off (default: report it as off)",
    )
    group.addoption(
        "--sandbox",
        action="store_true",
        default=False,
        help="start the bundled sandbox release for this session and check it",
    )
    group.addoption(
        "--sandbox-profile",
        default="default",
        help="sandbox profile: default, tracing-off, fullname-override, external-datastores, "
        "control-plane",
    )
    group.addoption(
        "--sandbox-fault",
        action="append",
        default=[],
        help="switch on a named sandbox fault (repeatable; `lsconform sandbox --list-faults`)",
    )
    group.addoption(
        "--report-dir",
        default=None,
        help="directory to write report.json (and the other report files) into",
    )
    group.addoption(
        "--fail-on",
        type=_fail_on,
        default=frozenset({FailOn.FAIL}),
        help="comma-separated result kinds that fail the run: fail (default), warn, error, "
        "regression",
    )
    group.addoption(
        "--support-bundle",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="after the checks, write a redacted support bundle (to PATH, a file or folder; "
        "default ./lsconform-bundle-<namespace>-<time>.tar.gz)",
    )
    group.addoption(
        "--bundle-format",
        choices=("tar.gz", "zip"),
        default="tar.gz",
        help="archive format of --support-bundle (default tar.gz)",
    )
    group.addoption(
        "--no-redact",
        action="store_true",
        default=False,
        help="write the support bundle without redaction (it then contains secrets; a warning is "
        "put in the bundle and printed)",
    )
    group.addoption(
        "--log-collector-config",
        action="append",
        default=[],
        help="a log collector configuration file to evaluate as well as those found in the "
        "cluster (OpenTelemetry Collector, Fluent Bit or Datadog; repeatable)",
    )
    group.addoption(
        "--baseline",
        default=None,
        help="report.json of an earlier run to compare with; regressions are reported (and "
        "fail the run with --fail-on regression)",
    )
    group.addoption(
        "--severity-file",
        default=None,
        help="YAML file mapping check ids to critical, warning or info",
    )
    parser.addini(
        "lsconform_severity",
        "severity overrides, one `check.id=critical|warning|info` per line",
        "linelist",
        [],
    )
    for area in Area:
        parser.addini(
            f"lsconform_{area.value}_enabled", f"run the {area.value} checks", "bool", True
        )


def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    """Point collection at the bundled checks when a target is given and no path is."""
    namespace = early_config.known_args_namespace
    wants_checks = getattr(namespace, "namespace", None) or getattr(namespace, "sandbox", False)
    if wants_checks and not getattr(namespace, "file_or_dir", None) and CHECKS_DIR.is_dir():
        args.append(str(CHECKS_DIR))


def build_settings(config: pytest.Config) -> Settings:
    """Turn the parsed options into one frozen Settings, rejecting conflicting combinations."""
    option = config.option
    if option.namespace and option.sandbox:
        raise pytest.UsageError(
            "--namespace and --sandbox conflict: --sandbox checks the sandbox's own namespace; "
            "drop one of them"
        )
    if option.sandbox_fault and not option.sandbox:
        raise pytest.UsageError("--sandbox-fault needs --sandbox")
    kubeconfig = Path(option.kubeconfig).expanduser() if option.kubeconfig else None
    if kubeconfig is not None and not kubeconfig.is_file():
        raise pytest.UsageError(f"--kubeconfig: file not found: {kubeconfig}")
    from lsconform.cluster.client import is_in_cluster

    # Like kubectl inside a pod: without an explicit kubeconfig or context, use the pod's
    # service account when the API server's address and the token file are present.
    in_cluster = (
        kubeconfig is None
        and option.context is None
        and not option.sandbox
        and "KUBECONFIG" not in os.environ
        and is_in_cluster(os.environ)
    )
    baseline = Path(option.baseline) if option.baseline else None
    if baseline is not None and not baseline.is_file():
        raise pytest.UsageError(f"--baseline: file not found: {baseline}")
    if option.fail_on == frozenset({FailOn.REGRESSION}) and baseline is None:
        raise pytest.UsageError("--fail-on regression needs --baseline OLD.json")
    collector_configs = tuple(Path(p) for p in option.log_collector_config)
    for path in collector_configs:
        if not path.is_file():
            raise pytest.UsageError(f"--log-collector-config: file not found: {path}")
    return Settings(
        log_collector_configs=collector_configs,
        in_cluster=in_cluster,
        baseline=baseline,
        severity_overrides=tuple(sorted(_severity_overrides(config).items())),
        namespace=option.namespace,
        release=option.release,
        kubeconfig=kubeconfig,
        context=option.context,
        access=option.access,
        probe_timeout=option.probe_timeout,
        exporter_namespaces=tuple(option.exporter_namespace),
        report_dir=Path(option.report_dir) if option.report_dir else None,
        fail_on=option.fail_on,
        sandbox=option.sandbox,
        sandbox_profile=option.sandbox_profile,
        sandbox_faults=tuple(option.sandbox_fault),
        scrape_interval=option.scrape_interval,
        traces_wait=option.traces_wait,
        trace_backend=option.trace_backend,
        require_tracing=option.require_tracing,
    )


def _severity_overrides(config: pytest.Config) -> dict[str, str]:
    from lsconform.policy import PolicyError, load_severity_file, parse_overrides

    try:
        overrides = parse_overrides(config.getini("lsconform_severity"), "lsconform_severity")
        if config.option.severity_file:
            path = Path(config.option.severity_file)
            if not path.is_file():
                raise pytest.UsageError(f"--severity-file: file not found: {path}")
            overrides.update(load_severity_file(path))
    except PolicyError as error:
        raise pytest.UsageError(str(error)) from None
    return {check_id: level.value for check_id, level in overrides.items()}


# ---------------------------------------------------------------------------------------------
# Session state


class LsconformSession:
    """Per-process state of a run: settings, the sandbox, the Release and the results."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.sandbox: Any = None
        self.release: Any = None
        self.discovery_problem: str | None = None
        self.discovery_undecided = False
        self.progress: Any = None
        self.regressions: list[Any] = []
        self.document: dict[str, Any] | None = None
        self.bundle_message: str | None = None
        self.results: list[CheckResult] = []
        self.started = time.monotonic()
        self.finished: float | None = None
        self._client: Any = None
        self._transports: dict[str, Any] = {}

    @property
    def policy(self) -> SeverityPolicy:
        """The severity policy of the run's settings (defaults plus the user's overrides)."""
        overrides = {
            check_id: Severity(level) for check_id, level in self.settings.severity_overrides
        }
        return SeverityPolicy(overrides)

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def start_sandbox(self) -> None:
        # The plugin starts the sandbox as a separate process; the suite never imports it
        # beyond this entry point, so the two stay independent.
        from lsconform.sandbox import Sandbox

        self.sandbox = Sandbox(
            profile=self.settings.sandbox_profile, faults=list(self.settings.sandbox_faults)
        )
        self.sandbox.__enter__()
        self.settings = _with_sandbox(self.settings, self.sandbox)

    def stop_sandbox(self) -> None:
        if self.sandbox is not None:
            self.sandbox.__exit__(None, None, None)
            self.sandbox = None

    def client(self) -> Any:
        if self._client is None:
            from lsconform.cluster.client import ClusterClient

            self._client = ClusterClient.from_settings(self.settings)
        return self._client

    def transport(self, name: str) -> Any:
        if name not in self._transports:
            from lsconform.cluster.transport import make_transport

            self._transports[name] = make_transport(name, self.client(), self.settings)
        return self._transports[name]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Gather results from this process's tests and, on the xdist controller, the workers'."""
        self._advance_progress(report)
        if self.is_worker or report.when != "call":
            return
        for name, value in report.user_properties:
            if name == RESULT_PROPERTY:
                self.results.append(CheckResult.from_dict(json.loads(str(value))))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Start the live progress display when the run checks a release on a terminal."""
        checks = [item for item in session.items if _is_check(item)]
        terminal = self.config.get_terminal_writer()
        wanted = (
            self.settings.active
            and not self.is_worker
            and checks
            and terminal.hasmarkup
            and self.config.get_verbosity() <= 0
            and not self.config.getoption("collectonly")
        )
        if not wanted:
            return
        from lsconform.report.progress import ProgressDisplay

        self.progress = ProgressDisplay(len(session.items), terminal._file)
        self.progress.start()

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        """Hide pytest's per-test letters while the progress display draws the bar."""
        if self.progress is None:
            return None
        if report.when == "call" or (report.when == "setup" and report.skipped):
            return report.outcome, "", ""
        if report.when == "setup" and report.passed:
            return "", "", ""
        if report.when == "teardown" and report.passed:
            return "", "", ""
        return None

    def _advance_progress(self, report: pytest.TestReport) -> None:
        if self.progress is None:
            return
        finished = report.when == "call" or (report.when == "setup" and not report.passed)
        if finished:
            self.progress.advance(report.nodeid.split("::")[-1], failed=report.failed)

    def stop_progress(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def write_support_bundle(self, session: pytest.Session) -> None:
        """Write the bundle the user asked for with --support-bundle; a leak fails the run."""
        from lsconform.bundle.writer import BundleLeakError, write_bundle

        option = self.config.option
        report_dir = self.settings.report_dir
        html = report_dir / "report.html" if report_dir is not None else None
        try:
            summary = write_bundle(
                self.client(),
                self.release if self.release is not None else self.settings.namespace,
                option.support_bundle or None,
                results=self.results,
                report_json=json.dumps(self.document, indent=2),
                report_html=html if html is not None and html.is_file() else None,
                redact=not option.no_redact,
                fmt=option.bundle_format,
            )
        except BundleLeakError as error:
            self.bundle_message = f"SUPPORT BUNDLE NOT WRITTEN: {error}"
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return
        lines = [
            f"Support bundle: {summary.path} ({summary.files} files, {summary.size} bytes, "
            f"{summary.errors} collection errors, redaction {'on' if summary.redacted else 'OFF'})"
        ]
        lines.extend(f"  warning: {warning}" for warning in summary.warnings)
        self.bundle_message = "\n".join(lines)

    def discover(self) -> None:
        from lsconform.assess.release import discover_release

        outcome = discover_release(self.client(), self.settings)
        self.release = outcome.release
        self.discovery_problem = outcome.problem
        self.discovery_undecided = outcome.undecided
        if outcome.usage_error:
            raise pytest.UsageError(outcome.usage_error)


def _with_sandbox(settings: Settings, sandbox: Any) -> Settings:
    from dataclasses import replace

    return replace(settings, namespace=sandbox.namespace, kubeconfig=Path(sandbox.kubeconfig))


def get_session(config: pytest.Config) -> LsconformSession | None:
    return config.stash.get(session_key, None)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    for area in Area:
        config.addinivalue_line("markers", f"{area.value}: lsconform {area.value} checks")
    settings = build_settings(config)
    session = LsconformSession(config, settings)
    config.stash[session_key] = session
    config.pluginmanager.register(session, "lsconform-session")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(session), "lsconform-xdist")
    if not settings.active:
        return
    if session.is_worker:
        payload = config.workerinput.get(RELEASE_WORKERINPUT)  # type: ignore[attr-defined]
        session.settings = Settings(**_settings_from_json(payload["settings"]))
        session.discovery_problem = payload["problem"]
        session.discovery_undecided = payload["undecided"]
        if payload["release"] is not None:
            from lsconform.discovery.release import Release

            session.release = Release.from_dict(payload["release"])
        return
    if settings.sandbox:
        session.start_sandbox()
    try:
        session.discover()
    except pytest.UsageError as error:
        # A pipeline reading report.json still gets one, saying why nothing was checked.
        session.discovery_problem = str(error)
        if session.settings.report_dir is not None:
            from lsconform.report.json_report import build_report

            document = build_report(
                release=None,
                results=[],
                settings=session.settings,
                duration=time.monotonic() - session.started,
                discovery_problem=str(error),
            )
            write_report_files(session.settings.report_dir, document)
        session.stop_sandbox()
        raise
    except BaseException:
        # pytest does not call pytest_unconfigure when configuration fails, so stop here.
        session.stop_sandbox()
        raise


def pytest_unconfigure(config: pytest.Config) -> None:
    session = get_session(config)
    if session is not None:
        session.stop_sandbox()


def _settings_to_json(settings: Settings) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in vars(settings).items():
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, (Access,)):
            value = value.value
        elif isinstance(value, frozenset):
            value = sorted(v.value for v in value)
        elif isinstance(value, tuple):
            value = list(value)
        data[key] = value
    return data


def _settings_from_json(data: dict[str, Any]) -> dict[str, Any]:
    values = dict(data)
    for key in ("kubeconfig", "report_dir", "baseline"):
        if values.get(key) is not None:
            values[key] = Path(values[key])
    values["access"] = Access(values["access"])
    values["fail_on"] = frozenset(FailOn(v) for v in values["fail_on"])
    for key in ("exporter_namespaces", "sandbox_faults"):
        values[key] = tuple(values[key])
    values["log_collector_configs"] = tuple(Path(p) for p in values["log_collector_configs"])
    values["severity_overrides"] = tuple(tuple(pair) for pair in values["severity_overrides"])
    return values


class XdistHooks:
    """Hands the controller's discovery to each worker and gathers results from workers."""

    def __init__(self, session: LsconformSession) -> None:
        self.session = session

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        release = self.session.release
        node.workerinput[RELEASE_WORKERINPUT] = {
            "settings": _settings_to_json(self.session.settings),
            "release": release.to_dict() if release is not None else None,
            "problem": self.session.discovery_problem,
            "undecided": self.session.discovery_undecided,
        }


# ---------------------------------------------------------------------------------------------
# Collection and parametrisation


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    session = get_session(metafunc.config)
    if session is None:
        return
    from lsconform.assess import targets

    for name, build in targets.PARAMETRISERS.items():
        if name not in metafunc.fixturenames:
            continue
        if not session.settings.active or session.release is None:
            metafunc.parametrize(name, [None], ids=["no-release"])
            continue
        found = sorted(build(session.release, session.settings), key=lambda t: t.id)
        if not found:
            metafunc.parametrize(name, [None], ids=["none"])
            continue
        metafunc.parametrize(name, found, ids=[t.id for t in found])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    session = get_session(config)
    if session is None:
        return
    check_items = [item for item in items if _is_check(item)]
    if not session.settings.active:
        skip = pytest.mark.skip(reason=NOT_ACTIVE_REASON)
        for item in check_items:
            item.add_marker(skip)
        return
    for item in check_items:
        for area in Area:
            if not config.getini(f"lsconform_{area.value}_enabled") and item.get_closest_marker(
                area.value
            ):
                item.add_marker(pytest.mark.skip(reason=f"{area.value} checks are disabled"))
        callspec = getattr(item, "callspec", None)
        if callspec is None:
            continue
        for name in callspec.params:
            if name in _parametrised_names() and callspec.params[name] is None:
                reason = session.discovery_problem or "no target of this kind in the release"
                item.add_marker(pytest.mark.skip(reason=reason))


def _parametrised_names() -> set[str]:
    from lsconform.assess import targets

    return set(targets.PARAMETRISERS)


def _is_check(item: pytest.Item) -> bool:
    try:
        return Path(str(item.path)).resolve().is_relative_to(CHECKS_DIR)
    except (OSError, ValueError):
        return False


def pytest_report_header(config: pytest.Config) -> list[str]:
    session = get_session(config)
    if session is None or not session.settings.active:
        return []
    lines = []
    if session.sandbox is not None:
        lines.append(
            f"lsconform: sandbox profile {session.settings.sandbox_profile!r}"
            + (
                f" with faults {', '.join(session.settings.sandbox_faults)}"
                if session.settings.sandbox_faults
                else ""
            )
        )
    release = session.release
    if release is not None:
        from lsconform.assess.release import describe_release

        lines.append(f"lsconform: {describe_release(release)}")
    elif session.discovery_problem:
        lines.append(f"lsconform: no release: {session.discovery_problem}")
    return lines


# ---------------------------------------------------------------------------------------------
# Fixtures


def _session(request: pytest.FixtureRequest) -> LsconformSession:
    session = get_session(request.config)
    if session is None or not session.settings.active:
        pytest.skip(NOT_ACTIVE_REASON)
    return session


@pytest.fixture(scope="session")
def settings(request: pytest.FixtureRequest) -> Settings:
    """Return the run's Settings."""
    return _session(request).settings


@pytest.fixture(scope="session")
def release(request: pytest.FixtureRequest) -> Any:
    """Return the discovered Release, skipping the check when discovery found none."""
    session = _session(request)
    if session.release is None:
        pytest.skip(session.discovery_problem or "no LangSmith release was discovered")
    return session.release


@pytest.fixture(scope="session")
def client(request: pytest.FixtureRequest) -> Any:
    """Return the ClusterClient of the run's kubeconfig, context or in-cluster configuration."""
    return _session(request).client()


@pytest.fixture(scope="session")
def transport(request: pytest.FixtureRequest) -> Any:
    """Return the Transport that --access selects for HTTP to pods and Services."""
    session = _session(request)
    return session.transport(session.settings.access.value)


@pytest.fixture(scope="session")
def local_transport(request: pytest.FixtureRequest) -> Any:
    """Return a port-forward Transport, for servers that accept only clients on the pod."""
    session = _session(request)
    name = "direct" if session.settings.access is Access.DIRECT else "port-forward"
    return session.transport(name)


@pytest.fixture(scope="session")
def discovery_problem(request: pytest.FixtureRequest) -> str | None:
    """Return what discovery could not resolve, or None."""
    return _session(request).discovery_problem


@pytest.fixture(scope="session")
def discovery_undecided(request: pytest.FixtureRequest) -> bool:
    """Return whether discovery stopped on an API error rather than finding no release."""
    return _session(request).discovery_undecided


@pytest.fixture(scope="session")
def release_or_none(request: pytest.FixtureRequest) -> Any:
    """Return the discovered Release, or None when discovery found none."""
    return _session(request).release


@pytest.fixture
def verdict(request: pytest.FixtureRequest) -> Callable[[CheckResult], None]:
    """Record a CheckResult and turn it into the test's outcome.

    The severity policy in `lsconform.policy` decides. A result that fails the run fails the
    test. An `error` that does not fail the run skips the test with "could not decide", and a
    `skip` skips it. Every other result passes, and the report still shows its status.
    """
    session = _session(request)

    def record(result: CheckResult) -> None:
        __tracebackhide__ = True
        result.nodeid = request.node.nodeid
        result.severity = session.policy.severity(result.check_id)
        properties = request.node.user_properties
        properties.append((RESULT_PROPERTY, json.dumps(result.to_dict())))
        # Plain properties for JUnit readers (pytest writes user_properties into --junitxml).
        properties.append(("check_id", result.check_id))
        properties.append(("component", result.component))
        properties.append(("status", result.status.value))
        if result.remedy:
            properties.append(("remedy", result.remedy))
        _raise_outcome(result, session)

    return record


def _raise_outcome(result: CheckResult, session: LsconformSession) -> None:
    __tracebackhide__ = True
    fails = session.policy.fails_run(result.status, result.severity, session.settings.fail_on)
    if fails:
        pytest.fail(format_failure(result), pytrace=False)
    if result.status is Status.ERROR:
        pytest.skip(f"could not decide: {result.summary}")
    if result.status is Status.SKIP:
        pytest.skip(result.summary)


def format_failure(result: CheckResult) -> str:
    """Render a result as the message pytest shows for a failed check."""
    lines = [f"[{result.status.value.upper()}] {result.check_id} {result.target}: {result.summary}"]
    for key, value in results_module.bound_evidence(result.evidence).items():
        lines.append(f"  evidence {key}: {value}")
    if result.remedy:
        lines.append(f"  fix: {result.remedy}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Results and reports


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = get_session(session.config)
    if state is None or state.is_worker or not state.settings.active:
        return
    state.stop_progress()
    state.finished = time.monotonic()
    from lsconform.report.json_report import build_report

    document = build_report(
        release=state.release,
        results=state.results,
        settings=state.settings,
        duration=state.finished - state.started,
        discovery_problem=state.discovery_problem,
    )
    if state.settings.baseline is not None:
        from lsconform.report.baseline import compare, load_report

        try:
            previous = load_report(state.settings.baseline)
        except ValueError as error:
            raise pytest.UsageError(f"--baseline: {error}") from None
        state.regressions = compare(previous, document)
        document["regressions"] = [regression.to_dict() for regression in state.regressions]
        if state.regressions and FailOn.REGRESSION in state.settings.fail_on:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    state.document = document
    if state.settings.report_dir is not None:
        write_report_files(state.settings.report_dir, document)
    if session.config.option.support_bundle is not None:
        state.write_support_bundle(session)


def write_report_files(report_dir: Path, document: dict[str, Any]) -> None:
    """Write report.json, and report.html and report.md where the renderers are installed."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "report.json").write_text(json.dumps(document, indent=2) + "\n", "utf-8")
    try:
        from lsconform.report.files import write_reports
    except ImportError:
        return
    write_reports(report_dir, document)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = get_session(config)
    if state is None or state.is_worker or not state.settings.active:
        return
    from lsconform.report.terminal import render_summary

    duration = (state.finished or time.monotonic()) - state.started
    text = render_summary(
        state.results,
        release=state.release,
        duration=duration,
        width=config.get_terminal_writer().fullwidth,
        color=terminalreporter.hasmarkup,
        discovery_problem=state.discovery_problem,
    )
    terminalreporter.write(text)
    for line in verdict_notes(state):
        terminalreporter.write_line(line)
    if state.settings.baseline is not None:
        terminalreporter.write_line(render_regressions(state.regressions, state.settings))
    if state.bundle_message:
        terminalreporter.write_line(state.bundle_message)


def verdict_notes(state: LsconformSession) -> list[str]:
    """Explain non-pass results that did not fail the run, so a green exit is not misread."""
    policy, fail_on = state.policy, state.settings.fail_on
    quiet_failures = [
        r
        for r in state.results
        if r.status is Status.FAIL and not policy.fails_run(r.status, r.severity, fail_on)
    ]
    quiet_errors = [
        r
        for r in state.results
        if r.status is Status.ERROR and not policy.fails_run(r.status, r.severity, fail_on)
    ]
    notes = []
    if quiet_failures:
        notes.append(
            f"{len(quiet_failures)} failed checks have warning or info severity and do not fail "
            "the run; --fail-on warn makes them fail it (docs/severity-policy.md)."
        )
    if quiet_errors:
        notes.append(
            f"{len(quiet_errors)} checks could not decide (error) and do not fail the run; "
            "--fail-on fail,error makes them fail it."
        )
    return notes


def render_regressions(regressions: list[Any], settings: Settings) -> str:
    """Describe the comparison with --baseline in a few lines."""
    if not regressions:
        return f"No regression against baseline {settings.baseline}."
    lines = [f"{len(regressions)} regressions against baseline {settings.baseline}:"]
    for regression in regressions:
        lines.append(
            f"  REGRESSION {regression.kind} {regression.check_id} {regression.target}: "
            f"{regression.before} -> {regression.after}: {regression.detail}"
        )
    return "\n".join(lines)
