"""Model loaders: one module per place models are loaded from (`mlflow.py`)."""
