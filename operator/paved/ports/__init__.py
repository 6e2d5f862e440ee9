"""The ports: one small Protocol per pluggable part, each method with a one-line contract."""
