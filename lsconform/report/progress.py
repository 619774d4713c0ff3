"""A live progress display on the terminal while the checks run."""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


class ProgressDisplay:
    """A bar of finished checks and failures, drawn on `stream` and erased at the end."""

    def __init__(self, total: int, stream: IO[str]) -> None:
        self._failures = 0
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]lsconform[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failures]}"),
            TextColumn("[dim]{task.description}"),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=True,
        )
        self._task = self._progress.add_task("starting", total=total, failures="")

    def start(self) -> None:
        self._progress.start()

    def advance(self, description: str, *, failed: bool) -> None:
        """Count one finished check; `description` names what runs now."""
        if failed:
            self._failures += 1
        failures = f"[red]{self._failures} failed[/]" if self._failures else ""
        self._progress.update(
            self._task, advance=1, description=description[:60], failures=failures
        )

    def stop(self) -> None:
        self._progress.stop()
