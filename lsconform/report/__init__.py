"""The result model and its renderers (terminal, JSON, HTML, Markdown)."""
