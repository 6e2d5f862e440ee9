"""Model registries: MLflow."""
