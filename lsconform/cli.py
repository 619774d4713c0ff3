"""The `lsconform` command: subcommands for the sandbox, linting, probing, reports and bundles.

Each subcommand lives in its own module under `lsconform.commands` and provides
`register(subparsers)`, which adds its parser and sets `func` to a callable that takes the parsed
arguments and returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from lsconform import __version__, commands


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand module found in `lsconform.commands`."""
    parser = argparse.ArgumentParser(
        prog="lsconform",
        description="Conformance and diagnostics for self-hosted LangSmith telemetry.",
    )
    parser.add_argument("--version", action="version", version=f"lsconform {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `lsconform` command line and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
