from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paved.core.interleaving import (
    Preference,
    PreferenceDesign,
    Record,
    Team,
    attribute,
    interleaving_test,
    interval,
    p_value,
    required_queries,
    team_draft,
)
from paved.core.statistics import AbOutcome

ITEMS = [f"item-{i}" for i in range(8)]


def test_team_draft_is_the_same_list_on_replay_and_differs_by_request() -> None:
    baseline, candidate = ITEMS, list(reversed(ITEMS))
    first = team_draft(baseline, candidate, seed="request-1")
    assert team_draft(baseline, candidate, seed="request-1") == first
    lists = {team_draft(baseline, candidate, seed=f"request-{i}").items for i in range(20)}
    assert len(lists) > 1


@given(
    st.permutations(ITEMS),
    st.permutations(ITEMS),
    st.text(min_size=1, max_size=12),
)
def test_team_draft_shows_every_item_once_and_keeps_the_teams_even(
    baseline: list[str], candidate: list[str], seed: str
) -> None:
    merged = team_draft(baseline, candidate, seed=seed)
    assert sorted(merged.items) == sorted(ITEMS)
    candidate_picks = merged.teams.count(Team.CANDIDATE)
    assert abs(candidate_picks - merged.teams.count(Team.BASELINE)) <= 1
    # Each team's items appear in the order its own ranking puts them.
    for team, ranking in ((Team.BASELINE, baseline), (Team.CANDIDATE, candidate)):
        picked = [i for i, t in zip(merged.items, merged.teams, strict=True) if t is team]
        assert picked == sorted(picked, key=ranking.index)


def test_each_pick_is_the_picking_teams_best_item_not_shown_yet() -> None:
    merged = team_draft(["a", "b", "c"], ["a", "c", "b"], seed="s")
    first = merged.teams[0]
    assert merged.items[0] == "a"
    # The other team's best, "a", is taken: it picks its next.
    assert merged.items[1] == ("c" if first is Team.BASELINE else "b")
    assert merged.teams[1] is not first


def test_identical_rankings_show_that_ranking() -> None:
    assert team_draft(ITEMS, ITEMS, seed="x").items == tuple(ITEMS)


def test_a_length_cuts_the_list() -> None:
    assert len(team_draft(ITEMS, ITEMS[::-1], seed="x", length=3).items) == 3


def test_clicks_go_to_the_team_of_the_item_clicked() -> None:
    teams = [Team.BASELINE, Team.CANDIDATE, Team.CANDIDATE, Team.BASELINE]
    assert attribute(teams, [1]) is Preference.WIN
    assert attribute(teams, [0, 3, 2]) is Preference.LOSS
    assert attribute(teams, [0, 1]) is Preference.TIE
    assert attribute(teams, []) is Preference.TIE
    assert attribute(teams, [1, 1, 0]) is Preference.TIE  # a position counts once


def test_a_click_outside_the_list_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"\[4\] are outside the 4 items"):
        attribute([Team.BASELINE] * 4, [0, 4])


def test_the_record_counts_each_preference() -> None:
    record = Record()
    for preference in (Preference.WIN, Preference.WIN, Preference.LOSS, Preference.TIE):
        record = record.add(preference)
    assert record == Record(wins=2, losses=1, ties=1)
    assert record.decided == 3


def test_the_sample_size_follows_the_minimum_detectable_preference() -> None:
    # Win rate 0.55 against 0.5, alpha 0.05, power 0.8: about 780 decided queries (the
    # one-sample binomial formula); four times as many for half the preference.
    assert 770 <= required_queries(PreferenceDesign(0.05)) <= 790
    assert 3_100 <= required_queries(PreferenceDesign(0.025)) <= 3_200


def test_a_design_outside_the_bounds_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        PreferenceDesign(0.5)


def test_a_clear_preference_is_a_win_and_its_mirror_a_loss() -> None:
    design = PreferenceDesign(0.05)
    win = interleaving_test(Record(wins=330, losses=250, ties=400), design)
    assert win.outcome is AbOutcome.WIN
    assert win.low > 0.5
    loss = interleaving_test(Record(wins=250, losses=330, ties=400), design)
    assert loss.outcome is AbOutcome.LOSS
    assert loss.high < 0.5
    assert "wins 250, losses 330, ties 400" in loss.message


def test_no_preference_is_no_difference_only_once_enough_queries_are_in() -> None:
    design = PreferenceDesign(0.05)
    early = interleaving_test(Record(wins=51, losses=50, ties=10), design)
    assert early.outcome is AbOutcome.UNDECIDED
    late = interleaving_test(Record(wins=5_010, losses=5_000), design)
    assert late.outcome is AbOutcome.NO_DIFFERENCE
    assert 0.45 < late.low < 0.5 < late.high < 0.55


def test_ties_alone_are_no_evidence_until_the_horizon() -> None:
    design = PreferenceDesign(0.05)
    ties = interleaving_test(Record(ties=10_000), design)
    assert (ties.outcome, ties.p_value, ties.low, ties.high) == (AbOutcome.UNDECIDED, 1, 0, 1)
    ended = interleaving_test(Record(ties=10_000), design, horizon_reached=True)
    assert ended.outcome is AbOutcome.NO_DIFFERENCE
    assert "at the horizon, short of the sample size" in ended.message


@settings(max_examples=200)
@given(st.integers(0, 3_000), st.integers(0, 3_000), st.sampled_from([0.02, 0.05, 0.2]))
def test_the_interval_holds_the_observed_rate_and_mirrors_with_the_arms(
    wins: int, losses: int, preference: float
) -> None:
    design = PreferenceDesign(preference)
    low, high = interval(wins, losses, design)
    if wins + losses:
        assert low <= wins / (wins + losses) <= high
    mirrored_low, mirrored_high = interval(losses, wins, design)
    assert mirrored_low == pytest.approx(1 - high, abs=1e-9)
    assert mirrored_high == pytest.approx(1 - low, abs=1e-9)
    assert p_value(wins, losses, design) == pytest.approx(p_value(losses, wins, design))
    # The interval leaves out 1/2 exactly when the test rejects "no preference".
    p = p_value(wins, losses, design)
    if abs(p - design.alpha) > 1e-9:  # at the boundary itself either answer is the float's
        assert (p <= design.alpha) == (not low < 0.5 < high)


@pytest.mark.parametrize("preference", [0.02, 0.05, 0.1])
def test_peeking_after_every_query_keeps_false_positives_under_alpha(preference: float) -> None:
    """No preference (each decided query a fair coin), the test read after every one of 2,000
    queries, 400 times over: the share of runs ever declaring a winner stays under alpha."""
    design = PreferenceDesign(preference, alpha=0.05)
    draw = random.Random(20)
    runs, queries = 400, 2_000
    false_positives = 0
    for _ in range(runs):
        wins = losses = 0
        for _ in range(queries):
            if draw.random() < 0.5:
                wins += 1
            else:
                losses += 1
            if p_value(wins, losses, design) <= design.alpha:
                false_positives += 1
                break
    assert false_positives / runs <= design.alpha


def test_a_real_preference_is_found_while_peeking() -> None:
    """The same peeking finds a win rate of 0.6 (MDP 0.05) in nearly every run."""
    design = PreferenceDesign(0.05)
    draw = random.Random(7)
    found = 0
    for _ in range(100):
        record = Record()
        for _ in range(2_000):
            won = draw.random() < 0.6
            record = record.add(Preference.WIN if won else Preference.LOSS)
            if p_value(record.wins, record.losses, design) <= design.alpha:
                found += 1
                break
    assert found >= 95
