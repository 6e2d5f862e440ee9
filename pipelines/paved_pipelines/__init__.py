"""Training pipelines for paved, compiled to KFP v2 IR."""
