"""SeldonDeployments become routes under Seldon v1's own rules; requests split by traffic."""

from __future__ import annotations

from typing import Any

import pytest

from paved_local.dataplane.routing import (
    InvalidDeploymentError,
    Route,
    available_part,
    choose,
    route_of,
)


def _deployment(*predictors: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "churn", "namespace": "ml"}, "spec": {"predictors": predictors}}


def _predictor(name: str, traffic: int, shadow: bool = False, uri: str = "") -> dict[str, Any]:
    graph = {"name": "classifier", "modelUri": uri or f"models:/churn/{name}"}
    return {"name": name, "traffic": traffic, "shadow": shadow, "graph": graph}


def test_live_predictors_and_the_shadow_are_told_apart() -> None:
    route = route_of(
        _deployment(
            _predictor("baseline", 80), _predictor("candidate", 20), _predictor("shadow", 100, True)
        )
    )
    assert [p.name for p in route.live] == ["baseline", "candidate"]
    assert route.shadow is not None
    assert route.shadow.name == "shadow"
    assert route.models == {
        "models:/churn/baseline",
        "models:/churn/candidate",
        "models:/churn/shadow",
    }


@pytest.mark.parametrize(
    ("predictors", "why"),
    [
        ([_predictor("a", 60), _predictor("b", 30)], "sums to 90"),
        (
            [_predictor("a", 100), _predictor("s1", 100, True), _predictor("s2", 100, True)],
            "at most one",
        ),
        ([_predictor("s", 100, True)], "cannot serve alone"),
        ([{"name": "a", "traffic": 100, "graph": {"name": "classifier"}}], "no graph.modelUri"),
    ],
)
def test_deployments_that_break_seldons_rules_get_no_route(
    predictors: list[dict[str, Any]], why: str
) -> None:
    with pytest.raises(InvalidDeploymentError, match=why):
        route_of(_deployment(*predictors))


def test_a_single_live_predictor_takes_all_traffic_whatever_it_says() -> None:
    route = route_of(_deployment(_predictor("baseline", 0)))
    assert route.live[0].traffic == 100


def test_requests_split_in_proportion_to_traffic() -> None:
    route = route_of(_deployment(_predictor("baseline", 95), _predictor("candidate", 5)))
    draws = [k / 1000 for k in range(1000)]
    chosen = [choose(route, d).name for d in draws]
    assert chosen.count("candidate") == 50
    assert choose(route, 0.9999999999).name == "candidate"


def test_a_predictor_at_zero_never_gets_a_request() -> None:
    route = route_of(_deployment(_predictor("baseline", 100), _predictor("candidate", 0)))
    assert {choose(route, k / 100).name for k in range(100)} == {"baseline"}


def test_a_model_servers_time_to_answer_is_seldons_rest_timeout_annotation() -> None:
    deployment = _deployment(_predictor("baseline", 100))

    assert route_of(deployment).rest_timeout is None  # Seldon's default: no overall timeout
    deployment["spec"]["annotations"] = {"seldon.io/rest-timeout": "2500"}
    assert route_of(deployment).rest_timeout == 2.5


@pytest.mark.parametrize("value", ["soon", "0", "-5", "1.5"])
def test_a_rest_timeout_that_is_not_a_positive_count_of_milliseconds_gets_no_route(
    value: str,
) -> None:
    deployment = _deployment(_predictor("baseline", 100))
    deployment["spec"]["annotations"] = {"seldon.io/rest-timeout": value}

    with pytest.raises(InvalidDeploymentError, match="not a positive number of milliseconds"):
        route_of(deployment)


def _interleaving(candidate: str, *predictors: dict[str, Any]) -> dict[str, Any]:
    deployment = _deployment(*predictors)
    deployment["spec"]["annotations"] = {"paved.dev/interleave": candidate}
    return deployment


def test_an_interleaving_deployment_names_its_two_arms() -> None:
    route = route_of(
        _interleaving("candidate", _predictor("baseline", 50), _predictor("candidate", 50))
    )
    arms = route.arms()
    assert arms is not None
    assert [arm.name for arm in arms] == ["baseline", "candidate"]
    assert route_of(_deployment(_predictor("baseline", 100))).arms() is None


@pytest.mark.parametrize(
    "predictors",
    [
        [_predictor("baseline", 100)],
        [_predictor("baseline", 50), _predictor("other", 50)],
        [_predictor("a", 40), _predictor("candidate", 30), _predictor("b", 30)],
    ],
)
def test_interleaving_needs_the_candidate_and_one_other_live_predictor(
    predictors: list[dict[str, Any]],
) -> None:
    with pytest.raises(InvalidDeploymentError, match="not one of exactly two live predictors"):
        route_of(_interleaving("candidate", *predictors))


def _canary(*, shadow: bool = False) -> Route:
    return route_of(
        _deployment(
            _predictor("baseline", 90),
            _predictor("candidate", 10),
            *([_predictor("mirror", 0, shadow=True)] if shadow else []),
        )
    )


def test_a_route_whose_model_servers_all_answer_is_served_as_it_is() -> None:
    route = _canary(shadow=True)

    assert available_part(route, []) == route


def test_a_predictor_still_starting_gets_no_traffic_until_its_model_server_answers() -> None:
    served = available_part(_canary(), ["candidate"])

    assert served is not None
    assert [(p.name, p.traffic) for p in served.live] == [("baseline", 100)]


def test_a_shadow_still_starting_is_not_mirrored_to_yet() -> None:
    served = available_part(_canary(shadow=True), ["mirror"])

    assert served is not None
    assert served.shadow is None
    assert [(p.name, p.traffic) for p in served.live] == [("baseline", 90), ("candidate", 10)]


def test_the_waiting_predictors_share_goes_to_the_others_in_proportion() -> None:
    route = route_of(_deployment(_predictor("a", 50), _predictor("b", 30), _predictor("c", 20)))

    served = available_part(route, ["a"])

    assert served is not None
    assert [(p.name, p.traffic) for p in served.live] == [("b", 60), ("c", 40)]


def test_no_route_while_no_live_predictor_has_a_model_server() -> None:
    assert available_part(_canary(), ["baseline", "candidate"]) is None


def test_interleaving_waits_for_both_arms() -> None:
    route = route_of(
        _interleaving("candidate", _predictor("baseline", 50), _predictor("candidate", 50))
    )

    served = available_part(route, ["candidate"])

    assert served is not None
    assert served.interleave is None
    assert [(p.name, p.traffic) for p in served.live] == [("baseline", 100)]
