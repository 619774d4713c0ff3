"""Fixtures for the sandbox tests: in-process cluster states and one shared running sandbox."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lsconform.sandbox import Sandbox
from lsconform.sandbox.orchestrator import Built, Options, build

# Rendered output of the real chart (`helm template` of chart langsmith 0.17.0-rc.12 with the
# values written in each file's header). It lives outside this repository; the fidelity tests
# skip when it is absent.
REFERENCE_DIR = Path(
    os.environ.get(
        "LSCONFORM_REFERENCE_DIR",
        str(Path(__file__).resolve().parents[3] / "shared" / "reference" / "rendered"),
    )
)

BuildState = Callable[..., Built]


@pytest.fixture
def build_state(tmp_path: Path) -> Iterator[BuildState]:
    """Build a cluster state in this process (no pod process, no API server)."""
    built_states: list[Built] = []

    def factory(profile: str = "default", faults: tuple[str, ...] = (), **options: Any) -> Built:
        workdir = tmp_path / f"state-{len(built_states)}"
        built = build(Options(profile=profile, faults=faults, seed=7, **options), workdir)
        built_states.append(built)
        return built

    yield factory
    for built in built_states:
        built.builder.close()


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(
            f"no rendered chart output at {REFERENCE_DIR}; set LSCONFORM_REFERENCE_DIR to a "
            "folder of `helm template` outputs"
        )
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def default_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One running default sandbox shared by every test that only reads from it."""
    sandbox = Sandbox(profile="default", workdir=tmp_path_factory.mktemp("default-sandbox"))
    sandbox.start()
    yield sandbox
    sandbox.stop()
