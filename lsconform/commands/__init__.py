"""Subcommands of the `lsconform` command, one module each (see `lsconform.cli`)."""
