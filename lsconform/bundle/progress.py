"""A rich progress bar for bundle collection, counting collected files and requests."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class RichProgress:
    """Show `collected M of N` with a bar on the given console (stderr by default).

    Tasks are added as collection plans them, so N grows while the first wave finds pods.
    Used as a context manager; the bar disappears when collection ends.
    """

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]bundle[/bold] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("tasks"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        self._task = self._progress.add_task("collecting", total=0)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def add(self, count: int) -> None:
        """Add `count` planned tasks to the total."""
        if self._task is not None:
            task = self._progress.tasks[0]
            self._progress.update(self._task, total=(task.total or 0) + count)

    def advance(self, description: str) -> None:
        """Count one finished task and show its name."""
        if self._task is not None:
            self._progress.update(self._task, advance=1, description=description[:60])
