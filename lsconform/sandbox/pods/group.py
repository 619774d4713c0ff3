"""Start every process that plays a pod, and stop them all again.

`start_pods` sorts the plans into real processes (nginx, PostgreSQL, Redis and their exporters,
when installed), the OTel collector (from the `collector` module, when it exists) and one host
process that plays every simulated pod. It starts them all before waiting for any, so the default
profile (about 25 pods) is up in a few seconds.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from lsconform.sandbox.pods.binaries import (
    ROLE_BINARY,
    MissingBinaryError,
    find_binary,
    missing_message,
    require_real,
)
from lsconform.sandbox.pods.crilog import ContainerLog
from lsconform.sandbox.pods.plans import POD_FAULTS, assign_faults, pod_key
from lsconform.sandbox.pods.processes import ManagedProcess, die_with_parent
from lsconform.sandbox.pods.real import Waits, await_real, exporter_target, set_status, start_real
from lsconform.sandbox.pods.tracing import load_dns

log = logging.getLogger(__name__)

# Bounded wait for the host process to report ready (seconds).
HOST_READY_TIMEOUT_S = 30.0

ContainerStatus = dict[str, Any]


class PodGroup:
    """The processes that play the pods of one sandbox run.

    `status` maps `namespace/pod` to `{container: {"started": bool, "reason": str}}`.
    `backends` maps each role present to "real" or "simulated"; `binaries` maps the real roles to
    the binary path that plays them. `stop()` ends every process and closes every log.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.status: dict[str, dict[str, ContainerStatus]] = {}
        self.backends: dict[str, str] = {}
        self.binaries: dict[str, str] = {}
        self.processes: list[ManagedProcess] = []
        self.host: subprocess.Popen[bytes] | None = None
        self.logs: list[ContainerLog] = []
        self.cleanups: list[Callable[[], None]] = []
        self.collectors: list[Any] = []
        self._stopped = False

    def is_started(self, namespace: str, pod: str, container: str) -> bool:
        """Tell whether one container of a pod was started."""
        entry = self.status.get(f"{namespace}/{pod}", {}).get(container)
        return bool(entry and entry.get("started"))

    def stop(self) -> None:
        """Stop every process, the collector and the logs; safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        threads = [threading.Thread(target=p.stop, daemon=True) for p in self.processes]
        threads.append(threading.Thread(target=self._stop_host, daemon=True))
        for thread in threads:
            thread.start()
        for collector in self.collectors:
            _stop_collector(collector)
        for thread in threads:
            thread.join()
        for clog in self.logs:
            clog.close()
        for cleanup in self.cleanups:
            cleanup()
        log.info("stopped all pods in %s", self.workdir)

    def _stop_host(self) -> None:
        host = self.host
        if host is None:
            return
        if host.poll() is None:
            host.terminate()
            try:
                host.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                log.warning("host process did not stop within 5 s; killing it")
                host.kill()
                host.wait()
        if host.stdout is not None:
            host.stdout.close()

    def __enter__(self) -> PodGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stop_collector(handle: Any) -> None:
    for name in ("stop", "close"):
        method = getattr(handle, name, None)
        if callable(method):
            try:
                method()
            except Exception:  # a failing collector (another module) must not abort stop()
                log.exception("stopping the OTel collector failed")
            return


def start_pods(
    plans: list[dict[str, Any]],
    workdir: Path,
    faults: frozenset[str],
    *,
    binaries: Mapping[str, str | None] | None = None,
) -> PodGroup:
    """Start what plays each pod of `plans` and return the running group.

    `binaries` overrides where real binaries are, by the keys of `binaries.BINARIES`. A None
    value forces the simulated stand-in. Raises `MissingBinaryError` when
    LSCONFORM_SANDBOX_REQUIRE_REAL=1 and a needed binary is missing.
    """
    workdir = Path(workdir)
    (workdir / "run").mkdir(parents=True, exist_ok=True)
    group = PodGroup(workdir)
    started = time.monotonic()
    pod_faults = assign_faults(plans, faults)
    found = _locate_binaries(plans, binaries)

    waits: Waits = []
    try:
        for role in sorted({str(p.get("role")) for p in plans}):
            binary = found.get(ROLE_BINARY.get(role, ""))
            group.backends[role] = "real" if binary else "simulated"
            if binary:
                group.binaries[role] = binary
        collector_start = _collector_starter(plans)
        simulated = _simulated_entries(plans, pod_faults, found, collector_start is not None)
        # The host imports its libraries (about a second) while the real servers start. It is
        # forked before the collector starts its gRPC server, because forking a process whose
        # gRPC threads run is unsafe.
        _launch_host(group, simulated)
        start_real(group, plans, pod_faults, found, waits)
        if collector_start is not None:
            _start_collectors(group, plans, faults, pod_faults, collector_start)
        _await_host(group, simulated)
        await_real(group, waits)
    except BaseException:
        group.stop()
        raise
    log.info("started %d pods in %.2f s", len(plans), time.monotonic() - started)
    return group


def _locate_binaries(
    plans: Iterable[Mapping[str, Any]], overrides: Mapping[str, str | None] | None
) -> dict[str, str | None]:
    """Find each real binary the plans need.

    An override of None asks for the stand-in, even under LSCONFORM_SANDBOX_REQUIRE_REAL=1; an
    override path that is not an executable file counts as a missing binary.
    """
    needed = {ROLE_BINARY[str(p.get("role"))] for p in plans if p.get("role") in ROLE_BINARY}
    found: dict[str, str | None] = {}
    for key in sorted(needed):
        if overrides and key in overrides:
            path = overrides[key]
            if path is None:
                found[key] = None
                continue
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                path = None
        else:
            path = find_binary(key)
        if path is None and require_real():
            raise MissingBinaryError(missing_message(key))
        found[key] = path
    return found


def _simulated_entries(
    plans: list[dict[str, Any]],
    pod_faults: dict[str, set[str]],
    found: Mapping[str, str | None],
    collector_module: bool,
) -> list[dict[str, Any]]:
    """Return the host spec entries: every pod that no real binary or collector plays."""
    entries = []
    for plan in plans:
        role = str(plan.get("role"))
        if role in ROLE_BINARY and found.get(ROLE_BINARY[role]):
            continue
        if role == "otel-collector" and collector_module:
            continue
        faults = pod_faults[pod_key(plan)]
        entry: dict[str, Any] = {"plan": plan, "faults": sorted(faults)}
        if role in {"postgres-exporter", "redis-exporter"}:
            target = exporter_target(plans, plan, role.removesuffix("-exporter"), faults)
            entry["target"] = list(target)
        entries.append(entry)
    return entries


# The OTel collector -----------------------------------------------------------------------


def _collector_starter(plans: list[dict[str, Any]]) -> Callable[..., Any] | None:
    """Return `collector.start` when there are otel-collector pods and the module exists."""
    if not any(p.get("role") == "otel-collector" for p in plans):
        return None
    try:
        collector = importlib.import_module("lsconform.sandbox.pods.collector")
        start: Callable[..., Any] = collector.start
    except (ImportError, AttributeError):
        log.info("no collector module; otel-collector pods are played as generic pods")
        return None
    return start


def _start_collectors(
    group: PodGroup,
    plans: list[dict[str, Any]],
    faults: frozenset[str],
    pod_faults: dict[str, set[str]],
    start: Callable[..., Any],
) -> None:
    """Start each otel-collector pod with the collector module.

    The collector gets the run's faults without the pod-side faults of this package that concern
    other pods (a backend's `container-silent` must not silence the collector's own log).
    """
    collector_plans = [p for p in plans if p.get("role") == "otel-collector"]
    dns = load_dns(group.workdir) or {}
    for plan in collector_plans:
        own = frozenset(faults - (POD_FAULTS - pod_faults[pod_key(plan)]))
        try:
            handle = start(plan, group.workdir, own, dns)
        except Exception as error:  # another module's failure must not take down every pod
            log.exception("the OTel collector for %s failed to start", pod_key(plan))
            set_status(group, plan, False, f"collector failed to start: {error}")
            continue
        group.collectors.append(handle)
        set_status(group, plan, True, "running")
        for name, state in (getattr(handle, "status", None) or {}).items():
            started, reason = state
            group.status[pod_key(plan)][str(name)] = {"started": bool(started), "reason": reason}


# The host process -------------------------------------------------------------------------


def _launch_host(group: PodGroup, entries: list[dict[str, Any]]) -> None:
    """Start the host process for the simulated pods (without waiting for it)."""
    if not entries:
        return
    host_dir = group.workdir / "run" / "_host"
    host_dir.mkdir(parents=True, exist_ok=True)
    spec_path = host_dir / "spec.json"
    spec = {"workdir": str(group.workdir), "pods": entries}
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    stderr = (host_dir / "host.log").open("ab")
    try:
        group.host = subprocess.Popen(
            [sys.executable, "-m", "lsconform.sandbox.pods.host", str(spec_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    finally:
        stderr.close()


def _await_host(group: PodGroup, entries: list[dict[str, Any]]) -> None:
    """Wait for the host's ready line and record the status of its pods."""
    if group.host is None:
        return
    status = _read_ready(group.host, group.workdir / "run" / "_host" / "host.log")
    for entry in entries:
        key = pod_key(entry["plan"])
        if key in status:
            group.status[key] = status[key]


def _read_ready(host: subprocess.Popen[bytes], log_path: Path) -> dict[str, Any]:
    """Read the host's ready line, bounded by `HOST_READY_TIMEOUT_S`."""
    result: dict[str, Any] = {}

    def read() -> None:
        assert host.stdout is not None
        for raw in iter(host.stdout.readline, b""):
            with contextlib.suppress(ValueError):
                message = json.loads(raw)
                if message.get("event") == "ready":
                    result.update(message.get("status") or {})
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(HOST_READY_TIMEOUT_S)
    if reader.is_alive() or (host.poll() is not None and not result):
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(
            f"the pod host process did not report ready within {HOST_READY_TIMEOUT_S:g} s "
            f"(exit code {host.poll()}); its log {log_path} ends with:\n{tail}"
        )
    return result
