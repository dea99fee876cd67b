"""Counting approval ballots: greedy by approvals, and the Method of Equal Shares.

Exact rational arithmetic throughout, ties broken by the project's id compared as text, so that
results equal pabutools' (greedy_utilitarian_welfare with cost satisfaction, and
method_of_equal_shares with cost or cardinality satisfaction) on the same instance.

Speed comes from three observations, none of which changes the outcome:
- voters with the same ballot always hold the same money, so they are counted once, with a weight;
- for approval ballots every supporter of a project values it equally, so a project's price only
  depends on how much money its supporters hold, grouped by amount ("classes" below);
- a project's price per unit of satisfaction never falls as money is spent, so last round's price is
  a lower bound and most projects need not be priced again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

Satisfaction = Literal["cost", "cardinality"]
Completion = Literal["none", "add1"]
SATISFACTIONS: tuple[Satisfaction, ...] = ("cost", "cardinality")
COMPLETIONS: tuple[Completion, ...] = ("none", "add1")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a project won or lost: a reason code the pages translate, and the figures it cites."""

    selected: bool
    reason: str
    figures: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    selected: tuple[str, ...]
    spent: int
    budget: int
    verdicts: Mapping[str, Verdict]


@dataclass(frozen=True, slots=True)
class Election:
    """An approval election: the money, each project's cost by id, and the ballots."""

    budget: int
    costs: Mapping[str, int]
    ballots: Counter[frozenset[str]]

    @classmethod
    def of(cls, budget: int, costs: Mapping[str, int],
           ballots: Iterable[Iterable[str]]) -> Election:
        counted: Counter[frozenset[str]] = Counter(map(frozenset, ballots))
        unknown = set().union(*counted) - set(costs)
        if unknown:
            raise ValueError(f"a ballot approves unknown projects: {sorted(unknown)}")
        return cls(budget, dict(costs), counted)

    @property
    def voters(self) -> int:
        return sum(self.ballots.values())

    def approvals(self) -> dict[str, int]:
        votes = dict.fromkeys(self.costs, 0)
        for choice, weight in self.ballots.items():
            for project in choice:
                votes[project] += weight
        return votes


def _money(value: Fraction) -> int:
    """A sum of money shown to people: whole soums, rounded down."""
    return int(value)


def greedy(election: Election, already: Iterable[str] = (),
           reason: str = "most_votes") -> Outcome:
    """Projects by number of approvals, most first; each taken if it still fits the money left."""
    chosen = list(already)
    left = election.budget - sum(election.costs[p] for p in chosen)
    votes = election.approvals()

    def density(project: str) -> int:
        # Satisfaction is the cost of what a voter approved, so a free project adds none.
        return votes[project] if election.costs[project] > 0 else 0

    verdicts: dict[str, Verdict] = {}
    taken = set(chosen)
    waiting = sorted((p for p in election.costs if p not in taken),
                     key=lambda p: (-density(p), p))
    for project in waiting:
        cost = election.costs[project]
        figures = {"votes": votes[project], "cost": cost, "left": left}
        if cost <= left:
            chosen.append(project)
            left -= cost
            verdicts[project] = Verdict(True, reason if votes[project] else "leftover", figures)
        elif cost > election.budget:
            verdicts[project] = Verdict(False, "over_budget", figures)
        else:
            verdicts[project] = Verdict(False, "no_money_left", figures)
    return Outcome(tuple(chosen), election.budget - left, election.budget, verdicts)


@dataclass(slots=True)
class _Run:
    """One run of equal shares with a given starting share per voter."""

    selected: list[str]
    rounds: dict[str, tuple[int, Fraction]]
    money_at_start: Fraction


class _EqualShares:
    def __init__(self, election: Election, satisfaction: Satisfaction) -> None:
        self.election = election
        self.voters = election.voters
        groups = [(tuple(choice), weight) for choice, weight in election.ballots.items()
                  if choice]
        self.group_choices = [choice for choice, _ in groups]
        self.group_weights = [weight for _, weight in groups]
        supporters: dict[str, list[int]] = {p: [] for p in election.costs}
        for index, (choice, _) in enumerate(groups):
            for project in choice:
                supporters[project].append(index)
        self.supporters = supporters
        self.support = {p: sum(self.group_weights[g] for g in groups_)
                        for p, groups_ in supporters.items()}
        self.utility = {p: (election.costs[p] if satisfaction == "cost" else 1)
                        for p in election.costs}
        if satisfaction == "cost":
            # A voter's satisfaction is the cost of what they approved: a free project adds none.
            for project, cost in election.costs.items():
                if cost == 0:
                    self.support[project] = 0
        # Under cardinality satisfaction, supported projects that cost nothing are bought first.
        self.free = sorted(p for p, cost in election.costs.items()
                           if cost == 0 and self.support[p] > 0)
        self.priced = [p for p, cost in election.costs.items()
                       if cost > 0 and self.support[p] > 0]

    def run(self, share: Fraction) -> _Run:
        costs = self.election.costs
        values: list[Fraction] = [share]
        # Correctly rounded floats order as the exact values do, except where they are equal.
        order: list[tuple[float, Fraction]] = [(float(share), share)]
        class_of_value: dict[Fraction, int] = {share: 0}
        group_class = [0] * len(self.group_weights)
        weights = self.group_weights
        bound = {p: Fraction(costs[p], self.support[p] * self.utility[p]) for p in self.priced}
        waiting = set(self.priced)
        selected = list(self.free)
        rounds: dict[str, tuple[int, Fraction]] = {}

        # Per project priced this round: its supporters' weight in each class of money.
        held_of: dict[str, dict[int, int]] = {}

        def held(project: str) -> dict[int, int]:
            counts: dict[int, int] = {}
            get = counts.get
            for group in self.supporters[project]:
                index = group_class[group]
                if index >= 0:
                    counts[index] = get(index, 0) + weights[group]
            held_of[project] = counts
            return counts

        def price(project: str) -> Fraction | None:
            """The lowest price per unit of satisfaction its supporters can pay, or None."""
            classes = sorted(held(project).items(), key=lambda item: order[item[0]])
            owed = Fraction(costs[project])
            weight = sum(w for _, w in classes)
            for index, w in classes:
                if owed <= values[index] * weight:
                    return owed / (weight * self.utility[project])
                owed -= values[index] * w
                weight -= w
            return None

        while waiting:
            best: Fraction | None = None
            tied: list[str] = []
            for project in sorted(waiting, key=lambda p: (bound[p], p)):
                if best is not None and bound[project] > best:
                    break
                rho = price(project)
                if rho is None:
                    waiting.discard(project)
                    continue
                bound[project] = rho
                if best is None or rho < best:
                    best, tied = rho, [project]
                elif rho == best:
                    tied.append(project)
            if best is None:
                break
            chosen = min(tied)
            waiting.discard(chosen)
            selected.append(chosen)
            payment = best * self.utility[chosen]
            rounds[chosen] = (len(rounds) + 1, payment)
            # Classes of the buyers' money after paying; -1 for those left with nothing.
            moved: dict[int, int] = {}
            for index in held_of[chosen]:
                left = values[index] - payment
                if left <= 0:
                    moved[index] = -1
                    continue
                target = class_of_value.get(left)
                if target is None:
                    target = class_of_value[left] = len(values)
                    values.append(left)
                    order.append((float(left), left))
                moved[index] = target
            for group in self.supporters[chosen]:
                index = group_class[group]
                if index >= 0:
                    group_class[group] = moved[index]
        return _Run(selected, rounds, share)

    def verdicts(self, run: _Run) -> dict[str, Verdict]:
        costs = self.election.costs
        chosen = set(run.selected)
        verdicts: dict[str, Verdict] = {}
        for project, cost in costs.items():
            supporters = self.support[project]
            figures = {"votes": supporters, "cost": cost}
            if project in run.rounds:
                number, payment = run.rounds[project]
                verdicts[project] = Verdict(True, "equal_shares", {
                    **figures, "round": number, "payment": _money(payment)})
            elif project in chosen:
                verdicts[project] = Verdict(True, "free", figures)
            elif supporters == 0:
                verdicts[project] = Verdict(False, "no_votes", figures)
            elif cost > self.election.budget:
                verdicts[project] = Verdict(False, "over_budget", figures)
            elif run.money_at_start * supporters < cost:
                verdicts[project] = Verdict(False, "too_few_supporters", {
                    **figures, "share": _money(run.money_at_start),
                    "money": _money(run.money_at_start * supporters)})
            else:
                verdicts[project] = Verdict(False, "shares_spent", figures)
        return verdicts


def equal_shares(election: Election, satisfaction: Satisfaction = "cost",
                 completion: Completion = "none", step: int = 1) -> Outcome:
    """The Method of Equal Shares: each voter holds budget/n, and a project is bought when its
    supporters can pay for it with the lowest price per unit of satisfaction.

    With "add1" completion, each voter's share is raised by `step` units at a time (pabutools'
    voter_budget_increment) while the outcome stays within the budget and is not exhaustive,
    then the money left goes greedily by votes."""
    if satisfaction not in SATISFACTIONS:
        raise ValueError(f"unknown satisfaction {satisfaction!r}")
    if completion not in COMPLETIONS:
        raise ValueError(f"unknown completion {completion!r}")
    if step < 1:
        raise ValueError("the completion step must be at least one unit")
    budget = election.budget
    if election.voters == 0:
        if completion == "add1":
            return greedy(election, reason="completion")
        return Outcome((), 0, budget, {p: Verdict(False, "no_votes", {"votes": 0, "cost": c})
                                       for p, c in election.costs.items()})
    counting = _EqualShares(election, satisfaction)
    share = Fraction(budget, election.voters)
    run = counting.run(share)
    if completion == "add1":
        previous = _Run(list(counting.free), {}, share)
        while True:
            spent = sum(election.costs[p] for p in run.selected)
            if spent > budget:
                run = previous
                break
            left = budget - spent
            chosen = set(run.selected)
            if all(election.costs[p] > left for p in counting.priced if p not in chosen):
                break
            previous = run
            share += step
            run = counting.run(share)
    verdicts = counting.verdicts(run)
    if completion == "add1":
        topped_up = greedy(election, run.selected, reason="completion")
        for project, verdict in topped_up.verdicts.items():
            if verdict.selected or verdicts[project].reason == "shares_spent":
                verdicts[project] = verdict
        selected = topped_up.selected
    else:
        selected = tuple(run.selected)
    return Outcome(selected, sum(election.costs[p] for p in selected), budget, verdicts)
