"""The stand-in for KServe's controller (serverless mode, with Knative's revisions): a model
server Deployment per revision of an InferenceService's predictor. ADR 0033."""
