"""Scraping every metrics endpoint once, concurrently, and sharing the results among checks.

Several checks judge the same scrape (reachability, content type, parse, families, size), and a
counter check compares two scrapes taken `scrape_interval` seconds apart. Doing those requests one
test at a time would add every request's latency to the run, so the first check that asks for a
scrape starts all of them at once on a bounded thread pool, and each check waits only for its own.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from lsconform.assess.targets import MetricsTarget, metrics_targets
from lsconform.cluster.errors import ClusterError
from lsconform.cluster.response import HttpResponse
from lsconform.cluster.transport import HttpTarget, Transport
from lsconform.settings import Settings

log = logging.getLogger(__name__)

ACCEPT_HEADER = (
    "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"
)


@dataclass(frozen=True)
class Scrape:
    """One scrape of one endpoint: the response, or the error that prevented it."""

    target: MetricsTarget
    response: HttpResponse | None
    error: ClusterError | None
    started: float  # time.monotonic() when the request began
    duration: float  # seconds


def http_target(target: MetricsTarget) -> HttpTarget:
    return HttpTarget(
        namespace=target.namespace,
        kind="pod" if target.kind == "pod" else "service",
        name=target.name,
        port=target.port,
        ip=target.ip,
    )


def scrape_once(transport: Transport, target: MetricsTarget, settings: Settings) -> Scrape:
    """Scrape `target` once, bounded by the probe timeout and the body size limit."""
    started = time.monotonic()
    try:
        response = transport.request(
            http_target(target),
            target.path,
            timeout=settings.probe_timeout,
            max_bytes=settings.body_limit,
            headers={"Accept": ACCEPT_HEADER},
        )
    except ClusterError as error:
        return Scrape(target, None, error, started, time.monotonic() - started)
    return Scrape(target, response, None, started, time.monotonic() - started)


class ScrapeCache:
    """Concurrent first and second scrapes of every metrics target of a release."""

    def __init__(self, release: Any, transport: Transport, settings: Settings) -> None:
        self._release = release
        self._transport = transport
        self._settings = settings
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._first: dict[str, Future[Scrape]] = {}
        self._second: dict[str, Future[Scrape]] = {}

    def _start(self) -> None:
        with self._lock:
            if self._pool is not None:
                return
            targets = metrics_targets(self._release, self._settings)
            self._pool = ThreadPoolExecutor(
                max_workers=self._settings.concurrency, thread_name_prefix="lsconform-scrape"
            )
            for target in targets:
                self._first[target.id] = self._pool.submit(self._scrape, target)
            for target in targets:
                if target.kind == "pod":
                    self._second[target.id] = self._pool.submit(self._scrape_later, target)

    def _scrape(self, target: MetricsTarget) -> Scrape:
        return scrape_once(self._transport, target, self._settings)

    def _scrape_later(self, target: MetricsTarget) -> Scrape:
        first = self._first[target.id].result()
        wait = first.started + self._settings.scrape_interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        return self._scrape(target)

    def first(self, target: MetricsTarget) -> Scrape:
        """Return the first scrape of `target`, starting every scrape on first use."""
        self._start()
        future = self._first.get(target.id)
        if future is None:
            return self._scrape(target)
        return future.result()

    def second(self, target: MetricsTarget) -> Scrape:
        """Return a scrape taken at least `scrape_interval` seconds after the first one."""
        self._start()
        future = self._second.get(target.id)
        if future is None:
            first = self.first(target)
            wait = first.started + self._settings.scrape_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            return self._scrape(target)
        return future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
