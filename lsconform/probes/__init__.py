"""Protocol code with no pytest in it: exposition, stub_status, OTLP, log paths, collectors."""
