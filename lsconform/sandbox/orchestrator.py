"""The sandbox process: build the cluster state, start the pods and the API server, then wait.

`main(argv)` is `python -m lsconform.sandbox` and `lsconform sandbox`. In order, it:
1. checks the options and builds the `ClusterState`, writing `pods.json` and `dns.json`;
2. starts the processes that play the pods and marks containers that did not start as not ready;
3. starts the API server and writes the kubeconfig and `ready.json`;
4. prints the kubeconfig path, the namespace and a `sandbox ready: ...` line;
5. runs until SIGINT or SIGTERM, then stops the API server and every pod process and releases
   its loopback addresses.

Exit statuses: 0 after a clean stop, 2 for invalid options or input (the message names the
value and the fix), 3 when the sandbox could not start (a missing real binary under
LSCONFORM_SANDBOX_REQUIRE_REAL=1, a port it could not bind).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import yaml

from lsconform.sandbox import faults as fault_rules
from lsconform.sandbox import profiles
from lsconform.sandbox.apiserver.rbac import Authorizer, InvalidRoleError
from lsconform.sandbox.manifests import ManifestError, load_manifests, load_values
from lsconform.sandbox.state import KNOWN_KINDS, ClusterState, StateBuilder

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_START_FAILED = 3
READY_PREFIX = "sandbox ready:"


class SandboxStartError(RuntimeError):
    """The sandbox could not start; the message gives the cause and the fix."""


@dataclass(frozen=True, kw_only=True)
class Options:
    """The sandbox's options, as parsed from the command line."""

    profile: str = "default"
    manifests: Path | None = None
    values: Path | None = None
    faults: tuple[str, ...] = ()
    workdir: Path | None = None
    kubeconfig_out: Path | None = None
    latency_ms: int = 0
    """Delay the API server adds to every request, in milliseconds."""
    error_rate: float = 0.0
    """Share of API requests (0 to 1) that get an injected 500 or 429 response."""
    rbac_role: Path | None = None
    ready_file: Path | None = None
    seed: int | None = None
    """Seed for generated names and addresses; None picks a fresh one each run."""
    tls: bool = True
    stop_with_parent: bool = False
    """Stop when the process that started the sandbox dies (set by the Sandbox class)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox's options to a parser (shared by `python -m` and `lsconform sandbox`)."""
    parser.add_argument(
        "--stop-with-parent",
        action="store_true",
        help="stop when the process that started the sandbox exits (a killed test run must "
        "not leave a sandbox behind)",
    )
    parser.add_argument(
        "--profile",
        default="default",
        choices=sorted(profiles.PROFILES),
        help="built-in release to play (default: default)",
    )
    parser.add_argument(
        "--manifests", type=Path, help="rendered chart output (`helm template`) to play instead"
    )
    parser.add_argument("--values", type=Path, help="user values file merged over the profile")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME",
        help="switch on a named fault (repeatable); see docs/sandbox.md for the list",
    )
    parser.add_argument("--workdir", type=Path, help="working directory (default: a new temp dir)")
    parser.add_argument("--kubeconfig-out", type=Path, help="where to write the kubeconfig")
    parser.add_argument(
        "--latency-ms",
        type=_non_negative_int,
        default=0,
        help="delay added to every API request, in milliseconds",
    )
    parser.add_argument(
        "--error-rate",
        type=_rate,
        default=0.0,
        help="share of API requests (0 to 1) that get an injected 500 or 429 response",
    )
    parser.add_argument(
        "--rbac-role", type=Path, help="Role/ClusterRole YAML the API server enforces"
    )
    parser.add_argument("--ready-file", type=Path, help="where to write the ready JSON")
    parser.add_argument(
        "--seed", type=int, help="seed for generated names and addresses (reproducible runs)"
    )
    parser.add_argument(
        "--plain-http", action="store_true", help="serve the API over HTTP instead of HTTPS"
    )


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of milliseconds, got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {value}")
    return value


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        profile=args.profile,
        manifests=args.manifests,
        values=args.values,
        faults=tuple(args.fault or ()),
        workdir=args.workdir,
        kubeconfig_out=args.kubeconfig_out,
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        rbac_role=args.rbac_role,
        ready_file=args.ready_file,
        seed=args.seed,
        tls=not args.plain_http,
        stop_with_parent=args.stop_with_parent,
    )


# ---------------------------------------------------------------------------------------------
# Building the state.


@dataclass
class Built:
    """The state and what the later steps need from its construction."""

    builder: StateBuilder
    state: ClusterState
    specs: list[Any]
    faults: frozenset[str]
    rbac_role_yaml: str | None
    skipped: list[str] = field(default_factory=list)


def build(options: Options, workdir: Path) -> Built:
    """Build the cluster state for `options` (no process started yet)."""
    faults = frozenset(fault_rules.validate_faults(options.faults))
    values = load_values(options.values) if options.values else {}
    manifests = load_manifests(options.manifests, KNOWN_KINDS) if options.manifests else None
    now = datetime.now(timezone.utc)
    specs = profiles.release_specs(
        profile=options.profile, manifests=manifests, values=values, faults=faults, now=now
    )
    builder = StateBuilder(workdir, faults, seed=options.seed, now=now)
    try:
        builder.state.namespace = specs[0].namespace
        builder.add_cluster_basics()
        for spec in specs:
            builder.add_release(spec)
        rbac_yaml = _rbac_role_yaml(options, faults)
        if rbac_yaml is not None:
            _store_roles(builder, rbac_yaml)
        builder.state.rbac_role_yaml = rbac_yaml
        state = builder.finish()
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        builder.close()
        if manifests is None or isinstance(error, ManifestError):
            raise
        # A rendered object passed the manifest checks but misses a field its kind needs
        # (a container without a name, replicas that are not a number, ...).
        logger.debug("laying out %s failed", options.manifests, exc_info=True)
        raise ManifestError(
            f"cannot lay out the objects of {options.manifests}: {type(error).__name__}: "
            f"{error}; check that every object is valid for its kind, for example with "
            "`kubectl apply --dry-run=server -f`"
        ) from error
    except BaseException:
        builder.close()
        raise
    return Built(builder, state, specs, faults, rbac_yaml, manifests.skipped if manifests else [])


def _rbac_role_yaml(options: Options, faults: frozenset[str]) -> str | None:
    if options.rbac_role is not None:
        try:
            text = options.rbac_role.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ManifestError(f"cannot read --rbac-role {options.rbac_role}: {error}") from error
        try:
            Authorizer.from_yaml(text)
        except (InvalidRoleError, yaml.YAMLError) as error:
            raise ManifestError(f"invalid --rbac-role {options.rbac_role}: {error}") from error
        return text
    if "rbac-no-node-proxy" in faults:
        return fault_rules.RBAC_NO_NODE_PROXY_ROLE
    return None


def _store_roles(builder: StateBuilder, text: str) -> None:
    """Keep the enforced roles as objects too, as they would exist in a cluster."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except yaml.YAMLError as error:
        raise ManifestError(f"the RBAC role YAML is not valid YAML: {error}") from error
    for document in documents:
        if document.get("kind") in ("Role", "ClusterRole") and document.get("metadata"):
            builder.put(dict(document))


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a reader never sees a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, indent=2, sort_keys=False), encoding="utf-8")
    os.replace(partial, path)


# ---------------------------------------------------------------------------------------------
# Pods.


def start_pods(built: Built, workdir: Path) -> Any | None:
    """Start the pod processes; None when the pods package is not installed."""
    try:
        from lsconform.sandbox.pods import start_pods as start
    except ImportError as error:
        logger.warning("pod processes not started: %s", error)
        return None
    return start(built.state.plans, workdir, built.faults)


def apply_pod_status(built: Built, group: Any) -> list[str]:
    """Mark containers that did not start as not ready; return `pod/container: reason` lines."""
    problems: list[str] = []
    status: dict[str, dict[str, dict[str, Any]]] = getattr(group, "status", {}) or {}
    for index, plan in enumerate(built.builder.plans):
        pod_status = status.get(f"{plan['namespace']}/{plan['name']}", {})
        for container in plan["containers"]:
            entry = pod_status.get(container["name"])
            if entry is None or entry.get("started"):
                continue
            reason = str(entry.get("reason") or "did not start")
            built.builder.set_ready(
                index, False, reason=f"not started: {reason}", container=container["name"]
            )
            problems.append(f"{plan['namespace']}/{plan['name']}/{container['name']}: {reason}")
    if problems:
        built.builder.publish()
    return problems


# ---------------------------------------------------------------------------------------------
# The run.


class SandboxRun:
    """One running sandbox inside this process (the child side of `lsconform.sandbox.Sandbox`)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.workdir = options.workdir or Path(tempfile.mkdtemp(prefix="lsconform-sandbox-"))
        self.workdir = self.workdir.resolve()
        self.stack = ExitStack()
        self.ready: dict[str, Any] = {}

    def start(self) -> dict[str, Any]:
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        built = build(self.options, self.workdir)
        self.stack.callback(built.builder.close)
        write_json(self.workdir / "pods.json", built.state.plans)
        write_json(self.workdir / "dns.json", built.builder.dns_records())
        group = start_pods(built, self.workdir)
        if group is not None:
            self.stack.callback(group.stop)
            problems = apply_pod_status(built, group)
            for problem in problems:
                logger.warning("container not started: %s", problem)
            write_json(self.workdir / "dns.json", built.builder.dns_records())
        server = self._start_apiserver(built)
        kubeconfig = self.options.kubeconfig_out or self.workdir / "kubeconfig"
        server.write_kubeconfig(kubeconfig.resolve(), built.state.namespace)
        self.ready = self._ready_document(built, group, server, kubeconfig.resolve(), started)
        write_json(self.workdir / "ready.json", self.ready)
        if self.options.ready_file is not None:
            write_json(self.options.ready_file, self.ready)
        return self.ready

    def _start_apiserver(self, built: Built) -> Any:
        from lsconform.sandbox.apiserver.server import ApiServer, ServerSettings

        settings = ServerSettings(
            workdir=self.workdir,
            latency_ms=self.options.latency_ms,
            error_rate=self.options.error_rate,
            rbac_role_yaml=built.rbac_role_yaml,
            tls=self.options.tls,
            error_seed=self.options.seed,
        )
        server = ApiServer(built.state, settings)
        try:
            server.start()
        except (OSError, RuntimeError) as error:
            raise SandboxStartError(f"the API server could not start: {error}") from error
        self.stack.callback(server.stop)
        built.state.put(_apiserver_endpoints(settings.host, server.port))
        if server.certificate is not None:
            built.builder.publish_root_ca(server.certificate.cert_pem().decode())
        return server

    def _ready_document(
        self, built: Built, group: Any, server: Any, kubeconfig: Path, started: float
    ) -> dict[str, Any]:
        pods, _ = built.state.list("pods", "", None)
        status: dict[str, Any] = getattr(group, "status", {}) if group is not None else {}
        return {
            "pid": os.getpid(),
            "profile": None if self.options.manifests else self.options.profile,
            "manifests": str(self.options.manifests) if self.options.manifests else None,
            "faults": sorted(built.faults),
            "namespace": built.state.namespace,
            "release": built.specs[0].release,
            "releases": [
                {"name": spec.release, "namespace": spec.namespace} for spec in built.specs
            ],
            "api_url": server.url,
            "kubeconfig": str(kubeconfig),
            "workdir": str(self.workdir),
            "pods_started": group is not None,
            "backends": dict(getattr(group, "backends", {}) or {}),
            "binaries": dict(getattr(group, "binaries", {}) or {}),
            "skipped_objects": built.skipped,
            "address_blocks": list(built.builder.addresses.blocks),
            "startup_seconds": round(time.monotonic() - started, 3),
            "pods": [_pod_summary(pod, status) for pod in pods],
        }

    def stop(self) -> None:
        self.stack.close()


def _pod_summary(pod: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    metadata = pod["metadata"]
    key = f"{metadata['namespace']}/{metadata['name']}"
    containers = {}
    for container_status in pod["status"].get("containerStatuses", []):
        entry = status.get(key, {}).get(container_status["name"], {})
        containers[container_status["name"]] = {
            "ready": container_status["ready"],
            "started": bool(entry.get("started", False)),
            "reason": entry.get("reason", ""),
        }
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"])
    return {
        "namespace": metadata["namespace"],
        "name": metadata["name"],
        "ip": pod["status"]["podIP"],
        "node": pod["spec"]["nodeName"],
        "ready": ready,
        "containers": containers,
    }


def _apiserver_endpoints(host: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [
            {
                "addresses": [{"ip": host}],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            }
        ],
    }


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    """Make SIGINT and SIGTERM set `stop`; return the previous handlers to restore later."""

    def handle(signum: int, frame: FrameType | None) -> None:
        del frame
        logger.info("received signal %d; stopping the sandbox", signum)
        stop.set()

    previous: dict[int, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, handle)
    return previous


def run(options: Options, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run a sandbox in the foreground until SIGINT or SIGTERM; return the exit status."""
    stop = threading.Event()
    previous_handlers = _install_signal_handlers(stop)
    sandbox = SandboxRun(options)
    try:
        try:
            ready = sandbox.start()
        except (ManifestError, profiles.ProfileError, fault_rules.UnknownFaultError) as error:
            err.write(f"lsconform sandbox: {error}\n")
            return EXIT_USAGE
        except SandboxStartError as error:
            err.write(f"lsconform sandbox: {error}\n")
            return EXIT_START_FAILED
        except OSError as error:
            # A port or address already in use, a workdir that cannot be written, ...
            logger.debug("sandbox start failed", exc_info=True)
            err.write(f"lsconform sandbox: could not start: {error}\n")
            return EXIT_START_FAILED
        except Exception as error:
            if type(error).__name__ != "MissingBinaryError":
                raise
            err.write(f"lsconform sandbox: {error}\n")
            return EXIT_START_FAILED
        not_ready = sum(1 for pod in ready["pods"] if not pod["ready"])
        out.write(f"kubeconfig: {ready['kubeconfig']}\n")
        out.write(f"namespace: {ready['namespace']}\n")
        out.write(
            f"{READY_PREFIX} release {ready['release']} in namespace {ready['namespace']}, "
            f"{len(ready['pods'])} pods ({not_ready} not ready), API {ready['api_url']}, "
            f"workdir {ready['workdir']}\n"
        )
        out.flush()
        parent = os.getppid()
        while not stop.wait(0.5):
            if options.stop_with_parent and os.getppid() != parent:
                logger.warning("the process that started the sandbox exited; stopping")
                break
        out.write("sandbox stopped\n")
        out.flush()
        return EXIT_OK
    finally:
        sandbox.stop()
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lsconform.sandbox",
        description="Play a self-hosted LangSmith release on loopback until interrupted.",
    )
    add_arguments(parser)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    return run(options_from(args))
