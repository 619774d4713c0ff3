"""The RBAC walk: the suite against a sandbox that enforces exactly ci/rbac's roles.

With the Role and the ClusterRole of ci/rbac/, a whole run gets no RBAC denial and no `error`
result. Then each rule is removed in turn, and the checks that need it must become `error`
results that name the missing permission. Rules of the Role are walked without the ClusterRole:
the ClusterRole grants its own rules in every namespace, the release namespace too, so it would
hide a missing Role rule. A Role-only run is their baseline.

Each run starts its own sandbox (RBAC is fixed at start) and runs only the check areas the rule
concerns; `PARALLEL_RUNS` runs are in flight at once because they mostly wait on the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from lsconform.commands.rbac import PERMISSIONS, Permission, Scope
from lsconform.report.baseline import normalise_target
from lsconform.sandbox import Sandbox
from lsconform.sandbox.apiserver.rbac import Authorizer
from lsconform.sandbox.apiserver.requestinfo import parse_request
from tests.report.conftest import produce_once, shared_directory

# The walk's runs are shared through a module fixture: keep its tests on one xdist worker
# (`--dist loadgroup`) so that the walk happens once.
pytestmark = pytest.mark.xdist_group("rbac-walk")

ROOT = Path(__file__).resolve().parents[2]
ROLE_FILE = ROOT / "ci" / "rbac" / "role.yaml"
CLUSTER_ROLE_FILE = ROOT / "ci" / "rbac" / "cluster-role.yaml"
PARALLEL_RUNS = 3
# One seed for every sandbox of the walk, so pod names match across runs.
SANDBOX_SEED = 7

# Rules whose loss the checks work around: the run loses detail but no check needs to error.
FALLBACK = {
    "cluster:nodes:list": "without the nodes' container runtime, CRI log lines are assumed "
    "and the evidence says so",
    "observability:opentelemetrycollectors:list": "the sandbox's collectors are also found as "
    "DaemonSets and Deployments",
    "observability:datadogagents:list": "the sandbox runs no Datadog agent",
}
# Rules whose loss some check still reports as a failure (or a warning) instead of an error,
# with the check to fix: a strict xfail each, so fixing the check means removing its entry.
KNOWN_GAPS: dict[str, str] = {}
ALL_AREAS = ("release", "metrics", "logs", "traces")


def role_documents(path: Path, kind: str) -> list[dict[str, Any]]:
    return [
        d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d and d["kind"] == kind
    ]


def rule_of(permission: Permission) -> dict[str, Any]:
    return {
        "apiGroups": [permission.api_group],
        "resources": list(permission.resources),
        "verbs": list(permission.verbs),
    }


def without(document: dict[str, Any], permission: Permission) -> dict[str, Any]:
    """Return a copy of a Role or ClusterRole with the permission's rule removed."""
    rules = [rule for rule in document["rules"] if rule != rule_of(permission)]
    assert len(rules) == len(document["rules"]) - 1, f"{permission.label} not in {document}"
    return {**document, "rules": rules}


@dataclass(frozen=True)
class WalkRun:
    name: str
    areas: tuple[str, ...]
    roles: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class WalkResult:
    name: str
    exit_status: int
    output: str
    report: dict[str, Any]
    denied: list[str]
    seconds: float

    def with_status(self, status: str) -> dict[tuple[str, str], dict[str, Any]]:
        """Results of one status by check id and target (pod names made rollout-neutral)."""
        return {
            (r["check_id"], normalise_target(r["target"])): r
            for r in self.report["results"]
            if r["status"] == status
        }

    def errors(self) -> dict[tuple[str, str], dict[str, Any]]:
        return self.with_status("error")


def denied_requests(audit: list[dict[str, Any]], roles_yaml: str) -> list[str]:
    """Return the audited requests the roles deny (a 403 from a proxied server is not one)."""
    authorizer = Authorizer.from_yaml(roles_yaml)
    denied = []
    for record in audit:
        if record["status"] != 403:
            continue
        info = parse_request(record["method"], record["path"], "watch=" in record["query"])
        verb = "create" if info.subresource == "portforward" else info.verb
        if not authorizer.allows(info, verb):
            denied.append(f"{verb} {info.resource_path} in {info.namespace or 'the cluster'}")
    return denied


def run_walk(run: WalkRun, base: Path) -> WalkResult:
    workdir = base / run.name
    workdir.mkdir(parents=True)
    roles_yaml = yaml.safe_dump_all(list(run.roles))
    role_file = workdir / "roles.yaml"
    role_file.write_text(roles_yaml, encoding="utf-8")
    started = time.monotonic()
    sandbox_options: dict[str, Any] = {"rbac_role": role_file, "seed": SANDBOX_SEED}
    with Sandbox("default", workdir=workdir / "sandbox", **sandbox_options) as sandbox:
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                f"--namespace={sandbox.namespace}",
                f"--kubeconfig={sandbox.kubeconfig}",
                f"--report-dir={workdir / 'report'}",
                "--probe-timeout=5",
                "--scrape-interval=1",
                "--traces-wait=3",
                "-p",
                "no:cacheprovider",
                "-q",
                "-m",
                " or ".join(run.areas),
            ],
            cwd=workdir,
            env={**os.environ, "KUBECONFIG": str(workdir / "missing-kubeconfig")},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        audit = sandbox.audit()
    output = completed.stdout + completed.stderr
    report_file = workdir / "report" / "report.json"
    assert report_file.is_file(), output[-3000:]
    report = json.loads(report_file.read_text(encoding="utf-8"))
    return WalkResult(
        run.name,
        completed.returncode,
        output,
        report,
        denied_requests(audit, roles_yaml),
        time.monotonic() - started,
    )


def walk_runs() -> list[WalkRun]:
    role = role_documents(ROLE_FILE, "Role")[0]
    cluster_role = role_documents(CLUSTER_ROLE_FILE, "ClusterRole")[0]
    runs = [
        WalkRun("full", ALL_AREAS, (role, cluster_role)),
        WalkRun("role-only", ALL_AREAS, (role,)),
    ]
    for index, permission in enumerate(PERMISSIONS):
        if permission.scope is Scope.RELEASE:
            roles: tuple[dict[str, Any], ...] = (without(role, permission),)
        else:
            roles = (role, without(cluster_role, permission))
        runs.append(WalkRun(f"without-{index}", permission.areas, roles))
    return runs


def run_all(base: Path) -> list[dict[str, Any]]:
    started = time.monotonic()
    with ThreadPoolExecutor(PARALLEL_RUNS) as pool:
        results = list(pool.map(lambda run: run_walk(run, base), walk_runs()))
    # The walk's wall time, for the record in docs/rbac.md; `pytest -s` shows it.
    print(f"RBAC walk: {len(results)} runs in {time.monotonic() - started:.0f} s")
    return [asdict(result) for result in results]


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, WalkResult]:
    """Every run of the walk, made once per session even when xdist workers share the module."""
    results = produce_once(shared_directory(tmp_path_factory, "rbac-walk"), run_all)
    return {item["name"]: WalkResult(**item) for item in results}


def test_ci_roles_allow_whole_run(walk: dict[str, WalkResult]) -> None:
    full = walk["full"]
    assert full.denied == []
    errors = [f"{k[0]} {k[1]}: {r['summary']}" for k, r in full.errors().items()]
    assert errors == []
    assert full.report["summary"]["pass"] > 150, full.output[-3000:]
    assert full.exit_status == 0, full.output[-3000:]


def test_role_only_errors_name_cluster_rules(walk: dict[str, WalkResult]) -> None:
    role_only = walk["role-only"]
    assert role_only.denied, "the Role alone should lack the cluster-scoped permissions"
    for record in role_only.errors().values():
        text = json.dumps(record)
        assert any(
            resource in text
            for permission in PERMISSIONS
            if permission.scope is not Scope.RELEASE
            for resource in (*permission.resources, "all namespaces")
        ), text


def permission_id(permission: Permission) -> str:
    return f"{permission.scope.value}:{permission.label.replace(' ', ':')}"


def walk_cases() -> list[Any]:
    cases = []
    for index, permission in enumerate(PERMISSIONS):
        name = permission_id(permission)
        marks = []
        if name in KNOWN_GAPS:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[name]))
        cases.append(pytest.param(index, id=name, marks=marks))
    return cases


@pytest.mark.parametrize("index", walk_cases())
def test_missing_rule_turns_checks_to_error(walk: dict[str, WalkResult], index: int) -> None:
    permission = PERMISSIONS[index]
    result = walk[f"without-{index}"]
    baseline = walk["role-only" if permission.scope is Scope.RELEASE else "full"]
    assert result.denied, f"no request needed {permission.label}"
    new_failures = [
        f"{key[0]} {key[1]}: {record['summary']}"
        for key, record in result.with_status("fail").items()
        if key not in baseline.with_status("fail")
    ]
    assert new_failures == []
    new_errors = {
        key: record for key, record in result.errors().items() if key not in baseline.errors()
    }
    if permission_id(permission) in FALLBACK:
        assert new_errors == {}
        return
    assert new_errors, (result.denied, result.output[-2000:])
    for record in new_errors.values():
        text = json.dumps(record)
        assert any(resource in text for resource in permission.resources), text
