"""The embedded local platform: a real control plane and services as processes on loopback.

`paved local up` is kind without Docker: etcd and kube-apiserver built from Go modules, Redis and
Prometheus from Debian, an MLflow tracking server. Everything binds to 127.0.0.1 only.
"""
