"""Log collector configurations and what they would do with each LangSmith container's logs.

`discover.from_objects` and `discover.from_files` find the collectors; each collector's
`evaluate(target)` returns a `Verdict` for one `ContainerLogTarget`.
"""

from lsconform.probes.collectors.model import (
    Collector,
    ContainerLogTarget,
    Family,
    Outcome,
    Reader,
    Verdict,
)

__all__ = ["Collector", "ContainerLogTarget", "Family", "Outcome", "Reader", "Verdict"]
