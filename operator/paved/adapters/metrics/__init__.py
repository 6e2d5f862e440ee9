"""Metrics providers: Prometheus."""
