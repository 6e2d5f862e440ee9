"""Offline engines: point-in-time joins over Parquet (DuckDB embedded, Spark for scale)."""
