"""Log checks: every container's logs exist, sit on its node where collectors look, and are read."""


import pytest

from lsconform.assess import logs as assess

pytestmark = pytest.mark.logs


@pytest.fixture(scope="session")
def log_evidence(release, client, settings):
    """Every container's API logs and node files, fetched once with bounded concurrency."""
    files = list(settings.log_collector_configs)
    evidence = assess.LogEvidence(release, client, settings, collector_files=files)
    yield evidence
    evidence.close()


def test_container_output(log_target, log_evidence, verdict):
    verdict(assess.check_output(log_evidence, log_target))


def test_node_log_file(log_target, log_evidence, verdict):
    verdict(assess.check_node_file(log_evidence, log_target))


def test_logs_collected(log_target, log_evidence, verdict):
    verdict(assess.check_collected(log_evidence, log_target))
