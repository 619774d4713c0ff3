"""Metrics checks: every endpoint the release promises is up, well-formed and collectable."""

import pytest

from lsconform.assess import exporters, nginx
from lsconform.assess import metrics as assess

pytestmark = pytest.mark.metrics


def test_endpoint_reachable(metrics_target, scrapes, settings, verdict):
    verdict(assess.check_reachable(scrapes.first(metrics_target), settings))


def test_content_type(metrics_target, scrapes, verdict):
    verdict(assess.check_content_type(scrapes.first(metrics_target)))


def test_exposition_parses(metrics_target, scrapes, verdict):
    verdict(assess.check_exposition(scrapes.first(metrics_target)))


def test_expected_families(metrics_target, scrapes, verdict):
    verdict(assess.check_families(scrapes.first(metrics_target)))


def test_counters_monotonic(metrics_target, scrapes, verdict):
    verdict(assess.check_counters(scrapes, metrics_target))


def test_scrape_budget(metrics_target, scrapes, settings, verdict):
    verdict(assess.check_budget(scrapes.first(metrics_target), settings))


def test_collectable(collect_target, release, verdict):
    verdict(assess.check_collectable(release, collect_target))


def test_component_without_metrics(no_metrics_target, verdict):
    verdict(assess.describe_no_metrics(no_metrics_target))


def test_nginx_status(frontend_target, transport, local_transport, settings, verdict):
    verdict(nginx.check_nginx_status(frontend_target, transport, local_transport, settings))


def test_datastore_exporter(exporter_target, client, transport, release, settings, verdict):
    verdict(exporters.check_exporter(exporter_target, client, transport, release, settings))
