"""The processes that play the pods of the sandbox.

`start_pods(plans, workdir, faults)` starts real nginx, PostgreSQL, Redis and their exporters
where they are installed, and one host process that plays every simulated pod (the LangSmith
services, ClickHouse and the stand-ins for missing binaries). It returns a `PodGroup` whose
`stop()` ends them all.
"""

from lsconform.sandbox.pods.binaries import MissingBinaryError
from lsconform.sandbox.pods.group import PodGroup, start_pods

__all__ = ["MissingBinaryError", "PodGroup", "start_pods"]
