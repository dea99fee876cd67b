"""Speed of the vote counting (ovoz.planning.tally) beside pabutools, the reference
implementation, on one large approval election. How to run it and read it: bench/README.md.

The election is generated from a seed: 100 projects costing 50 to 500 million soums, a budget of
5 billion, and voters approving 1 to 10 projects each, a few projects far more popular than the
rest. pabutools is GPL and only ever used here and in the tests, in a process of its own.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import queue
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ovoz.planning import pabulib, tally

T = TypeVar("T")
MILLION = 1_000_000
Ballots = list[list[str]]


def generate(voters: int, projects: int, budget: int, seed: int
             ) -> tuple[dict[str, int], Ballots]:
    """Costs by project id, and one ballot per voter."""
    rng = random.Random(seed)
    ids = [str(number) for number in range(1, projects + 1)]
    costs = {project: rng.randint(500, 5000) * 100_000 for project in ids}
    # Popularity falls with rank (a Zipf-like curve), in an order unrelated to the ids or costs.
    ranked = rng.sample(ids, len(ids))
    weights = [1 / rank for rank in range(1, len(ids) + 1)]
    ballots: Ballots = []
    for _ in range(voters):
        wanted = rng.randint(1, min(10, projects))
        ballot: set[str] = set()
        while len(ballot) < wanted:
            ballot.update(rng.choices(ranked, weights, k=wanted - len(ballot)))
        ballots.append(sorted(ballot, key=int))
    return costs, ballots


def timed(work: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def pabutools_equal_shares(budget: int, costs: dict[str, int], ballots: Ballots,
                           answer: Any) -> None:
    """In a child process: build pabutools' election, then time its Method of Equal Shares."""
    from pabutools.election import ApprovalBallot, ApprovalProfile, Cost_Sat, Instance, Project
    from pabutools.rules import method_of_equal_shares

    projects = {name: Project(name, cost) for name, cost in costs.items()}
    instance = Instance(projects.values(), budget_limit=budget)
    profile = ApprovalProfile([ApprovalBallot([projects[p] for p in ballot])
                               for ballot in ballots], instance=instance)
    answer.put(None)  # built: the time limit starts now
    outcome, seconds = timed(lambda: method_of_equal_shares(instance, profile,
                                                            sat_class=Cost_Sat))
    answer.put((seconds, [project.name for project in outcome]))


def run_pabutools(budget: int, costs: dict[str, int], ballots: Ballots,
                  limit: float | None) -> tuple[float, list[str]] | None:
    """pabutools' seconds and selection, or None when its rule was stopped at the time limit
    (which does not count the building of its election)."""
    context = multiprocessing.get_context("fork")
    answer = context.Queue()
    child = context.Process(target=pabutools_equal_shares, args=(budget, costs, ballots, answer))
    child.start()
    deadline: float | None = None
    try:
        # Answers are read before joining: a child cannot end while its queue is unread.
        while True:
            try:
                message = answer.get(timeout=1)
            except queue.Empty:
                if not child.is_alive():
                    raise SystemExit("pabutools ended without an answer") from None
                if deadline is not None and time.monotonic() > deadline:
                    return None
                continue
            if message is not None:
                return message  # type: ignore[no-any-return]
            if limit is not None:
                deadline = time.monotonic() + limit
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=100_000, help="voters (100,000)")
    parser.add_argument("--projects", type=int, default=100, help="projects (100)")
    parser.add_argument("--budget", type=int, default=5_000 * MILLION,
                        help="budget in soums (5 billion)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the election (1)")
    parser.add_argument("--pabutools-limit", type=float, default=None, metavar="SECONDS",
                        help="stop pabutools after this long (default: let it finish)")
    parser.add_argument("--skip-pabutools", action="store_true",
                        help="time the platform's counting only")
    parser.add_argument("--save", type=Path, metavar="FILE.pb",
                        help="also write the election as a pabulib file (for `ovoz pb tally`)")
    args = parser.parse_args()
    if not args.skip_pabutools and importlib.util.find_spec("pabutools") is None:
        parser.error("pabutools is not installed (pip install -e '.[test]'), or use "
                     "--skip-pabutools")

    (costs, ballots), seconds = timed(lambda: generate(args.voters, args.projects, args.budget,
                                                       args.seed))
    approvals = sum(len(ballot) for ballot in ballots)
    election, grouping = timed(lambda: tally.Election.of(args.budget, costs, ballots))
    print(f"Election: {args.voters:,} voters, {args.projects} projects, budget "
          f"{args.budget:,} soums, {approvals / max(args.voters, 1):.1f} approvals per ballot, "
          f"{len(election.ballots):,} distinct ballots (seed {args.seed}, made in "
          f"{seconds:.1f} s)")
    if args.save:
        args.save.write_text(pabulib.render(pabulib.PbFile(
            {"description": f"Benchmark election, seed {args.seed}", "country": "Uzbekistan",
             "unit": "bench", "instance": str(args.seed), "num_projects": str(args.projects),
             "num_votes": str(args.voters), "budget": str(args.budget),
             "vote_type": "approval", "rule": "equalshares"},
            [{"project_id": p, "cost": str(cost)} for p, cost in costs.items()],
            [{"voter_id": str(n), "vote": ",".join(ballot)}
             for n, ballot in enumerate(ballots, 1)])), encoding="utf-8")
        print(f"Written to {args.save}")

    def report(name: str, outcome: tally.Outcome, seconds: float) -> None:
        print(f"  {name:<38} {seconds:8.3f} s   {len(outcome.selected):3} projects, "
              f"{outcome.spent:,} soums")

    print("ovoz.planning.tally")
    print(f"  {'grouping the ballots (Election.of)':<38} {grouping:8.3f} s")
    report("greedy", *timed(lambda: tally.greedy(election)))
    ours, mes_seconds = timed(lambda: tally.equal_shares(election, "cost"))
    report("equal shares, cost satisfaction", ours, mes_seconds)
    report("equal shares, cardinality", *timed(lambda: tally.equal_shares(election,
                                                                         "cardinality")))
    if args.skip_pabutools:
        return 0

    print("pabutools (method_of_equal_shares, Cost_Sat), in a process of its own ...",
          flush=True)
    theirs = run_pabutools(args.budget, costs, ballots, args.pabutools_limit)
    ours_total = grouping + mes_seconds
    if theirs is None:
        limit = args.pabutools_limit or 0
        print(f"  stopped after {limit:.0f} s: at least {limit / ours_total:.0f} times slower "
              "than ours (grouping included); selections not compared")
        return 0
    their_seconds, selected = theirs
    print(f"  {'equal shares, cost satisfaction':<38} {their_seconds:8.3f} s   "
          f"{len(selected):3} projects")
    print(f"Speed: ours is {their_seconds / mes_seconds:.0f} times faster "
          f"({their_seconds / ours_total:.0f} times with the grouping of ballots)")
    same = list(ours.selected) == selected
    print("Same projects, in the same order:", "yes" if same else "NO")
    if not same:
        print(f"  ours:      {list(ours.selected)}\n  pabutools: {selected}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
