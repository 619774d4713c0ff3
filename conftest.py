"""Makes a plain checkout behave like an installed plugin.

An installed lsconform registers its pytest plugin through the `pytest11` entry point. In a
checkout that was never installed, this file registers the same module, so `pytest --sandbox`
works from the repository root either way.
"""

import importlib.metadata

_installed = any(
    entry.value == "lsconform.plugin"
    for entry in importlib.metadata.entry_points(group="pytest11")
)
if not _installed:
    pytest_plugins = ["lsconform.plugin"]
