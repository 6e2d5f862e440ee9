"""GitOps on a real cluster: Argo CD, built here and run on this host against the kind cluster's
API server, syncs paved's CRDs and the operator's chart from a git repository on loopback
(deploy/argocd/'s `paved-crds` and `paved-operator`), and judges the operator's Deployment
Healthy once its Pods are Ready. On the local platform no Pods run, so this is the tier where
the operator Application is synced.

The operator goes to a namespace of its own (`paved-gitops`, release `paved-operator`, watching
only that namespace), not through the session's `installed` fixture: that installs paved's chart
with Helm into `paved`, and a second owner of the same objects would make each report the
other's changes. Its own release name keeps the chart's cluster-wide objects (ClusterRoles,
named after the release) apart from Helm's, and its namespaced scope keeps it from reconciling
the other tests' objects beside Helm's operators."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from paved_local.argocd import NAMESPACE
from paved_local.cluster import KindCluster
from paved_local.toolchain import ensure_toolchain
from tests.support.docker import Image
from tests.support.fixtures import ROOT
from tests.support.gitops import ArgoApplication, Repository, application, argocd_on_host
from tests.support.kubectl import Kubectl

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]
OPERATOR_NAMESPACE = "paved-gitops"


@pytest.fixture
def kubectl_on_kind(kind_cluster: KindCluster, images: dict[str, Image]) -> Kubectl:
    """kubectl on the kind cluster, with the operator's image loaded into its nodes."""
    kind_cluster.load([images["operator"].tag])
    return Kubectl(ensure_toolchain().kubectl, kind_cluster.kubeconfig)


def _operator_application(repository: str) -> dict[str, Any]:
    """`paved-operator` as shipped, in its own namespace and watching only that one."""
    manifest = application("paved-operator", repository, "kind", namespace=OPERATOR_NAMESPACE)
    manifest["metadata"]["name"] = "paved-operator"  # the release's name: ClusterRoles by it
    values = manifest["spec"]["source"]["helm"]["valuesObject"]
    values["rbac"] = {"scope": "namespaced", "watchNamespaces": [OPERATOR_NAMESPACE]}
    return manifest


def test_argo_cd_syncs_the_operator_and_sees_it_healthy(
    kind_cluster: KindCluster, kubectl_on_kind: Kubectl, tmp_path: Path
) -> None:
    kubectl = kubectl_on_kind
    with argocd_on_host(tmp_path / "argocd", kind_cluster.kubeconfig) as git:
        repo = Repository.create(tmp_path / "argocd", git, "paved", tmp_path / "team")
        repo.copy_in(ROOT / "crds", "crds")
        repo.copy_in(ROOT / "charts" / "paved", "charts/paved")
        revision = repo.commit({}, "paved's CRDs and chart")
        crds_app = application("paved-crds", repo.url, "kind")
        operator_app = _operator_application(repo.url)
        kubectl.apply(yaml.safe_dump_all([crds_app, operator_app]))
        apps = [ArgoApplication(kubectl, m["metadata"]["name"]) for m in (crds_app, operator_app)]
        try:
            for app in apps:
                app.wait(functools.partial(_synced, app, revision), 300, f"{app.name} synced")
            operator = apps[1]
            deployment = operator.wait(
                lambda: (
                    (r := operator.resource("Deployment", "paved-operator"))
                    .get("health", {})
                    .get("status")
                    == "Healthy"
                    and r
                ),
                timeout=300,
                what="the operator's Deployment Healthy in Argo CD's eyes",
            )
            assert deployment["status"] == "Synced"
            ready = kubectl.get_json("deployment", "paved-operator", "-n", OPERATOR_NAMESPACE)
            assert ready["status"]["readyReplicas"] == ready["spec"]["replicas"]
            assert operator.status()["health"]["status"] == "Healthy"
        finally:
            _leave(kubectl, apps)


def _synced(app: ArgoApplication, revision: str) -> dict[str, Any] | None:
    """The status once Argo CD compares the Application Synced with `revision`: by a sync of
    its own, or with nothing to sync (the CRDs a previous run, or Helm, installed)."""
    status = app.status()
    sync = status.get("sync") or {}
    return status if sync.get("status") == "Synced" and sync.get("revision") == revision else None


def _leave(kubectl: Kubectl, apps: list[ArgoApplication]) -> None:
    """The operator's release deleted by Argo CD's cascade (a cluster has a garbage collector),
    the CRDs left (their Application has no finalizer), as a team that stops would."""
    for app in reversed(apps):
        kubectl.run(
            "delete", "application.argoproj.io", app.name, "-n", NAMESPACE, "--timeout=120s"
        )
    kubectl.run("delete", "namespace", OPERATOR_NAMESPACE, "--ignore-not-found", "--timeout=120s")
