"""Printable reports (Jinja2 templates rendered to self-contained HTML)."""
