"""paved: the paved road for machine learning on Kubernetes."""

__version__ = "0.1.0"
