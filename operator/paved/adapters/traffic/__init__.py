"""Traffic routers: Seldon Core v1."""
