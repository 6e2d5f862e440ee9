"""A stand-in for Seldon Core v1's controller on the kind cluster: model server Pods for every
SeldonDeployment's predictors (ADR XXXX-model-servers-as-pods). Seldon Core's source is not
served here."""
