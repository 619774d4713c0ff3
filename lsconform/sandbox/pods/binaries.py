"""Where the real binaries are, and the Debian package that provides each one."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

REQUIRE_REAL_ENV = "LSCONFORM_SANDBOX_REQUIRE_REAL"


@dataclass(frozen=True)
class Binary:
    """A real program the sandbox runs when it is installed."""

    key: str
    names: tuple[str, ...]
    paths: tuple[str, ...]
    package: str


BINARIES = {
    "nginx": Binary("nginx", ("nginx",), ("/usr/sbin/nginx",), "nginx-light (or nginx)"),
    "postgres": Binary("postgres", ("postgres",), (), "postgresql"),
    "redis-server": Binary(
        "redis-server", ("redis-server",), ("/usr/bin/redis-server",), "redis-server"
    ),
    "postgres_exporter": Binary(
        "postgres_exporter",
        ("postgres_exporter", "prometheus-postgres-exporter"),
        ("/usr/bin/prometheus-postgres-exporter",),
        "prometheus-postgres-exporter",
    ),
    "redis_exporter": Binary(
        "redis_exporter",
        ("redis_exporter", "prometheus-redis-exporter"),
        ("/usr/bin/prometheus-redis-exporter",),
        "prometheus-redis-exporter",
    ),
}

# The binary each role runs when it is real.
ROLE_BINARY = {
    "frontend": "nginx",
    "postgres": "postgres",
    "redis": "redis-server",
    "postgres-exporter": "postgres_exporter",
    "redis-exporter": "redis_exporter",
}


class MissingBinaryError(RuntimeError):
    """A real binary is required (LSCONFORM_SANDBOX_REQUIRE_REAL=1) but not installed."""


def _postgres_dirs() -> list[Path]:
    """Return Debian's versioned PostgreSQL bin directories, newest major version first."""
    root = Path("/usr/lib/postgresql")
    if not root.is_dir():
        return []
    versions = [p for p in root.iterdir() if re.fullmatch(r"\d+", p.name)]
    return [p / "bin" for p in sorted(versions, key=lambda p: int(p.name), reverse=True)]


def find_binary(key: str) -> str | None:
    """Return the path of a real binary, or None when it is not installed."""
    spec = BINARIES[key]
    candidates: list[str] = []
    if key == "postgres":
        candidates += [str(d / "postgres") for d in _postgres_dirs()]
    candidates += list(spec.paths)
    for name in spec.names:
        found = shutil.which(name)
        if found:
            candidates.append(found)
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_real() -> bool:
    """Tell whether a missing real binary is an error rather than a reason to simulate."""
    return os.environ.get(REQUIRE_REAL_ENV, "") not in {"", "0", "false", "no"}


def missing_message(key: str) -> str:
    spec = BINARIES[key]
    return (
        f"{key} is not installed, and {REQUIRE_REAL_ENV}=1 requires the real binary: "
        f"install the Debian package {spec.package} (apt-get install {spec.package.split()[0]}), "
        f"or unset {REQUIRE_REAL_ENV} to let the sandbox simulate it"
    )
