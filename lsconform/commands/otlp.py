"""`lsconform otlp probe ENDPOINT`: send one small OTLP trace and report the outcome in one line.

Exit status: 0 when the collector accepted every span, 1 when it did not (refused, rejected,
partially rejected, timed out), 2 for invalid arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from lsconform.constants import OTLP_GRPC_PORT, OTLP_HTTP_TRACES_PATH
from lsconform.probes.otlp import PROBE_SERVICE_NAME, build_probe_request, new_probe_id
from lsconform.probes.otlp_endpoint import (
    Endpoint,
    EndpointSyntaxError,
    check_endpoint,
    parse_endpoint,
)

DEFAULT_TIMEOUT = 10.0  # seconds


def register(subparsers: Any) -> None:
    """Add `otlp` with its `probe` subcommand."""
    parser = subparsers.add_parser("otlp", help="probe an OTLP trace endpoint")
    actions = parser.add_subparsers(dest="otlp_command", metavar="ACTION")
    probe = actions.add_parser(
        "probe",
        help="send one small trace to a collector and explain the outcome",
        description="Send one OTLP trace (3 spans, one with a 4 KiB attribute) carrying a "
        "unique lsconform.probe.id and report whether the collector accepted, partially "
        "rejected or refused it, in one line.",
    )
    probe.add_argument(
        "endpoint",
        help="for http: the full URL as OTLP_ENDPOINT holds it (http://host:4318/v1/traces); "
        "for grpc: host:port",
    )
    probe.add_argument(
        "--protocol",
        choices=("http", "grpc"),
        default=None,
        help="OTLP/HTTP protobuf or OTLP/gRPC (default: grpc for port 4317 or a scheme-less "
        "host:port, otherwise http)",
    )
    probe.add_argument(
        "--insecure",
        action="store_true",
        help="gRPC: connect without TLS, like OTEL_EXPORTER_OTLP_INSECURE=true (gRPC uses TLS "
        "otherwise, unless the endpoint starts with http://). HTTP: the scheme decides TLS; "
        "this flag skips certificate verification",
    )
    probe.add_argument("--cacert", default=None, help="CA bundle (PEM) to verify the collector")
    probe.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        help=f"seconds the export may take (default {DEFAULT_TIMEOUT:g})",
    )
    probe.add_argument(
        "--service-name",
        default=PROBE_SERVICE_NAME,
        help=f"service.name of the probe's resource (default {PROBE_SERVICE_NAME})",
    )
    probe.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    probe.set_defaults(func=run_probe)
    parser.set_defaults(func=lambda _args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 600 seconds: {text!r}")
    return value


def pick_protocol(endpoint: Endpoint, requested: str | None) -> str:
    """Choose the protocol: the request, else what the endpoint's shape implies."""
    if requested:
        return requested
    if endpoint.path.rstrip("/") == OTLP_HTTP_TRACES_PATH:
        return "http"
    if endpoint.port == OTLP_GRPC_PORT or not endpoint.scheme:
        return "grpc"
    return "http"


def pick_tls(endpoint: Endpoint, protocol: str, insecure: bool) -> bool:
    """Decide TLS as the OpenTelemetry exporters do for these settings."""
    if protocol == "http":
        return endpoint.scheme == "https"
    if insecure:
        return False
    return endpoint.scheme != "http"


def run_probe(args: argparse.Namespace) -> int:
    """Run `lsconform otlp probe` and return its exit status."""
    try:
        endpoint = parse_endpoint(args.endpoint)
    except EndpointSyntaxError as error:
        print(f"lsconform otlp probe: {error}", file=sys.stderr)
        return 2
    protocol = pick_protocol(endpoint, args.protocol)
    if protocol == "http" and endpoint.scheme not in ("http", "https"):
        print(
            f"lsconform otlp probe: an OTLP/HTTP endpoint needs http:// or https://, got "
            f"{args.endpoint!r}",
            file=sys.stderr,
        )
        return 2
    tls = pick_tls(endpoint, protocol, args.insecure)
    # gRPC's C core logs failed handshakes to stderr at INFO; the one-line explanation covers it.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    from lsconform.probes.otlp_client import export

    probe_id = new_probe_id()
    request = build_probe_request(probe_id, service_name=args.service_name)
    outcome = export(
        endpoint,
        request,
        protocol=protocol,
        tls=tls,
        timeout=args.timeout,
        cafile=args.cacert,
        verify=not (args.insecure and protocol == "http"),
    )
    problems = check_endpoint(args.endpoint, protocol)
    if args.json:
        print(
            json.dumps(
                {
                    "endpoint": args.endpoint,
                    "protocol": protocol,
                    "tls": tls,
                    "probe_id": probe_id,
                    "kind": outcome.kind,
                    "accepted": outcome.accepted,
                    "explanation": outcome.explanation,
                    "spans_sent": outcome.spans_sent,
                    "rejected_spans": outcome.result.rejected_spans if outcome.result else None,
                    "status": outcome.status,
                    "elapsed_s": round(outcome.elapsed, 4),
                    "evidence": outcome.evidence,
                    "endpoint_problems": [p.summary for p in problems],
                },
                default=str,
            )
        )
    else:
        verdict = "OK" if outcome.accepted else "FAIL"
        print(f"{verdict} {outcome.explanation}")
        # A request that never got an HTTP or gRPC answer delivered nothing.
        delivered = "in the request" if outcome.result is not None else "not delivered"
        print(
            f"  protocol {protocol}{' with TLS' if tls else ''}, probe id {probe_id}, "
            f"{outcome.spans_sent} spans {delivered}"
        )
        if outcome.result is not None and outcome.result.is_partial:
            print(f"  rejected spans: {outcome.result.rejected_spans}")
        for problem in problems if not outcome.accepted else []:
            print(f"  hint: {problem.summary}; {problem.fix}")
    return 0 if outcome.accepted else 1
