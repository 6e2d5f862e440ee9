"""GitOps for real: Argo CD, built here from Go modules, syncs paved's CRDs and a team's churn
service from a git repository on loopback, and judges paved's resources with the Lua health
checks paved ships. A ModelVersion and its Rollout committed to git roll out while the
Application stays Synced at every poll (the predictors paved moves are not drift, nor reset by
a sync), and both ways a rollout ends rolled back (a person's command, a guardrail) leave the
Application Synced and show the Rollout Degraded with the reason."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from paved.api.rollout import Backend
from paved_local.platform import Endpoints, LocalPlatform
from tests.e2e.test_rollout_rolls_out_and_back import (
    ROLLOUT,
    _naive_baseline,
    _on,
    _predictors,
    _rollout,
    _serves,
    _serving_object,
    _status,
)
from tests.support.approvals import sign_off
from tests.support.churn_data import serving_examples, write_churn_data
from tests.support.conditions import condition
from tests.support.fixtures import ROOT, RunningOperator
from tests.support.gitops import ArgoApplication, Repository, application
from tests.support.kubectl import Kubectl
from tests.support.rollouts import roll_back
from tests.support.traffic import steady_load
from tests.support.training import example

# Training, a canary and two rollbacks (or a whole rollout), each waited on through Argo CD's polls.
pytestmark = pytest.mark.timeout(1200)
T = TypeVar("T")


@pytest.fixture(scope="module")
def argocd(local_platform: LocalPlatform) -> Endpoints:
    """The session's platform with Argo CD and the git daemon beside it. `make setup` builds Argo
    CD with the toolchain; run alone on a fresh machine, this builds it first (long on two cores:
    session fixtures are outside the test's time limit), as the toolchain fixture does."""
    return local_platform.up(with_argocd=True)


@pytest.fixture
def applications() -> Iterator[list[ArgoApplication]]:
    """The test's Applications, deleted afterwards, pass or fail (what they synced stays in the
    test's namespace, as every e2e test's objects do)."""
    created: list[ArgoApplication] = []
    yield created
    for app in created:
        app.delete_leaving_resources()


@dataclass(frozen=True)
class Team:
    """A team's namespace, its churn data under the operator's data root, its repository on the
    git daemon and the Applications the test creates."""

    namespace: str
    data: Path
    repo: Repository
    applications: list[ArgoApplication]


@pytest.fixture
def team(
    argocd: Endpoints,
    paved_operator: RunningOperator,
    local_platform: LocalPlatform,
    namespace: str,
    tmp_path: Path,
    applications: list[ArgoApplication],
) -> Team:
    assert argocd.git is not None
    data = paved_operator.data_root / namespace
    write_churn_data(data)
    repo = Repository.create(local_platform.directory, argocd.git, namespace, tmp_path / "team")
    return Team(namespace, data, repo, applications)


def _yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False)


def _team_manifests(namespace: str, baseline_uri: str) -> dict[str, dict[str, Any]]:
    """The churn example as this team keeps it: its data under its namespace's data root, its
    own registered model's name, and today's naive rule serving."""
    seldon = example("00-seldondeployment.yaml")
    seldon["spec"]["predictors"][0]["graph"] = {"name": "classifier", "modelUri": baseline_uri}
    view = example("01-featureview.yaml")
    view["spec"]["source"]["path"] = "activity/*.parquet"
    # The fixture's activity ends in October 2026: a ttl and freshness SLOs it meets, so that the
    # materialized view is Ready and Fresh (Healthy), as a team's live data would be.
    view["spec"]["ttl"] = "3650d"
    for feature in view["spec"]["features"]:
        feature["freshness"] = "3650d"
    model_version = copy.deepcopy(example("02-modelversion.yaml"))
    model_version["spec"]["model"] = f"churn-{namespace}"
    model_version["spec"]["labels"]["path"] = "churn_labels.parquet"
    model_version["spec"]["gates"]["metric"]["minValue"] = 0.6
    by_hand = _rollout("churn-v1", "churn", "10m")
    faulty = _rollout("churn-v1-faulty", "churn", "5m")
    return {
        "examples/00-seldondeployment.yaml": seldon,
        "examples/01-featureview.yaml": view,
        "examples/02-modelversion.yaml": model_version,
        "examples/03-rollout.yaml": by_hand,
        "examples/04-rollout-faulty.yaml": faulty,
    }


def _while_synced(
    churn: ArgoApplication, probe: Callable[[], T], serving: str = "SeldonDeployment"
) -> Callable[[], T]:
    """`probe`, asserting at every poll that Argo CD reports the Application, and the serving
    object (kind `serving`, named churn) whose fields paved moves, Synced, and that its last
    sync was not a self-heal of that object (which puts Git's fields back over paved's within
    a second, between two polls)."""

    def polled() -> T:
        status = churn.status()
        assert status["sync"]["status"] == "Synced", status["sync"]
        served = churn.resource(serving, "churn")
        assert served["status"] == "Synced", served
        operation = (status.get("operationState") or {}).get("operation") or {}
        healed = operation.get("sync", {}).get("resources") or []
        assert all(r["kind"] != serving for r in healed), f"self-healed: {operation}"
        return probe()

    return polled


def test_argo_cd_syncs_paved_from_git_and_a_rollout_is_no_drift(
    argocd: Endpoints, kubectl: Kubectl, team: Team
) -> None:
    namespace, data, repo = team.namespace, team.data, team.repo
    manifests = _team_manifests(namespace, _naive_baseline(argocd))
    files = {path: _yaml(document) for path, document in manifests.items()}

    # The team's repository: the CRDs, the chart, and the churn service with its features.
    repo.copy_in(ROOT / "crds", "crds")
    repo.copy_in(ROOT / "charts" / "paved", "charts/paved")
    first = repo.commit(
        {
            p: files[p]
            for p in ("examples/00-seldondeployment.yaml", "examples/01-featureview.yaml")
        },
        "The churn service and its features",
    )
    crds_app = application("paved-crds", repo.url, namespace)
    churn_app = application("churn-example", repo.url, namespace, namespace=namespace)
    kubectl.apply(yaml.safe_dump_all([crds_app, churn_app]))
    crds = ArgoApplication(kubectl, crds_app["metadata"]["name"])
    churn = ArgoApplication(kubectl, churn_app["metadata"]["name"])
    team.applications.extend([crds, churn])

    # Synced and Healthy, the FeatureView judged by paved's Lua (no Lua: no health at all).
    for app in (crds, churn):
        app.wait(functools.partial(app.synced_at, first), timeout=240, what=f"{app.name} synced")
    crds.wait(
        lambda: crds.status().get("health", {}).get("status") == "Healthy",
        timeout=120,
        what="the CRDs Healthy",
    )
    view = churn.wait(
        lambda: (
            (r := churn.resource("FeatureView", "user-activity-v1")).get("health", {}).get("status")
            == "Healthy"
            and r
        ),
        timeout=120,
        what="the FeatureView Healthy through paved's Lua",
    )
    assert view["status"] == "Synced"

    # A new ModelVersion and its Rollout, committed: trained, staged and rolled out to a canary
    # while Argo CD compares the SeldonDeployment paved edits, at every poll.
    second = repo.commit(
        {p: files[p] for p in ("examples/02-modelversion.yaml", "examples/03-rollout.yaml")},
        "churn-v1 and its rollout",
    )
    churn.refresh()
    churn.wait(lambda: churn.synced_at(second), timeout=120, what="the new commit synced")
    with steady_load(argocd, namespace, "churn", serving_examples(data), rate=40):
        churn.wait(
            _while_synced(
                churn,
                lambda: (
                    churn.resource("ModelVersion", "churn-v1").get("health", {}).get("status")
                    == "Healthy"
                ),
            ),
            timeout=360,
            what="churn-v1 trained, gated and Healthy",
            interval=1.0,
        )
        churn.wait(
            _while_synced(
                churn,
                lambda: (
                    (_status(kubectl, "churn-v1", namespace).get("traffic") or {}).get("candidate")
                    == 20
                ),
            ),
            timeout=180,
            what="the canary at 20%",
            interval=1.0,
        )
        assert set(_predictors(kubectl, "churn", namespace)) == {"baseline", "candidate"}

        # A commit mid-canary is synced without putting Git's predictors back (the example's
        # Application respects the differences it ignores).
        generation = kubectl.get_json("seldondeployment", "churn", "-n", namespace)["metadata"][
            "generation"
        ]
        _commit_mid_canary(churn, repo, manifests["examples/01-featureview.yaml"])
        seldon = kubectl.get_json("seldondeployment", "churn", "-n", namespace)
        assert seldon["metadata"]["generation"] == generation
        assert _predictors(kubectl, "churn", namespace)["candidate"]["traffic"] == 20

        # A person rolls back with one command: Synced, and the Rollout Degraded saying why.
        roll_back("churn-v1", namespace, "pager", argocd.kubeconfig)
        rolled_back = churn.wait(
            _while_synced(churn, lambda: _degraded(churn, "churn-v1")),
            timeout=60,
            what="the rolled-back Rollout Degraded",
            interval=1.0,
        )
        assert "pager" in rolled_back["message"]
        assert set(_predictors(kubectl, "churn", namespace)) == {"baseline"}

        # A faulty candidate, committed: its guardrail rolls it back; the same picture.
        staged = kubectl.get_json("modelversion.paved.dev", "churn-v1", "-n", namespace)
        httpx.put(
            f"{argocd.dataplane}/v1/faults",
            json={
                "modelUri": staged["status"]["registry"]["uri"],
                "predictor": "candidate",
                "errorRate": 0.3,
            },
        ).raise_for_status()
        fourth = repo.commit(
            {"examples/04-rollout-faulty.yaml": files["examples/04-rollout-faulty.yaml"]},
            "roll churn-v1 out again",
        )
        churn.refresh()
        churn.wait(lambda: churn.synced_at(fourth), timeout=120, what="the faulty rollout synced")
        breached = churn.wait(
            _while_synced(churn, lambda: _degraded(churn, "churn-v1-faulty")),
            timeout=180,
            what="the faulty candidate rolled back and Degraded",
            interval=1.0,
        )
    progressing = condition(
        kubectl.get_json(ROLLOUT, "churn-v1-faulty", "-n", namespace), "Progressing"
    )
    assert progressing is not None
    assert progressing["reason"] == "GuardrailBreached"
    assert "errorRate 0." in breached["message"]
    assert set(_predictors(kubectl, "churn", namespace)) == {"baseline"}
    assert churn.status()["health"]["status"] == "Degraded"


def _commit_mid_canary(churn: ArgoApplication, repo: Repository, view: dict[str, Any]) -> None:
    """A commit of something else (a label on the FeatureView), synced mid-canary."""
    view["metadata"]["labels"] = {"team": "churn"}
    third = repo.commit({"examples/01-featureview.yaml": _yaml(view)}, "label the features")
    churn.refresh()
    churn.wait(lambda: churn.synced_at(third), timeout=120, what="the mid-canary commit synced")


def _degraded(churn: ArgoApplication, rollout: str) -> dict[str, Any] | None:
    """The Rollout's health in the Application once Argo CD shows it Degraded."""
    health: dict[str, Any] = churn.resource("Rollout", rollout).get("health") or {}
    return health if health.get("status") == "Degraded" else None


def test_a_whole_rollout_on_an_inference_service_kept_in_git_is_no_drift(
    argocd: Endpoints, kubectl: Kubectl, local_platform: LocalPlatform, team: Team
) -> None:
    """KServe's router moves `storageUri` and `canaryTrafficPercent` of an InferenceService Git
    holds: over a canary and a promotion, Argo CD compares it Synced at every poll, and a
    commit mid-canary is synced without putting Git's model back."""
    namespace, data, repo = team.namespace, team.data, team.repo
    baseline = _naive_baseline(argocd)
    manifests = _team_manifests(namespace, baseline)
    service = _serving_object(Backend.INFERENCE_SERVICE, "churn", baseline)
    rollout = _on(Backend.INFERENCE_SERVICE, "churn", _rollout("churn-v1", "churn", "20s"))
    rollout["spec"]["steps"] = rollout["spec"]["steps"][1:]  # canary, full: KServe has no shadow
    first = repo.commit(
        {
            "examples/00-inferenceservice.yaml": _yaml(service),
            "examples/01-featureview.yaml": _yaml(manifests["examples/01-featureview.yaml"]),
            "examples/02-modelversion.yaml": _yaml(manifests["examples/02-modelversion.yaml"]),
        },
        "The churn service on KServe, its features and churn-v1",
    )
    churn_app = application("churn-example", repo.url, namespace, namespace=namespace)
    kubectl.apply(yaml.safe_dump(churn_app))
    churn = ArgoApplication(kubectl, churn_app["metadata"]["name"])
    team.applications.append(churn)
    churn.wait(functools.partial(churn.synced_at, first), timeout=240, what="churn synced")
    churn.wait(
        lambda: (
            churn.resource("ModelVersion", "churn-v1").get("health", {}).get("status") == "Healthy"
        ),
        timeout=360,
        what="churn-v1 trained, gated and Healthy",
    )
    sign_off(kubectl, local_platform, namespace, "churn-v1")
    candidate = kubectl.get_json("modelversion.paved.dev", "churn-v1", "-n", namespace)["status"][
        "registry"
    ]["uri"]

    with steady_load(
        argocd,
        namespace,
        "churn",
        serving_examples(data),
        rate=40,
        backend=Backend.INFERENCE_SERVICE,
    ):
        second = repo.commit({"examples/03-rollout.yaml": _yaml(rollout)}, "roll churn-v1 out")
        churn.refresh()
        churn.wait(lambda: churn.synced_at(second), timeout=120, what="the rollout synced")
        churn.wait(
            _while_synced(
                churn,
                lambda: (
                    _serves(kubectl, Backend.INFERENCE_SERVICE, namespace, "churn")
                    == {candidate: 20}
                ),
                serving="InferenceService",
            ),
            timeout=180,
            what="the canary at 20%",
            interval=1.0,
        )
        # A commit mid-canary: Git's storageUri (the baseline) is not put back.
        _commit_mid_canary(churn, repo, manifests["examples/01-featureview.yaml"])
        assert _serves(kubectl, Backend.INFERENCE_SERVICE, namespace, "churn") == {candidate: 20}
        churn.wait(
            _while_synced(
                churn,
                lambda: _status(kubectl, "churn-v1", namespace).get("phase") == "Succeeded",
                serving="InferenceService",
            ),
            timeout=240,
            what="churn-v1 promoted",
            interval=1.0,
        )
    assert _serves(kubectl, Backend.INFERENCE_SERVICE, namespace, "churn") == {candidate: 100}
    # Only paved changed the model: a self-heal putting Git's back (between two polls, which
    # would see Synced again) would have made KServe create a third revision.
    found = kubectl.get_json("inferenceservice", "churn", "-n", namespace)
    assert found["status"]["components"]["predictor"]["latestCreatedRevision"] == (
        "churn-predictor-00002"
    )
    health = churn.resource("Rollout", "churn-v1").get("health") or {}
    assert health.get("status") == "Healthy", health
    assert churn.status()["sync"]["status"] == "Synced"
