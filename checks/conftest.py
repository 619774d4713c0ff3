"""Fixtures shared by the checks; the plugin provides release, transport, settings and verdict."""

from collections.abc import Iterator
from typing import Any

import pytest

from lsconform.assess.scrape import ScrapeCache


@pytest.fixture(scope="session")
def scrapes(release: Any, transport: Any, settings: Any) -> Iterator[ScrapeCache]:
    """The first and second scrape of every metrics endpoint, fetched concurrently."""
    cache = ScrapeCache(release, transport, settings)
    yield cache
    cache.close()
