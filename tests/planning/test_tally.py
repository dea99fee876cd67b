"""Vote counting: hand-made elections with known answers, then agreement with pabutools (the
reference implementation, a test-only dependency) on many seeded random elections."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from ovoz.planning.tally import Election, Outcome, equal_shares, greedy

Ballots = list[list[str]]


def reasons(outcome: Outcome) -> dict[str, str]:
    return {project: verdict.reason for project, verdict in outcome.verdicts.items()}


def test_greedy_skips_a_project_that_no_longer_fits_and_takes_a_smaller_one() -> None:
    # a (3 votes) leaves 4 of 10; b (2 votes, 5) no longer fits; c (1 vote, 4) still does;
    # d costs more than the whole budget.
    election = Election.of(10, {"a": 6, "b": 5, "c": 4, "d": 11},
                           [["a", "b"], ["a", "b"], ["a", "c"], ["d"]])
    outcome = greedy(election)
    assert outcome.selected == ("a", "c")
    assert (outcome.spent, outcome.budget) == (10, 10)
    assert reasons(outcome) == {"a": "most_votes", "b": "no_money_left", "c": "most_votes",
                                "d": "over_budget"}
    assert outcome.verdicts["b"].figures == {"votes": 2, "cost": 5, "left": 4}


def test_equal_shares_buys_a_cheaper_project_over_a_popular_expensive_one() -> None:
    # Ten voters hold 10 each: the park's six supporters hold 60 of its 90, the well's five
    # hold 50 of its 40. Greedy takes the park (6 votes) and has nothing left for the well.
    ballots = [["park"]] * 5 + [["park", "well"]] + [["well"]] * 4
    election = Election.of(100, {"park": 90, "well": 40}, ballots)
    assert greedy(election).selected == ("park",)
    outcome = equal_shares(election)
    assert outcome.selected == ("well",)
    assert outcome.spent == 40
    assert outcome.verdicts["well"].figures == {"votes": 5, "cost": 40, "round": 1, "payment": 8}
    park = outcome.verdicts["park"]
    assert (park.selected, park.reason) == (False, "too_few_supporters")
    assert park.figures == {"votes": 6, "cost": 90, "share": 10, "money": 60}


def test_the_satisfaction_measure_decides_between_broad_and_cheap() -> None:
    # 8 voters back "big" (60), 5 back s1 (30), 5 back s2 (30); each voter holds 10.
    # Cost satisfaction: big is paid by the most people (1/8 per soum of satisfaction).
    # Cardinality: s1 and s2 cost 6 per supporter, big 7.5, so both small ones win.
    ballots = [["big", "s1"]] * 5 + [["big", "s2"]] * 3 + [["s2"]] * 2
    election = Election.of(100, {"big": 60, "s1": 30, "s2": 30}, ballots)
    by_cost = equal_shares(election, "cost")
    assert by_cost.selected == ("big",)
    assert reasons(by_cost) == {"big": "equal_shares", "s1": "shares_spent",
                                "s2": "shares_spent"}
    by_count = equal_shares(election, "cardinality")
    assert by_count.selected == ("s1", "s2")
    assert by_count.verdicts["s2"].figures["round"] == 2


def test_ties_are_broken_by_project_id_as_text() -> None:
    # Same votes, same cost, money for one: "10" sorts before "9" as text.
    election = Election.of(5, {"9": 5, "10": 5}, [["9", "10"]])
    assert greedy(election).selected == ("10",)
    assert equal_shares(election).selected == ("10",)
    assert equal_shares(election, "cardinality").selected == ("10",)


def test_supporters_who_spent_their_share_elsewhere() -> None:
    # Four voters hold 5 each and all back x (12): each pays 3. y's two supporters held 10 of
    # its 8 at the start, but only 4 after x.
    election = Election.of(20, {"x": 12, "y": 8}, [["x", "y"]] * 2 + [["x"]] * 2)
    outcome = equal_shares(election)
    assert outcome.selected == ("x",)
    assert reasons(outcome) == {"x": "equal_shares", "y": "shares_spent"}
    # Raised to 7 each, y's supporters keep 4 each after x and can pay for it themselves.
    raised = equal_shares(election, completion="add1")
    assert raised.selected == ("x", "y")
    assert raised.verdicts["y"].reason == "equal_shares"
    assert raised.verdicts["y"].figures["payment"] == 4


def test_completion_by_greedy_when_raising_shares_would_overspend() -> None:
    # Two voters hold 5 each, each backs a project of 6. At 6 each both would be bought (12 of
    # 10), so the shares stay at 5 and greedy spends the money: p before q by id.
    election = Election.of(10, {"p": 6, "q": 6}, [["p"], ["q"]])
    assert equal_shares(election).selected == ()
    outcome = equal_shares(election, completion="add1")
    assert outcome.selected == ("p",)
    assert outcome.spent == 6
    assert outcome.verdicts["p"].reason == "completion"
    assert outcome.verdicts["q"].reason == "too_few_supporters"


def test_projects_nobody_approved_or_beyond_the_budget() -> None:
    election = Election.of(10, {"a": 3, "c": 20, "d": 4, "e": 11}, [["a"], ["a", "e"]])
    outcome = equal_shares(election)
    assert outcome.selected == ("a",)
    assert reasons(outcome) == {"a": "equal_shares", "c": "no_votes", "d": "no_votes",
                                "e": "over_budget"}
    # Completion spends what is left on what still fits, votes or not.
    completed = equal_shares(election, completion="add1")
    assert completed.selected == ("a", "d")
    assert completed.verdicts["d"].reason == "leftover"


def test_a_free_project_with_supporters_is_taken_first_under_cardinality() -> None:
    election = Election.of(10, {"a": 3, "b": 0}, [["a", "b"], ["a", "b"]])
    outcome = equal_shares(election, "cardinality")
    assert outcome.selected == ("b", "a")
    assert outcome.verdicts["b"].reason == "free"


def test_arithmetic_is_exact() -> None:
    # Ten voters hold a tenth of a soum each; in binary floating point ten tenths add up to
    # less than 1, exactly they buy a project costing 1.
    assert sum([0.1] * 10) < 1
    election = Election.of(1, {"x": 1}, [["x"]] * 10)
    assert equal_shares(election).selected == ("x",)
    assert equal_shares(election, "cardinality").selected == ("x",)
    # A third each of 10 soums pays exactly 10, leaving nothing for anything else.
    thirds = Election.of(10, {"all": 10, "more": 1}, [["all"], ["all"], ["all", "more"]])
    outcome = equal_shares(thirds)
    assert outcome.selected == ("all",)
    assert outcome.verdicts["more"].reason == "shares_spent"


def test_no_voters() -> None:
    election = Election.of(10, {"a": 4, "b": 8}, [])
    assert equal_shares(election).selected == ()
    assert reasons(equal_shares(election)) == {"a": "no_votes", "b": "no_votes"}
    # Completion alone is greedy: no votes anywhere, so by id while the money lasts.
    assert equal_shares(election, completion="add1").selected == ("a",)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown projects"):
        Election.of(10, {"a": 1}, [["a", "z"]])
    election = Election.of(10, {"a": 1}, [["a"]])
    with pytest.raises(ValueError, match="satisfaction"):
        equal_shares(election, "utility")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="completion"):
        equal_shares(election, completion="add2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="step"):
        equal_shares(election, completion="add1", step=0)


# Agreement with pabutools ----------------------------------------------------------------

RULES = [("greedy", "cost", "none"), ("mes", "cost", "none"), ("mes", "cardinality", "none"),
         ("mes", "cost", "add1"), ("mes", "cardinality", "add1")]
# (instances, projects, voters, the largest of the budgets drawn, the largest common cost)
SHAPES = {"small": (400, (1, 8), (0, 16), 100, 12), "wide": (200, (5, 15), (20, 80), 400, 60)}


def random_election(rng: random.Random, shape: str
                    ) -> tuple[int, dict[str, int], Ballots]:
    """An election where ties are common: ids from 1 (so "10" meets "9"), some free projects,
    some beyond the budget, and a few projects far more popular than others."""
    _, projects, voters, top_budget, top_cost = SHAPES[shape]
    ids = [str(number) for number in rng.sample(range(1, 2 * projects[1]), rng.randint(*projects))]
    budget = rng.choice([0, rng.randint(1, 10), rng.randint(5, 40),
                         rng.randint(top_budget // 5, top_budget)])
    costs: dict[str, int] = {}
    for project in ids:
        draw = rng.random()
        costs[project] = (0 if draw < 0.08 else rng.randint(1, top_cost) if draw < 0.7
                          else rng.randint(1, budget + 10))
    popularity = {project: rng.random() ** 2 for project in ids}
    ballots = [[p for p in ids if rng.random() < popularity[p]]
               for _ in range(rng.randint(*voters))]
    return budget, costs, ballots


@pytest.fixture(scope="module")
def reference() -> Callable[..., list[str]]:
    """The selection pabutools makes for the same election, in its order."""
    pytest.importorskip("pabutools")
    from pabutools.election import (
        ApprovalBallot,
        ApprovalProfile,
        Cardinality_Sat,
        Cost_Sat,
        Instance,
        Project,
    )
    from pabutools.rules import (
        completion_by_rule_combination,
        greedy_utilitarian_welfare,
        method_of_equal_shares,
    )

    def select(budget: int, costs: dict[str, int], ballots: Ballots, rule: str,
               satisfaction: str, completion: str, step: int = 1) -> list[str]:
        projects = {name: Project(name, cost) for name, cost in costs.items()}
        instance = Instance(projects.values(), budget_limit=budget)
        profile = ApprovalProfile([ApprovalBallot([projects[p] for p in ballot])
                                   for ballot in ballots], instance=instance)
        sat = Cost_Sat if satisfaction == "cost" else Cardinality_Sat
        result: Any
        if rule == "greedy":
            result = greedy_utilitarian_welfare(instance, profile, sat_class=Cost_Sat)
        elif completion == "none":
            result = method_of_equal_shares(instance, profile, sat_class=sat)
        else:
            result = completion_by_rule_combination(
                instance, profile, [method_of_equal_shares, greedy_utilitarian_welfare],
                [{"sat_class": sat, "voter_budget_increment": step}, {"sat_class": Cost_Sat}])
        return [project.name for project in result]

    return select


def paid(selection: Sequence[str], costs: dict[str, int]) -> list[str]:
    # pabutools adds free projects in the order of a set; only paid ones have a real order.
    return [project for project in selection if costs[project] > 0]


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize(("rule", "satisfaction", "completion"), RULES)
def test_same_selection_as_pabutools(reference: Callable[..., list[str]], rule: str,
                                     satisfaction: str, completion: str, shape: str) -> None:
    for seed in range(SHAPES[shape][0]):
        budget, costs, ballots = random_election(random.Random(seed), shape)
        election = Election.of(budget, costs, ballots)
        ours = (greedy(election) if rule == "greedy"
                else equal_shares(election, satisfaction, completion))  # type: ignore[arg-type]
        theirs = reference(budget, costs, ballots, rule, satisfaction, completion)
        where = f"seed {seed}: budget {budget}, costs {costs}, ballots {ballots}"
        assert sorted(ours.selected) == sorted(theirs), where
        assert paid(ours.selected, costs) == paid(theirs, costs), where
        assert ours.spent == sum(costs[p] for p in theirs) <= max(budget, 0), where
        assert ours.budget == budget


@pytest.mark.parametrize("satisfaction", ["cost", "cardinality"])
def test_a_larger_completion_step_equals_pabutools_budget_increment(
        reference: Callable[..., list[str]], satisfaction: str) -> None:
    # Ovoz's cycles raise shares 1,000 soums at a time; pabutools does the same when asked to.
    for seed in range(150):
        budget, costs, ballots = random_election(random.Random(seed), "wide")
        budget, costs = budget * 100, {p: cost * 100 for p, cost in costs.items()}
        election = Election.of(budget, costs, ballots)
        ours = equal_shares(election, satisfaction, "add1", step=37)  # type: ignore[arg-type]
        theirs = reference(budget, costs, ballots, "mes", satisfaction, "add1", 37)
        assert sorted(ours.selected) == sorted(theirs), f"seed {seed}"
