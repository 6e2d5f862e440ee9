"""The CRD schemas as pydantic models: the single source of truth for `crds/*.yaml`."""
