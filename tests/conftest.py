"""Project-wide test configuration: pytester, isolation from any real cluster, leak checks."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

LEAK_GRACE_SECONDS = 3.0


@pytest.fixture(autouse=True, scope="session")
def _no_ambient_kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point KUBECONFIG at a file that does not exist, so no test can reach a real cluster."""
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(tmp_path_factory.mktemp("no-cluster") / "missing-kubeconfig")
    yield
    if previous is None:
        os.environ.pop("KUBECONFIG", None)
    else:
        os.environ["KUBECONFIG"] = previous


def _child_pids() -> set[int]:
    children: set[int] = set()
    own = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The parent pid is the fourth field, after the command name in parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == own and fields[0] != "Z":
            children.add(int(entry.name))
    return children


def _listening_inodes() -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                inodes.add(fields[9])
    own: set[str] = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            own.add(target[8:-1])
    return inodes & own


@pytest.fixture(autouse=True)
def _no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves child processes, non-daemon threads or listening sockets behind.

    Session-scoped fixtures (a shared sandbox) start before the first test that uses them and
    are not counted, because the snapshot is taken after fixture setup.
    """
    threads_before = {t.ident for t in threading.enumerate()}
    children_before = _child_pids()
    sockets_before = _listening_inodes()
    yield
    if request.node.get_closest_marker("allow_leaks"):
        return
    # Threads and processes a test stopped may take a moment to end (gRPC's server shutdown
    # runs a grace-period thread, a terminated child needs to be reaped), so wait a little.
    deadline = time.monotonic() + LEAK_GRACE_SECONDS
    while True:
        leaked_threads = [
            t.name
            for t in threading.enumerate()
            if t.ident not in threads_before and t.is_alive() and not t.daemon
        ]
        leaked_children = _child_pids() - children_before
        leaked_sockets = _listening_inodes() - sockets_before
        clean = not (leaked_threads or leaked_children or leaked_sockets)
        if clean or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    problems = []
    if leaked_threads:
        problems.append(f"threads still running: {leaked_threads}")
    if leaked_children:
        problems.append(f"child processes still running: {sorted(leaked_children)}")
    if leaked_sockets:
        problems.append(f"listening sockets still open: {len(leaked_sockets)}")
    if problems:
        pytest.fail("test leaked resources: " + "; ".join(problems), pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_leaks: the test hands a running resource to a later fixture on purpose"
    )
