"""Traces checks: tracing is configured, the collector takes spans, and services' spans arrive.

The checks form a chain (see `lsconform.assess.traces`): when one fails, the checks that need
it are skipped with its name, so a single fault fails a single check.
"""

import pytest

from lsconform.assess import traces as assess

pytestmark = pytest.mark.traces


@pytest.fixture(scope="session")
def traces(release, client, transport, local_transport, settings):
    """The traces checks' shared state: results computed once and reused down the chain."""
    return assess.TracesRun(release, client, transport, local_transport, settings)


def test_tracing_values_placed(traces, verdict):
    verdict(traces.check_values())


def test_tracing_enabled(traces, verdict):
    verdict(traces.check_enabled())


def test_endpoint_suits_exporter(traces, verdict):
    verdict(traces.check_endpoint())


def test_pods_carry_tracing_env(env_target, traces, verdict):
    verdict(traces.check_pod_env(env_target))


def test_collector_reachable(traces, verdict):
    verdict(traces.check_collector())


def test_collector_tls(traces, verdict):
    verdict(traces.check_tls())


def test_collector_accepts_spans(traces, verdict):
    verdict(traces.check_accepts())


def test_service_spans_arrive(traced_target, traces, verdict):
    verdict(traces.check_arrival(traced_target))
