"""Container log files laid out the way a kubelet with a CRI runtime (containerd) writes them.

Each container writes `/var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log` on its node, one
line per record: `<RFC3339Nano timestamp> <stdout|stderr> <F|P> <message>`. containerd splits a
record longer than 16 KiB into partial (`P`) lines and marks the last piece `F`. The kubelet also
links `/var/log/containers/<pod>_<ns>_<container>-<container id>.log` to the current file, with the
node-absolute path as the link target.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from lsconform.sandbox.pods.plans import container_id_hex

log = logging.getLogger(__name__)

# containerd's default maximum size of one log line before it splits a record (16 KiB).
CRI_MAX_LINE_BYTES = 16 * 1024

# The runtime log root that the `logs-link-dangling` fault points links at. Nothing is written
# there, so the link dangles on the node, as when a provider keeps runtime logs under /mnt.
DANGLING_LOG_ROOT = "/mnt/runtime-logs/pods"


def rfc3339_nano(timestamp_ns: int | None = None) -> str:
    """Format a UNIX time in nanoseconds as RFC 3339 with nine fractional digits, in UTC."""
    ns = time.time_ns() if timestamp_ns is None else timestamp_ns
    seconds, fraction = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


def cri_lines(stream: str, message: str, timestamp_ns: int | None = None) -> list[str]:
    """Turn one log record into CRI lines, splitting it into `P` pieces past 16 KiB."""
    stamp = rfc3339_nano(timestamp_ns)
    data = message.encode("utf-8", errors="replace")
    pieces = [data[i : i + CRI_MAX_LINE_BYTES] for i in range(0, len(data), CRI_MAX_LINE_BYTES)]
    if not pieces:
        pieces = [b""]
    lines = []
    for index, piece in enumerate(pieces):
        tag = "F" if index == len(pieces) - 1 else "P"
        text = piece.decode("utf-8", errors="replace")
        lines.append(f"{stamp} {stream} {tag} {text}\n")
    return lines


class ContainerLog:
    """The node log file of one container, with its `/var/log/containers` link.

    `mode` selects how the container's logs reach the node: "normal", "missing" (no file and no
    link, as when the runtime writes elsewhere), "dangling" (the link targets a path that does not
    exist on the node) or "silent" (the file exists but the container never writes a line).
    """

    def __init__(
        self,
        plan: Mapping[str, Any],
        container: Mapping[str, Any],
        mode: str = "normal",
        restart_count: int | None = None,
    ) -> None:
        self.pod = str(plan["name"])
        self.namespace = str(plan["namespace"])
        self.uid = str(plan["uid"])
        self.name = str(container["name"])
        self.container_hex = container_id_hex(container)
        if restart_count is None:
            restart_count = int(container.get("restart_count") or 0)
        self.restart_count = restart_count
        self.log_dir = Path(container["log_dir"])
        self.mode = mode
        self._lock = threading.Lock()
        self._file: TextIO | None = None

    # Layout -----------------------------------------------------------------------------

    @property
    def var_log(self) -> Path:
        """The node's `/var/log` directory inside the workdir."""
        return self.log_dir.parent.parent.parent

    @property
    def current_path(self) -> Path:
        return self.log_dir / f"{self.restart_count}.log"

    @property
    def previous_path(self) -> Path:
        return self.log_dir / f"{self.restart_count - 1}.log"

    @property
    def link_path(self) -> Path:
        name = f"{self.pod}_{self.namespace}_{self.name}-{self.container_hex}.log"
        return self.var_log / "containers" / name

    def node_target(self, restart: int) -> str:
        """Return the node-absolute path a kubelet puts in the link for restart number `restart`."""
        pod_dir = f"{self.namespace}_{self.pod}_{self.uid}"
        root = DANGLING_LOG_ROOT if self.mode == "dangling" else "/var/log/pods"
        return f"{root}/{pod_dir}/{self.name}/{restart}.log"

    # Writing ----------------------------------------------------------------------------

    def open(self) -> None:
        """Create the log directory, the current file and the link (as the mode allows)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.mode == "missing":
            log.info("container %s/%s writes no node log file (fault)", self.pod, self.name)
            return
        self._file = self.current_path.open("a", encoding="utf-8")
        self._link()

    def _link(self) -> None:
        link = self.link_path
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(self.node_target(self.restart_count), link)

    def write(self, message: str, stream: str = "stdout") -> None:
        """Append one record to the current file (nothing for a silent or missing container)."""
        if self._file is None or self.mode == "silent":
            return
        with self._lock:
            self._file.writelines(cri_lines(stream, message))
            self._file.flush()

    def write_previous(self, records: Iterable[tuple[str, str]], start_ns: int) -> None:
        """Write the file of the previous run (`<restart-1>.log`) from (stream, message) records.

        Records are stamped one millisecond apart from `start_ns` on.
        """
        if self.restart_count < 1 or self.mode == "missing":
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.previous_path.open("w", encoding="utf-8") as handle:
            for offset, (stream, message) in enumerate(records):
                handle.writelines(cri_lines(stream, message, start_ns + offset * 1_000_000))

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def log_mode(faults: set[str]) -> str:
    """Pick the `ContainerLog` mode of a pod's main container from its faults."""
    if "logs-missing-on-node" in faults:
        return "missing"
    if "logs-link-dangling" in faults:
        return "dangling"
    if "container-silent" in faults:
        return "silent"
    return "normal"
