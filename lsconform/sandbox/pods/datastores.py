"""Real PostgreSQL, Redis and their Prometheus exporters.

PostgreSQL: `initdb` runs once into a per-user cache (a template data directory); each sandbox
copies the template, which keeps startup well under a second. One server listens on the
addresses of every postgres pod of the run (they share one database cluster). The copy lives in a
private directory on tmpfs (or the system temp dir), linked from `run/<pod>/pgdata`. It is kept
out of the workdir because PostgreSQL refuses to run as root. Under root the server runs as the
`postgres` user, who may not be able to enter the workdir.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

POSTGRES_USER = "postgres"
# Seconds initdb may take on a slow machine before the sandbox gives up.
INITDB_TIMEOUT_S = 120.0
CACHE_ENV = "LSCONFORM_CACHE_DIR"
TEMPLATE_LAYOUT = "wal1m"
PRIVATE_PREFIX = "lsconform-pg-"
# Holds the pid of the sandbox process that owns a private data directory.
OWNER_FILE = "owner.pid"


def cache_root() -> Path:
    """Return the per-user cache directory of lsconform."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lsconform"


def _server_user() -> str | None:
    """Return the user PostgreSQL must run as (None: the current user)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(POSTGRES_USER)
    except KeyError as error:
        raise RuntimeError(
            "PostgreSQL cannot run as root and there is no 'postgres' user; "
            "install the Debian package postgresql, which creates it"
        ) from error
    return POSTGRES_USER


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def _run_initdb(initdb: str, target: Path, user: str | None) -> None:
    argv = [
        initdb,
        "-D",
        str(target),
        "-U",
        "postgres",
        "--auth=trust",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C",
        # 1 MiB WAL segments instead of 16 MiB make the template small enough to copy quickly.
        "--wal-segsize=1",
    ]
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        user=user,
        timeout=INITDB_TIMEOUT_S,
        check=False,
        cwd="/",
    )
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed ({result.returncode}): {result.stderr.strip()[-500:]}")


def postgres_template(postgres: str) -> Path:
    """Return the cached template data directory, running initdb first if there is none."""
    bin_dir = Path(postgres).parent
    version = bin_dir.parent.name if bin_dir.parent.name.isdigit() else "default"
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    # The name changes whenever the initdb options do, so an older template is never reused.
    template = root / f"pgdata-{version}-{TEMPLATE_LAYOUT}"
    with (root / "pgdata.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (template / "PG_VERSION").is_file():
            return template
        user = _server_user()
        scratch = Path(tempfile.mkdtemp(prefix="lsconform-initdb-"))
        try:
            if user is not None:
                _chown_tree(scratch, user)
            log.info("running initdb once into the cache %s", template)
            _run_initdb(str(bin_dir / "initdb"), scratch / "data", user)
            staging = root / f"{template.name}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(scratch / "data", staging, symlinks=True)
            os.replace(staging, template)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return template


def _private_root() -> Path:
    """Return where data directories live: tmpfs when there is one, else the system temp dir.

    Copying the template to tmpfs is several times faster than to disk.
    """
    shm = Path("/dev/shm")  # noqa: S108 - only mkdtemp() creates entries in it
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return Path(tempfile.gettempdir())


def _sweep_orphans(root: Path) -> None:
    """Remove data directories whose sandbox process is gone (killed before it could clean up)."""
    for candidate in root.glob(f"{PRIVATE_PREFIX}*"):
        try:
            owner = int((candidate / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not Path(f"/proc/{owner}").exists():
            log.info("removing %s, left behind by process %d", candidate, owner)
            shutil.rmtree(candidate, ignore_errors=True)


class PostgresInstance:
    """One PostgreSQL server's data and socket directories, ready to start.

    The data directory is a copy of the cached template in a private directory (see
    `_private_root`), linked from `run_dir/pgdata`.
    """

    def __init__(self, postgres: str, run_dir: Path) -> None:
        self.binary = postgres
        self.user = _server_user()
        run_dir.mkdir(parents=True, exist_ok=True)
        template = postgres_template(postgres)
        root = _private_root()
        _sweep_orphans(root)
        self.private = Path(tempfile.mkdtemp(prefix=PRIVATE_PREFIX, dir=root))
        (self.private / OWNER_FILE).write_text(str(os.getpid()))
        self.base = self.private
        self.data = self.base / "pgdata"
        shutil.copytree(template, self.data, symlinks=True)
        os.chmod(self.data, 0o700)
        # initdb trusts 127.0.0.1 only; clients of the pod addresses may connect from any
        # loopback address.
        with (self.data / "pg_hba.conf").open("a", encoding="utf-8") as hba:
            hba.write("host all all 127.0.0.0/8 trust\n")
        if self.user is not None:
            _chown_tree(self.base, self.user)
        link = run_dir / "pgdata"
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        link.symlink_to(self.data)

    def command(self, addresses: Sequence[str], port: int) -> list[str]:
        settings = {
            "listen_addresses": ",".join(addresses),
            "port": str(port),
            "unix_socket_directories": str(self.base),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "16MB",
            "max_connections": "40",
            "logging_collector": "off",
            # Segments in the data directory instead of /dev/shm, so they go with the copy.
            "dynamic_shared_memory_type": "mmap",
            "log_destination": "stderr",
        }
        argv = [self.binary, "-D", str(self.data)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def cleanup(self) -> None:
        shutil.rmtree(self.private, ignore_errors=True)


def redis_command(binary: str, ip: str, port: int, run_dir: Path) -> list[str]:
    """Return the redis-server command line: no persistence, bound to the pod address only."""
    run_dir.mkdir(parents=True, exist_ok=True)
    return [
        binary,
        "--bind",
        ip,
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(run_dir),
        "--daemonize",
        "no",
        "--protected-mode",
        "no",
        "--logfile",
        "",
    ]


def closed_port(ip: str) -> int:
    """Return a port on `ip` that nothing listens on (the kernel's pick, released at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((ip, 0))
        port: int = probe.getsockname()[1]
    return port


def find_datastore(
    plans: Sequence[Mapping[str, Any]], role: str, exporter: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """Pick the datastore pod an exporter pod points at.

    The exporter's env (DATA_SOURCE_URI, DATA_SOURCE_NAME or REDIS_ADDR) names the datastore's
    Service host. The target is the pod of that role whose name starts with the Service name, in
    the namespace the host names. Without such a hint it is the LangSmith release's own pod
    (component `postgres` or `redis`).
    """
    candidates = sorted(
        (p for p in plans if p.get("role") == role), key=lambda p: (p["namespace"], p["name"])
    )
    env: Mapping[str, str] = {}
    containers = exporter.get("containers") or []
    if containers:
        env = containers[0].get("env") or {}
    for key in ("DATA_SOURCE_URI", "DATA_SOURCE_NAME", "REDIS_ADDR"):
        host = _host_of(env.get(key, ""))
        if not host:
            continue
        labels = host.split(".")
        namespace = labels[1] if len(labels) > 1 else str(exporter.get("namespace"))
        for plan in candidates:
            if plan["namespace"] == namespace and str(plan["name"]).startswith(labels[0] + "-"):
                return plan
    for plan in candidates:
        if plan.get("component") == role:
            return plan
    return candidates[0] if candidates else None


def _host_of(value: str) -> str:
    if not value:
        return ""
    rest = value.split("://", 1)[-1]
    rest = rest.rsplit("@", 1)[-1]
    hostport = rest.split("/", 1)[0].split("?", 1)[0]
    return hostport.rsplit(":", 1)[0] if ":" in hostport else hostport


def datastore_port(plan: Mapping[str, Any], default: int) -> int:
    for container in plan.get("containers") or []:
        for port in container.get("ports") or []:
            return int(port["containerPort"])
    return default
