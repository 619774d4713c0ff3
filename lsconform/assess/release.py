"""Evidence for the release checks: the revision discovery picked, workloads and restarts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from lsconform.assess.targets import ComponentTarget
from lsconform.cluster.errors import ClusterError, Forbidden
from lsconform.discovery.discover import AmbiguousRelease, discover
from lsconform.discovery.release import Problem, Release
from lsconform.results import Area, CheckResult, Status
from lsconform.settings import Settings

log = logging.getLogger(__name__)

# Discovery problem codes that mean an API request failed, so discovery could not decide.
UNDECIDED_CODES = frozenset({"list-failed", "rbac-missing"})

# A container that restarted at least this many times is crash-looping rather than unlucky.
CRASHLOOP_RESTARTS = 3


@dataclass(frozen=True)
class DiscoverOutcome:
    """Discovery's outcome for the plugin: the release, a problem to show, or a usage error.

    `undecided` is true when discovery could not run to the end (an API error, a missing
    permission), as opposed to running and finding no release.
    """

    release: Release | None
    problem: str | None = None
    usage_error: str | None = None
    undecided: bool = False


def discover_release(client: Any, settings: Settings) -> DiscoverOutcome:
    """Discover the release in the settings' namespace, turning failures into a problem text."""
    assert settings.namespace is not None
    try:
        found = discover(client, settings.namespace, settings.release)
    except AmbiguousRelease as error:
        return DiscoverOutcome(None, usage_error=str(error))
    except Forbidden as error:
        return DiscoverOutcome(
            None,
            problem=f"discovery is forbidden: {error}; grant:\n{error.rule_yaml()}",
            undecided=True,
        )
    except ClusterError as error:
        return DiscoverOutcome(None, problem=f"discovery failed: {error}", undecided=True)
    problems = [p.summary for p in found.problems if p.severity in ("error", "warning")]
    if found.release is None:
        text = "; ".join(problems) or (
            f"no LangSmith Helm release found in namespace {settings.namespace}"
        )
        # Without the lists discovery needs, "no release" is a guess, not a finding.
        undecided = any(p.code in UNDECIDED_CODES for p in found.problems)
        prefix = "discovery failed: " if undecided else ""
        return DiscoverOutcome(None, problem=prefix + text, undecided=undecided)
    return DiscoverOutcome(found.release, problem="; ".join(problems) or None)


def forbidden_lists(release: Release, *resources: str) -> list[Problem]:
    """Return discovery's problems saying the suite may not list one of `resources`.

    A check needs them to tell "absent" from "not visible" (`pods`, `deployments.apps` ...).
    """
    return [
        problem
        for problem in release.problems
        if problem.code == "rbac-missing"
        and any(f"cannot list {resource} " in problem.summary for resource in resources)
    ]


def forbidden_result(
    check_id: str, area: Area, component: str, target: str, problems: list[Problem]
) -> CheckResult:
    """Build an `error` result naming the permissions discovery lacked, with the rules to add."""
    return CheckResult(
        check_id=check_id,
        area=area,
        component=component,
        target=target,
        status=Status.ERROR,
        summary="; ".join(problem.summary for problem in problems),
        evidence=dict(problems[0].evidence),
        remedy="\n".join(problem.remedy for problem in problems if problem.remedy),
    )


def describe_release(release: Release) -> str:
    """Describe the release, its chart and where discovery found it, in one line."""
    return (
        f"release {release.name} in namespace {release.namespace}, revision {release.revision} "
        f"({release.status}), chart {release.chart_name}-{release.chart_version}, "
        f"app {release.app_version}, found via {release.source}"
    )


def check_revision(
    release: Release | None, discovery_problem: str | None, *, undecided: bool = False
) -> CheckResult:
    """Check that a release was found and its newest revision is deployed and decodable."""
    if release is None:
        return CheckResult(
            check_id="release.revision",
            area=Area.RELEASE,
            component="release",
            target="release",
            status=Status.ERROR if undecided else Status.FAIL,
            summary=discovery_problem or "no LangSmith release was found",
            remedy="check the namespace and --context; `helm list -n <namespace>` shows the "
            "releases there"
            if not undecided
            else "check that the API server answers and that the suite's identity may list "
            "secrets, pods and services in the namespace",
        )
    unreadable = forbidden_lists(release, "secrets", "configmaps")
    if unreadable:
        # Without the Helm records the release was found by its labels: its revision, status
        # and history are unknown, not wrong.
        return forbidden_result(
            "release.revision", Area.RELEASE, "release", f"release/{release.name}", unreadable
        )
    revision_problems = [
        p
        for p in release.problems
        if p.code.startswith(("revision", "release-", "secret-", "helm-")) and p.severity != "info"
    ]
    target = f"release/{release.name}"
    evidence: dict[str, Any] = {
        "revision": release.revision,
        "status": release.status,
        "source": release.source,
        "chart": f"{release.chart_name}-{release.chart_version}",
    }
    if revision_problems:
        first = revision_problems[0]
        evidence.update(first.evidence)
        evidence["problems"] = [p.summary for p in revision_problems]
        return CheckResult(
            check_id="release.revision",
            area=Area.RELEASE,
            component="release",
            target=target,
            status=Status.FAIL,
            summary=first.summary,
            evidence=evidence,
            remedy=first.remedy,
        )
    return CheckResult(
        check_id="release.revision",
        area=Area.RELEASE,
        component="release",
        target=target,
        status=Status.PASS,
        summary=describe_release(release),
        evidence=evidence,
    )


def check_workload_ready(release: Release, target: ComponentTarget) -> CheckResult:
    """Check that the component's workload exists and has its desired replicas ready."""
    component = target.component
    evidence: dict[str, Any] = {
        "workload": f"{component.workload_kind}/{component.workload_name}",
        "desired": component.desired_replicas,
        "ready": component.ready_replicas,
    }

    def result(status: Status, summary: str, remedy: str = "") -> CheckResult:
        return CheckResult(
            check_id="release.workload",
            area=Area.RELEASE,
            component=component.suffix,
            target=f"{component.suffix}/{component.workload_name or 'workload'}",
            status=status,
            summary=summary,
            evidence=evidence,
            remedy=remedy,
        )

    hidden = forbidden_lists(release, "pods", "deployments.apps", "statefulsets.apps")
    if hidden:
        return forbidden_result(
            "release.workload",
            Area.RELEASE,
            component.suffix,
            f"{component.suffix}/{component.workload_name or 'workload'}",
            hidden,
        )
    if not component.workload_name:
        return result(
            Status.FAIL,
            f"the release manifest declares {component.suffix} but no workload "
            "exists in the cluster",
            "look for a failed install or a workload deleted by hand: helm status, then "
            "helm upgrade to recreate it",
        )
    not_ready = [pod for pod in component.pods if not pod.ready]
    if not_ready:
        evidence["not_ready_pods"] = [
            f"{pod.name} ({pod.phase or 'unknown phase'})" for pod in not_ready
        ]
    if component.ready_replicas < component.desired_replicas:
        return result(
            Status.FAIL,
            f"{component.ready_replicas} of {component.desired_replicas} replicas ready"
            + (f"; not ready: {', '.join(p.name for p in not_ready)}" if not_ready else ""),
            f"kubectl describe pod {not_ready[0].name} -n {release.namespace} shows why"
            if not_ready
            else f"kubectl describe {component.workload_kind.lower()} "
            f"{component.workload_name} -n {release.namespace} shows why",
        )
    return result(
        Status.PASS, f"{component.ready_replicas}/{component.desired_replicas} replicas ready"
    )


def check_restarts(release: Release, target: ComponentTarget) -> CheckResult:
    """Check that no container of the component's pods is crash-looping."""
    component = target.component
    hidden = forbidden_lists(release, "pods")
    if hidden:
        return forbidden_result(
            "release.restarts",
            Area.RELEASE,
            component.suffix,
            f"{component.suffix}/restarts",
            hidden,
        )
    restarted = []
    crashlooping = []
    for pod in component.pods:
        for container in pod.containers:
            if container.restart_count == 0:
                continue
            entry = (
                f"{pod.name}/{container.name}: {container.restart_count} restarts, last "
                f"{container.last_termination_reason or 'unknown reason'}"
                + (
                    f" (exit code {container.last_exit_code})"
                    if container.last_exit_code is not None
                    else ""
                )
            )
            restarted.append(entry)
            if container.restart_count >= CRASHLOOP_RESTARTS or container.state == (
                "waiting:CrashLoopBackOff"
            ):
                crashlooping.append((pod, container, entry))
    evidence: dict[str, Any] = {"restarts": restarted} if restarted else {}
    target_id = f"{component.suffix}/restarts"
    if crashlooping:
        pod, container, _entry = crashlooping[0]
        return CheckResult(
            check_id="release.restarts",
            area=Area.RELEASE,
            component=component.suffix,
            target=target_id,
            status=Status.FAIL,
            summary=f"{len(crashlooping)} containers are crash-looping: {crashlooping[0][2]}",
            evidence=evidence,
            remedy=f"read the previous logs: kubectl logs {pod.name} -c {container.name} "
            f"--previous -n {release.namespace}",
        )
    if restarted:
        return CheckResult(
            check_id="release.restarts",
            area=Area.RELEASE,
            component=component.suffix,
            target=target_id,
            status=Status.WARN,
            summary=f"containers restarted: {restarted[0]}",
            evidence=evidence,
            remedy="read the previous logs (kubectl logs --previous) to find the cause",
        )
    return CheckResult(
        check_id="release.restarts",
        area=Area.RELEASE,
        component=component.suffix,
        target=target_id,
        status=Status.PASS,
        summary="no container restarted",
    )
