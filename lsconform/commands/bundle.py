"""`lsconform bundle --namespace NS [PATH]`: write a redacted support bundle without running checks.

Exit status: 0 when the bundle was written, even if some artefacts could not be collected (the
manifest lists them). 1 when the verification scan found a secret and the bundle was deleted.
2 for invalid arguments or a kubeconfig that cannot be used.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rich.console import Console

from lsconform.bundle import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_TOTAL_BYTES,
    NO_REDACT_WARNING,
    BundleLeakError,
    BundleSummary,
    load_patterns,
    parse_pattern,
    write_bundle,
)
from lsconform.bundle.archive import ArchiveFormat
from lsconform.bundle.progress import RichProgress
from lsconform.bundle.redact import Pattern
from lsconform.cluster.client import ClusterClient
from lsconform.cluster.errors import ClusterError


def register(subparsers: Any) -> None:
    """Add the `bundle` subcommand."""
    parser = subparsers.add_parser(
        "bundle",
        help="write a redacted support bundle of a LangSmith namespace",
        description="Collect what LangSmith support asks for (resources, events, pod "
        "descriptions, logs, Helm history and values, config ConfigMaps, metrics snapshots, "
        "collector configurations, versions) into one archive. Secrets are redacted unless "
        "--no-redact is given; the written archive is scanned for every secret value seen.",
    )
    parser.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=None,
        help="archive file or folder (default: ./lsconform-bundle-<namespace>-<time>.<format>)",
    )
    parser.add_argument("-n", "--namespace", required=True, help="namespace of the release")
    parser.add_argument("--release", default=None, help="Helm release name (default: found)")
    parser.add_argument("--kubeconfig", default=None, help="path to the kubeconfig file")
    parser.add_argument("--context", default=None, help="kubeconfig context to use")
    parser.add_argument(
        "--bundle-format",
        choices=[f.value for f in ArchiveFormat],
        default=ArchiveFormat.TAR_GZ.value,
        help="archive format (default tar.gz)",
    )
    parser.add_argument(
        "--no-redact",
        action="store_true",
        help="write secrets and user data as collected (Secret values are "
        "still never collected); the bundle carries a warning",
    )
    parser.add_argument(
        "--redact-pattern",
        action="append",
        default=[],
        metavar="[NAME::]REGEX",
        help="extra regular expression to redact (repeatable); a group named "
        "`secret` limits the replacement to that group",
    )
    parser.add_argument(
        "--redact-patterns-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="file with one [NAME::]REGEX per line (# starts a comment); "
        "LSCONFORM_REDACT_PATTERNS_FILE sets a default",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        help=f"API requests in flight at once (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--max-file-size",
        type=_positive_int,
        default=DEFAULT_MAX_FILE_BYTES,
        metavar="BYTES",
        help=f"cut each file at this size (default {DEFAULT_MAX_FILE_BYTES})",
    )
    parser.add_argument(
        "--max-total-size",
        type=_positive_int,
        default=DEFAULT_MAX_TOTAL_BYTES,
        metavar="BYTES",
        help=f"leave out files past this total size (default {DEFAULT_MAX_TOTAL_BYTES})",
    )
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    parser.set_defaults(func=run_bundle)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}: expected an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}: must be at least 1")
    return value


def user_patterns(specs: list[str], patterns_file: Path | None) -> list[Pattern]:
    """Parse the patterns given on the command line and in the patterns file."""
    patterns = [parse_pattern(spec) for spec in specs]
    path = patterns_file or _env_path("LSCONFORM_REDACT_PATTERNS_FILE")
    if path is not None:
        with path.open(encoding="utf-8") as stream:
            patterns += load_patterns(stream)
    return patterns


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def run_bundle(args: argparse.Namespace) -> int:
    """Write the bundle and print where it is, what failed and what was redacted."""
    console = Console(stderr=True, soft_wrap=True)
    try:
        patterns = user_patterns(args.redact_pattern, args.redact_patterns_file)
    except (OSError, ValueError) as error:
        console.print(f"lsconform bundle: {error}", markup=False)
        return 2
    try:
        client = ClusterClient.connect(
            kubeconfig=args.kubeconfig, context=args.context, environ=os.environ
        )
    except ClusterError as error:
        console.print(f"lsconform bundle: {error}", markup=False)
        return 2
    if args.no_redact:
        console.print(f"[bold red]{NO_REDACT_WARNING}[/bold red]")
    try:
        with client:
            summary = _write(client, args, patterns, console)
    except BundleLeakError as error:
        console.print(f"[bold red]lsconform bundle: {error}[/bold red]", markup=True)
        return 1
    _print_summary(summary, console)
    return 0


def _write(
    client: ClusterClient, args: argparse.Namespace, patterns: list[Pattern], console: Console
) -> BundleSummary:
    options: dict[str, Any] = {
        "redact": not args.no_redact,
        "fmt": args.bundle_format,
        "extra_patterns": patterns,
        "concurrency": args.concurrency,
        "max_file_bytes": args.max_file_size,
        "max_total_bytes": args.max_total_size,
        "release": args.release,
    }
    target = args.namespace
    if args.no_progress or not console.is_terminal:
        return write_bundle(client, target, args.path, **options)
    with RichProgress(console) as progress:
        return write_bundle(client, target, args.path, progress=progress, **options)


def _print_summary(summary: BundleSummary, console: Console) -> None:
    print(f"bundle written: {summary.path}")
    print(
        f"  {summary.files} files, {summary.size} bytes, {summary.duration:.1f} s; "
        f"namespace {summary.namespace}, release {summary.release or '(none found)'}"
    )
    if summary.errors:
        print(
            f"  {summary.errors} artefact(s) could not be collected; see `errors` in manifest.json"
        )
    if summary.redacted:
        counts = ", ".join(f"{name} {count}" for name, count in summary.redactions.items())
        print(f"  redacted: {counts or 'nothing'}")
        print(f"  verification: {summary.secrets_checked} secret values searched, none found")
    else:
        console.print(f"[bold red]{NO_REDACT_WARNING}[/bold red]")
