"""Evidence gathering for the checks: takes the Release and a Transport, returns CheckResults."""
