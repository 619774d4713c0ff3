"""Child processes that die with the sandbox: own process group, parent-death signal, log pumps.

Every process starts in a new session (so `stop()` can signal the whole group, including the
workers nginx and PostgreSQL fork) with PR_SET_PDEATHSIG set to SIGKILL, so it is killed by the
kernel if the sandbox process dies without stopping it.

NOTE: Linux sends the parent-death signal when the *thread* that started the child exits, so
`start_pods` must be called from a thread that lives as long as the pods (the main thread).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
# How long `stop()` waits after SIGTERM before it sends SIGKILL to the group (seconds).
TERM_GRACE_S = 3.0


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this (child) process when its parent thread exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


LineSink = Callable[[str, str], None]


class ManagedProcess:
    """A started child process whose stdout and stderr lines go to a sink(stream, line)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        sink: LineSink,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.sink = sink
        self.process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            user=user,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self.pumps = [
            self._pump(self.process.stdout, "stdout"),
            self._pump(self.process.stderr, "stderr"),
        ]
        log.info("started %s (pid %d): %s", name, self.process.pid, self.argv[0])

    def _pump(self, stream: IO[bytes] | None, kind: str) -> threading.Thread:
        def run() -> None:
            assert stream is not None
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                try:
                    self.sink(kind, line)
                except Exception:  # a broken sink must not stop the pump, or the child blocks
                    log.exception("log sink of %s failed", self.name)
            stream.close()

        thread = threading.Thread(target=run, name=f"pump-{self.name}-{kind}", daemon=True)
        thread.start()
        return thread

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = TERM_GRACE_S) -> None:
        """Send SIGTERM to the process group, then SIGKILL after `grace` seconds."""
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.1f s; killing it", self.name, grace)
        # Kill what is left of the group (workers of a master that exited first, for instance).
        self._signal_group(signal.SIGKILL)
        self.process.wait()
        for pump in self.pumps:
            pump.join(timeout=1.0)
        log.info("stopped %s (pid %d)", self.name, self.process.pid)

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass
        except PermissionError as error:
            log.warning("cannot signal %s: %s", self.name, error)


def _listening_inodes(host: str, port: int) -> set[str]:
    """Return the socket inodes listening on IPv4 host:port, from /proc/net/tcp."""
    local = f"{socket.inet_aton(host)[::-1].hex().upper()}:{port:04X}"
    inodes: set[str] = set()
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return inodes
    for line in lines:
        fields = line.split()
        if fields[1] == local and fields[3] == "0A":  # 0A is TCP_LISTEN
            inodes.add(fields[9])
    return inodes


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name: state, ppid, pgrp.
        if int(stat[stat.rfind(")") + 2 :].split()[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def owns_listener(pgid: int, host: str, port: int) -> bool:
    """Tell whether a process of group `pgid` holds the socket listening on host:port."""
    inodes = _listening_inodes(host, port)
    if not inodes:
        return False
    for pid in _group_pids(pgid):
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                target = os.readlink(descriptor)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return True
    return False


def wait_for_port(host: str, port: int, timeout: float, process: ManagedProcess) -> bool:
    """Poll until `process` (or its group) listens on host:port.

    Returns False when the timeout passes or the process exits first. Another program that
    happens to listen on the same address does not count.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if owns_listener(process.pid, host, port):
            return True
        if not process.is_running():
            return False
        time.sleep(0.05)
    return False
