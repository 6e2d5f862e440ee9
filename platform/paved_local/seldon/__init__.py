"""A stand-in for Seldon Core v1's controller on the kind cluster: model server Pods for every
SeldonDeployment's predictors (ADR 0032). Seldon Core's source is not
served here."""
