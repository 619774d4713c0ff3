"""A sandbox started with --stop-with-parent stops when the process that started it exits."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

STOP_WAIT = 20.0  # seconds; the watch polls every 0.5 s, then every pod is stopped


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sandbox_stops_with_parent(tmp_path: Path) -> None:
    workdir = tmp_path / "sandbox"
    ready = workdir / "ready.json"
    # The shell starts the sandbox, waits until it is ready, prints its pid and exits.
    script = (
        f"{sys.executable} -m lsconform.sandbox --stop-with-parent --workdir {workdir} "
        f"--ready-file {ready} >{tmp_path / 'out.log'} 2>&1 & "
        f"for i in $(seq 300); do [ -f {ready} ] && break; sleep 0.1; done; echo $!"
    )
    launched = subprocess.run(
        ["sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pid = int(launched.stdout.strip())
    assert ready.is_file()
    deadline = time.monotonic() + STOP_WAIT
    while is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not is_running(pid)
    assert "sandbox stopped" in (tmp_path / "out.log").read_text()
