"""The prediction log: served predictions and their outcomes, in Parquet (`parquet.py`)."""
