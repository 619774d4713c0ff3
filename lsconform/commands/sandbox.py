"""`lsconform sandbox`: play a self-hosted LangSmith release on loopback until interrupted.

The same program as `python -m lsconform.sandbox`, run in this process: it prints the kubeconfig
path, the namespace and a `sandbox ready: ...` line, then serves until SIGINT or SIGTERM and stops
every process it started. Exit status: 0 after a clean stop, 2 for invalid options or input, 3
when the sandbox could not start.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `sandbox` subcommand."""
    from lsconform.sandbox import orchestrator

    parser = subparsers.add_parser(
        "sandbox",
        help="play a LangSmith release on loopback (healthy or with named faults)",
        description=(
            "Play a self-hosted LangSmith release on loopback, with a Kubernetes API server "
            "that kubectl and the suite can use, until interrupted."
        ),
    )
    orchestrator.add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lsconform.sandbox import orchestrator

    return orchestrator.run(orchestrator.options_from(args))
