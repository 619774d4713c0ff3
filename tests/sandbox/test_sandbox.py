"""The running sandbox: child process, ready file, API access, workdir, and a clean stop."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kubernetes
import pytest

from lsconform.sandbox import Sandbox, SandboxError
from lsconform.sandbox.orchestrator import READY_PREFIX, Options, apply_pod_status, build

REQUIRE_REAL_ENV = "LSCONFORM_SANDBOX_REQUIRE_REAL"


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def listening_addresses() -> set[tuple[str, int]]:
    """Every TCP (IPv4) socket in LISTEN state on this machine, as (address, port)."""
    result = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] != "0A":
            continue
        address_hex, port_hex = fields[1].split(":")
        address = socket.inet_ntoa(bytes.fromhex(address_hex)[::-1])
        result.add((address, int(port_hex, 16)))
    return result


def sandbox_sockets(ready: dict[str, Any]) -> set[tuple[str, int]]:
    blocks = {ipaddress.ip_network(f"127.10.{b}.0/24") for b in ready["address_blocks"]}
    api_port = int(ready["api_url"].rsplit(":", 1)[1])
    return {
        (address, port)
        for address, port in listening_addresses()
        if any(ipaddress.ip_address(address) in block for block in blocks)
        or (address == "127.0.0.1" and port == api_port)
    }


def kube_client(sandbox: Sandbox) -> kubernetes.client.CoreV1Api:
    api_client = kubernetes.config.new_client_from_config(config_file=str(sandbox.kubeconfig))
    return kubernetes.client.CoreV1Api(api_client)


# Reading a running sandbox.


def test_ready_document(default_sandbox: Sandbox) -> None:
    ready = default_sandbox.ready
    assert ready["namespace"] == "langsmith"
    assert ready["release"] == "langsmith"
    assert ready["profile"] == "default"
    assert ready["api_url"].startswith("https://127.0.0.1:")
    assert Path(ready["kubeconfig"]).is_file()
    assert len(ready["pods"]) >= 25
    assert all(pod["ready"] for pod in ready["pods"]), [p for p in ready["pods"] if not p["ready"]]
    assert ready["pods_started"] is True
    assert set(ready["backends"]) >= {"langsmith-service", "frontend", "postgres", "redis"}


def test_ready_file_holds_no_token(default_sandbox: Sandbox) -> None:
    token = default_sandbox.token
    assert len(token) >= 20
    assert token not in default_sandbox.ready_path.read_text()
    assert (default_sandbox.kubeconfig.stat().st_mode & 0o777) == 0o600


def test_official_client_lists_pods(default_sandbox: Sandbox) -> None:
    core = kube_client(default_sandbox)
    pods = core.list_namespaced_pod(default_sandbox.namespace, _request_timeout=10)
    names = {pod.metadata.name for pod in pods.items}
    assert {
        p["name"] for p in default_sandbox.ready["pods"] if p["namespace"] == "langsmith"
    } == names
    backend = core.read_namespaced_service("langsmith-backend", "langsmith", _request_timeout=10)
    assert backend.spec.ports[0].name == "backend"
    core.api_client.close()


def test_audit_records_requests(default_sandbox: Sandbox) -> None:
    core = kube_client(default_sandbox)
    core.list_node(_request_timeout=10)
    core.api_client.close()
    records = default_sandbox.audit()
    node_lists = [r for r in records if r["path"] == "/api/v1/nodes" and r["method"] == "GET"]
    assert node_lists
    assert node_lists[-1]["status"] == 200


def test_kubectl_gets_pods(default_sandbox: Sandbox) -> None:
    result = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(default_sandbox.kubeconfig),
            "get",
            "pods",
            "-n",
            "langsmith",
            "-o",
            "name",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "pod/langsmith-postgres-0" in result.stdout.split()


def test_workdir_files(default_sandbox: Sandbox) -> None:
    workdir = default_sandbox.workdir
    plans = json.loads((workdir / "pods.json").read_text())
    dns = json.loads((workdir / "dns.json").read_text())
    assert {p["name"] for p in plans} == {p["name"] for p in default_sandbox.ready["pods"]}
    plan = next(p for p in plans if p["component"] == "backend")
    assert set(plan) == {
        "namespace",
        "name",
        "uid",
        "ip",
        "node",
        "release",
        "component",
        "role",
        "labels",
        "containers",
        "faults",
    }
    assert set(plan["containers"][0]) == {
        "name",
        "container_id",
        "image",
        "restart_count",
        "ports",
        "env",
        "log_dir",
    }
    assert dns["langsmith-backend.langsmith.svc.cluster.local"]["ip"] in {
        p["ip"] for p in plans if p["component"] == "backend"
    }
    log_dir = Path(plan["containers"][0]["log_dir"])
    assert log_dir.is_relative_to(workdir / "nodes" / plan["node"] / "var/log/pods")


# Starting and stopping.


def test_stop_leaves_no_process_or_socket(tmp_path: Path) -> None:
    sandbox = Sandbox(profile="tracing-off", workdir=tmp_path / "wd")
    sandbox.start()
    assert sandbox.pid is not None
    child = sandbox.pid
    processes = descendants(child)
    sockets = sandbox_sockets(sandbox.ready)
    assert processes, "the sandbox runs processes that play pods"
    assert len(sockets) > 5, "pods and the API server listen on loopback"
    sandbox.stop()
    assert not Path(f"/proc/{child}").exists()
    assert not {pid for pid in processes if Path(f"/proc/{pid}").exists()}
    assert sandbox_sockets(sandbox.ready) == set()


def test_cli_prints_ready_lines_and_stops_on_sigint(tmp_path: Path) -> None:
    workdir = tmp_path / "wd"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lsconform",
            "sandbox",
            "--profile",
            "tracing-off",
            "--workdir",
            str(workdir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        assert lines[0] == f"kubeconfig: {workdir.resolve() / 'kubeconfig'}\n"
        assert lines[1] == "namespace: langsmith\n"
        assert lines[2].startswith(f"{READY_PREFIX} release langsmith in namespace langsmith")
        ready = json.loads((workdir / "ready.json").read_text())
        processes = descendants(process.pid)
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        assert not {pid for pid in processes if Path(f"/proc/{pid}").exists()}
        assert sandbox_sockets(ready) == set()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_start_failure_reports_stderr(tmp_path: Path) -> None:
    sandbox = Sandbox(faults=["no-such-fault"], workdir=tmp_path / "wd")
    with pytest.raises(SandboxError, match=r"exited with status 2 .*unknown fault 'no-such-fault'"):
        sandbox.start()


def test_require_real_reaches_the_child(tmp_path: Path) -> None:
    sandbox = Sandbox(
        profile="tracing-off", workdir=tmp_path / "wd", extra_env={REQUIRE_REAL_ENV: "1"}
    )
    try:
        sandbox.start()
        assert sandbox.pid is not None
        environ = Path(f"/proc/{sandbox.pid}/environ").read_bytes().split(b"\0")
        assert f"{REQUIRE_REAL_ENV}=1".encode() in environ
        for role in ("frontend", "postgres", "redis", "postgres-exporter", "redis-exporter"):
            assert sandbox.ready["backends"][role] == "real", role
    finally:
        sandbox.stop()


def test_containers_not_started_are_not_ready(tmp_path: Path) -> None:
    built = build(Options(profile="tracing-off", seed=3), tmp_path / "wd")
    try:
        plan = next(p for p in built.state.plans if p["component"] == "backend")
        reported = SimpleNamespace(
            status={
                f"{plan['namespace']}/{plan['name']}": {
                    "backend": {"started": False, "reason": "address already in use"}
                }
            }
        )
        problems = apply_pod_status(built, reported)
        assert problems == [f"langsmith/{plan['name']}/backend: address already in use"]
        pod = built.state.get("pods", "", "langsmith", plan["name"])
        assert pod is not None
        status = pod["status"]["containerStatuses"][0]
        assert status["ready"] is False
        assert status["state"]["waiting"]["message"] == "not started: address already in use"
        endpoints = built.state.get("endpoints", "", "langsmith", "langsmith-backend")
        assert endpoints is not None
        not_ready = endpoints["subsets"][0]["notReadyAddresses"]
        assert [a["targetRef"]["name"] for a in not_ready] == [plan["name"]]
    finally:
        built.builder.close()


def test_second_sandbox_gets_other_addresses(default_sandbox: Sandbox, tmp_path: Path) -> None:
    start = time.monotonic()
    with Sandbox(profile="tracing-off", workdir=tmp_path / "wd") as other:
        assert time.monotonic() - start < 60
        mine = {p["ip"] for p in default_sandbox.ready["pods"]}
        theirs = {p["ip"] for p in other.ready["pods"]}
        assert not mine & theirs
        assert all(p["ready"] for p in other.ready["pods"])


def test_faults_through_the_api(tmp_path: Path) -> None:
    faults = ["pod-vanishes", "crashloop", "replica-not-ready"]
    with Sandbox(profile="tracing-off", faults=faults, workdir=tmp_path / "wd") as sandbox:
        plans = json.loads((sandbox.workdir / "pods.json").read_text())
        core = kube_client(sandbox)
        try:
            vanishing = next(p["name"] for p in plans if "pod-vanishes" in p["faults"])
            with pytest.raises(kubernetes.client.ApiException) as raised:
                core.read_namespaced_pod_log(vanishing, "langsmith", _request_timeout=10)
            assert raised.value.status == 404
            with pytest.raises(kubernetes.client.ApiException) as again:
                core.read_namespaced_pod(vanishing, "langsmith", _request_timeout=10)
            assert again.value.status == 404

            crashed = next(p["name"] for p in plans if "crashloop" in p["faults"])
            pod = core.read_namespaced_pod(crashed, "langsmith", _request_timeout=10)
            status = pod.status.container_statuses[0]
            assert status.restart_count == 3
            assert status.last_state.terminated.exit_code == 1
            previous = core.read_namespaced_pod_log(
                crashed, "langsmith", previous=True, _request_timeout=10
            )
            assert previous.strip(), "the crashed run left a previous log"

            endpoints = core.read_namespaced_endpoints(
                "langsmith-backend", "langsmith", _request_timeout=10
            )
            assert len(endpoints.subsets[0].not_ready_addresses) == 1
        finally:
            core.api_client.close()


def test_api_options_reach_the_server(tmp_path: Path) -> None:
    workdir = tmp_path / "wd"
    kubeconfig = tmp_path / "elsewhere" / "config"
    ready_file = tmp_path / "ready.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lsconform.sandbox",
            "--profile",
            "tracing-off",
            "--workdir",
            str(workdir),
            "--kubeconfig-out",
            str(kubeconfig),
            "--ready-file",
            str(ready_file),
            "--error-rate",
            "1",
            "--plain-http",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        ready = json.loads(ready_file.read_text())
        assert ready["kubeconfig"] == str(kubeconfig)
        assert ready["api_url"].startswith("http://127.0.0.1:")
        assert kubeconfig.is_file()
        api_client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
        core = kubernetes.client.CoreV1Api(api_client)
        try:
            with pytest.raises(kubernetes.client.ApiException) as raised:
                core.list_namespaced_pod("langsmith", _request_timeout=10)
            assert raised.value.status in (429, 500)
        finally:
            api_client.close()
        statuses = [
            json.loads(line)["status"]
            for line in (workdir / "audit.jsonl").read_text().splitlines()
        ]
        assert statuses
        assert set(statuses) <= {429, 500}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_own_workdir_is_deleted_on_exit() -> None:
    values = {"backend": {"deployment": {"replicas": 1}}}
    with Sandbox(profile="tracing-off", faults=["collector-absent"], values=values) as sandbox:
        workdir = sandbox.workdir
        assert (workdir / "kubeconfig").is_file()
        backend = [p for p in sandbox.ready["pods"] if p["name"].startswith("langsmith-backend-")]
        assert len(backend) == 1
    assert not workdir.exists()


@pytest.mark.parametrize(
    ("profile", "namespace", "release"),
    [("fullname-override", "ls-prod", "prod-ls"), ("control-plane", "langsmith", "langsmith")],
)
def test_profile_starts_ready(profile: str, namespace: str, release: str) -> None:
    with Sandbox(profile=profile) as sandbox:
        assert sandbox.namespace == namespace
        assert sandbox.release == release
        not_ready = [p["name"] for p in sandbox.ready["pods"] if not p["ready"]]
        assert not_ready == []


def test_root_ca_is_published(default_sandbox: Sandbox) -> None:
    core = kube_client(default_sandbox)
    try:
        config_map = core.read_namespaced_config_map(
            "kube-root-ca.crt", "langsmith", _request_timeout=10
        )
    finally:
        core.api_client.close()
    assert config_map.data["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")
