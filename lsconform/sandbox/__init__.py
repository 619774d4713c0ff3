"""The sandbox: a self-hosted LangSmith release played on loopback, healthy or with faults.

`Sandbox(...)` starts `python -m lsconform.sandbox` as a child process in its own process group
and waits, bounded, for its ready file. It then exposes what a client needs: the kubeconfig path,
the namespace and release, the API URL and token, the workdir, the ready document and the audit
log. Leaving the `with` block, or `stop()`, sends SIGTERM and waits for the child to stop every
process it started. A child that does not stop in time is killed with its process group. Leaving
the `with` block also deletes the workdir if `Sandbox` created it; pass `workdir=` to keep it.

    with Sandbox(profile="default", faults=["replica-not-ready"]) as sandbox:
        run_suite(kubeconfig=sandbox.kubeconfig, namespace=sandbox.namespace)

See docs/sandbox.md for profiles, faults and the workdir layout.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)

# Start-up takes about 2 to 4 s for the default profile on 2 cores (bench_sandbox_start.py). The
# bound leaves room for slow CI machines and the ~50-pod profile.
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 20.0
STDERR_TAIL_BYTES = 4000

__all__ = ["Sandbox", "SandboxError"]


class SandboxError(RuntimeError):
    """The sandbox child failed to start or stopped early; the message ends with its stderr."""


class Sandbox:
    """A running sandbox in a child process (see the module docstring).

    `values` is a values file, or a mapping that `start()` writes to `workdir/values.yaml`.
    """

    def __init__(
        self,
        profile: str = "default",
        faults: Iterable[str] = (),
        manifests: Path | str | None = None,
        values: Path | str | Mapping[str, Any] | None = None,
        latency_ms: int = 0,
        error_rate: float = 0.0,
        rbac_role: Path | str | None = None,
        workdir: Path | str | None = None,
        *,
        seed: int | None = None,
        start_timeout: float = START_TIMEOUT_SECONDS,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.profile = profile
        self.faults = tuple(faults)
        self.manifests = Path(manifests) if manifests else None
        self._values_mapping = dict(values) if isinstance(values, Mapping) else None
        self.values = Path(values) if values and not isinstance(values, Mapping) else None
        self.latency_ms = latency_ms
        self.error_rate = error_rate
        self.rbac_role = Path(rbac_role) if rbac_role else None
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="lsconform-sb-"))
        self.seed = seed
        self.start_timeout = start_timeout
        self.extra_env = dict(extra_env or {})
        self.ready: dict[str, Any] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr_path = self.workdir / "sandbox.stderr"
        self._stdout_path = self.workdir / "sandbox.stdout"

    # Lifecycle.

    def command(self) -> list[str]:
        """Return the child's command line."""
        argv = [sys.executable, "-m", "lsconform.sandbox", "--profile", self.profile]
        argv += ["--workdir", str(self.workdir), "--ready-file", str(self.ready_path)]
        argv += ["--stop-with-parent"]
        for fault in self.faults:
            argv += ["--fault", fault]
        if self.manifests:
            argv += ["--manifests", str(self.manifests)]
        if self.values:
            argv += ["--values", str(self.values)]
        if self.latency_ms:
            argv += ["--latency-ms", str(self.latency_ms)]
        if self.error_rate:
            argv += ["--error-rate", str(self.error_rate)]
        if self.rbac_role:
            argv += ["--rbac-role", str(self.rbac_role)]
        if self.seed is not None:
            argv += ["--seed", str(self.seed)]
        return argv

    @property
    def ready_path(self) -> Path:
        return self.workdir / "sandbox-ready.json"

    def start(self) -> Sandbox:
        """Start the child and wait until it is ready; raise `SandboxError` if it is not."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ready_path.unlink(missing_ok=True)
        if self._values_mapping is not None:
            self.values = self.workdir / "values.yaml"
            self.values.write_text(yaml.safe_dump(self._values_mapping), encoding="utf-8")
        env = {**os.environ, **self.extra_env}
        with self._stdout_path.open("wb") as stdout, self._stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                self.command(),
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        logger.info("started sandbox child pid %d in %s", self.process.pid, self.workdir)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.ready_path.exists():
                self.ready = json.loads(self.ready_path.read_text(encoding="utf-8"))
                return
            status = self.process.poll()
            if status is not None:
                raise SandboxError(
                    f"the sandbox exited with status {status} before it was ready: "
                    f"{self._stderr_tail()}"
                )
            time.sleep(0.05)
        raise SandboxError(
            f"the sandbox was not ready within {self.start_timeout:.0f} s: {self._stderr_tail()}"
        )

    def _stderr_tail(self) -> str:
        try:
            data = self._stderr_path.read_bytes()[-STDERR_TAIL_BYTES:]
        except OSError:
            return "(no stderr)"
        return data.decode("utf-8", errors="replace").strip() or "(empty stderr)"

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL to its process group after a bounded wait)."""
        process = self.process
        if process is None:
            return
        self.process = None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "sandbox child %d did not stop within %.0f s; killing its process group",
                    process.pid,
                    STOP_TIMEOUT_SECONDS,
                )
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT_SECONDS)
        logger.info("sandbox child %d stopped with status %s", process.pid, process.returncode)

    def cleanup(self) -> None:
        """Stop, then delete the workdir if this object created it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()

    # What clients use.

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def kubeconfig(self) -> Path:
        return Path(self.ready["kubeconfig"])

    @property
    def namespace(self) -> str:
        return str(self.ready["namespace"])

    @property
    def release(self) -> str:
        return str(self.ready["release"])

    @property
    def api_url(self) -> str:
        return str(self.ready["api_url"])

    @property
    def token(self) -> str:
        """The bearer token, read from the kubeconfig (the ready file never contains it)."""
        config = yaml.safe_load(self.kubeconfig.read_text(encoding="utf-8"))
        return str(config["users"][0]["user"]["token"])

    def audit(self) -> list[dict[str, Any]]:
        """Return the API server's audit records so far (one per request)."""
        path = self.workdir / "audit.jsonl"
        if not path.exists():
            return []
        records = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append(json.loads(line))
        return records

    def __repr__(self) -> str:
        return f"Sandbox(profile={self.profile!r}, faults={self.faults!r}, workdir={self.workdir})"
