"""The local data plane: what Seldon Core v1 and its ingress do for a SeldonDeployment, on loopback.

`paved local up` runs it beside the API server. It reads SeldonDeployments, serves each
predictor's model from MLflow, splits requests by `traffic`, mirrors them to the `shadow`
predictor, and exports Seldon v1's executor metrics under Seldon's names and labels, so the
operator's guardrail queries are the ones it runs against a cluster.
"""
