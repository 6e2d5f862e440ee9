"""Adapters: one folder per family of pluggable parts, one module per implementation."""
