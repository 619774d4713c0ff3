"""lsconform: a conformance suite for the telemetry of self-hosted LangSmith on Kubernetes."""

__version__ = "0.1.0"
