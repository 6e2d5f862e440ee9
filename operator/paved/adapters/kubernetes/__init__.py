"""The Kubernetes API, through the official client."""
