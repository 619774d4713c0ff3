"""Support bundle collection and redaction."""
