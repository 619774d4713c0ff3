"""Traces checks: tracing is configured, the collector takes spans, and services' spans arrive.

The checks form a chain (see `lsconform.assess.traces`): when one fails, the checks that need
it are skipped with its name, so a single fault fails a single check.
"""

import pytest

from lsconform.assess import traces as assess
from lsconform.plugin import get_session

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


# Parametrisation of this module's per-target checks. NOTE: kept here until the targets are
# registered in lsconform.assess.targets.PARAMETRISERS; a target with none gets one skipped test.
_BUILDERS = {"env_target": assess.env_targets, "traced_target": assess.traced_targets}


def pytest_generate_tests(metafunc):
    session = get_session(metafunc.config)
    for name, build in _BUILDERS.items():
        if name not in metafunc.fixturenames:
            continue
        release = session.release if session is not None else None
        found = sorted(build(release, session.settings), key=lambda t: t.id) if release else []
        if not found:
            reason = "no target of this kind in the release"
            metafunc.parametrize(
                name, [pytest.param(None, marks=pytest.mark.skip(reason=reason))], ids=["none"]
            )
            continue
        metafunc.parametrize(name, found, ids=[t.id for t in found])
