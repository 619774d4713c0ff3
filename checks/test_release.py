"""Release checks: the release was found in a good revision and every workload is healthy."""

import pytest

from lsconform.assess import release as assess

pytestmark = pytest.mark.release


def test_release_revision(release_or_none, discovery_problem, discovery_undecided, verdict):
    verdict(
        assess.check_revision(release_or_none, discovery_problem, undecided=discovery_undecided)
    )


def test_workload_ready(component_target, release, verdict):
    verdict(assess.check_workload_ready(release, component_target))


def test_pods_not_crashlooping(component_target, release, verdict):
    verdict(assess.check_restarts(release, component_target))
