"""The pabulib .pb format: reading, writing, refusing bad files, and `ovoz pb tally`."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ovoz.cli import cli
from ovoz.planning import services
from ovoz.planning.pabulib import PbError, PbFile, election_of, parse, render
from ovoz.planning.tables import Ballot, Cycle, Proposal
from tests.planning.helpers import (
    cycle_form,
    district_mahallas,
    make_manager,
    make_voter,
    move_to,
    proposal_text,
)
from tests.reports.helpers import load_demo_mahallas

# As pabulib's own files are often written: a byte order mark, spaces after the semicolons,
# a quoted value holding a semicolon, a list of categories, an extra voter column, an empty vote.
SAMPLE = (
    "\ufeffMETA\n"
    "key; value\n"
    "description; Obodon qishloq 2026\n"
    "country; Uzbekistan\n"
    "unit; Beruniy\n"
    "num_projects; 3\n"
    "num_votes; 4\n"
    "budget; 2500\n"
    "vote_type; approval\n"
    "rule; equalshares\n"
    "PROJECTS\n"
    "project_id; cost; name; category\n"
    '1; 600; "Suv quvuri; 2 km"; water, health\n'
    "2; 800; Maktab tomi; education\n"
    "10; 1400; Yo'l; roads\n"
    "\n"
    "VOTES\n"
    "voter_id; age; vote\n"
    "1; 34; 1,2\n"
    "2; 51; 10, 1\n"
    "3; 23; 2\n"
    "4; ; \n"
)

PARSED = PbFile(
    meta={"description": "Obodon qishloq 2026", "country": "Uzbekistan", "unit": "Beruniy",
          "num_projects": "3", "num_votes": "4", "budget": "2500", "vote_type": "approval",
          "rule": "equalshares"},
    projects=[
        {"project_id": "1", "cost": "600", "name": "Suv quvuri; 2 km", "category": "water, health"},
        {"project_id": "2", "cost": "800", "name": "Maktab tomi", "category": "education"},
        {"project_id": "10", "cost": "1400", "name": "Yo'l", "category": "roads"},
    ],
    votes=[
        {"voter_id": "1", "age": "34", "vote": "1,2"},
        {"voter_id": "2", "age": "51", "vote": "10,1"},
        {"voter_id": "3", "age": "23", "vote": "2"},
        {"voter_id": "4", "age": "", "vote": ""},
    ],
)


def test_parse_reads_every_section_and_keeps_other_columns() -> None:
    assert parse(SAMPLE) == PARSED


def test_render_writes_plain_semicolons_and_reads_back_the_same() -> None:
    text = render(PARSED)
    assert text == (
        "META\nkey;value\ndescription;Obodon qishloq 2026\ncountry;Uzbekistan\nunit;Beruniy\n"
        "num_projects;3\nnum_votes;4\nbudget;2500\nvote_type;approval\nrule;equalshares\n"
        "PROJECTS\nproject_id;cost;name;category\n"
        '1;600;"Suv quvuri; 2 km";water, health\n2;800;Maktab tomi;education\n'
        "10;1400;Yo'l;roads\n"
        "VOTES\nvoter_id;age;vote\n1;34;1,2\n2;51;10,1\n3;23;2\n4;;\n"
    )
    assert parse(text) == PARSED


def test_render_puts_ids_first_fills_missing_columns_and_flattens_line_breaks() -> None:
    pb = PbFile(
        meta={"budget": "100", "vote_type": "approval", "description": "Birinchi\nikkinchi"},
        projects=[{"name": 'Ko\'prik "Yangi"', "cost": "40", "project_id": "7"},
                  {"project_id": "8", "cost": "10", "category": "roads"}],
        votes=[{"vote": "7", "voter_id": "a"}, {"voter_id": "b", "vote": "7,8"}],
    )
    text = render(pb)
    assert "description;Birinchi ikkinchi\n" in text
    assert 'project_id;cost;name;category\n7;40;"Ko\'prik ""Yangi""";\n8;10;;roads\n' in text
    assert text.endswith("VOTES\nvoter_id;vote\na;7\nb;7,8\n")
    again = parse(text)
    assert again.projects[0]["name"] == 'Ko\'prik "Yangi"'
    assert again.projects[1] == {"project_id": "8", "cost": "10", "name": "", "category": "roads"}
    # Nobody voted: the VOTES section is still there, with its header.
    empty = PbFile({"budget": "5", "vote_type": "approval"}, [{"project_id": "1", "cost": "5"}],
                   [])
    assert render(empty).endswith("VOTES\nvoter_id;vote\n")
    assert parse(render(empty)) == empty


def test_election_of_a_file() -> None:
    election = election_of(parse(SAMPLE))
    assert election.budget == 2500
    assert election.costs == {"1": 600, "2": 800, "10": 1400}
    assert election.ballots == Counter({frozenset({"1", "2"}): 1, frozenset({"10", "1"}): 1,
                                        frozenset({"2"}): 1, frozenset(): 1})


def test_whole_amounts_may_be_written_with_a_decimal_point() -> None:
    text = SAMPLE.replace("budget; 2500", "budget; 2500.00").replace("; 600;", "; 600,0;")
    election = election_of(parse(text))
    assert (election.budget, election.costs["1"]) == (2500, 600)


def _without(text: str, start: str, end: str | None) -> str:
    """The text with the lines from the one beginning `start` up to the one beginning `end`
    (or the end of the text) left out."""
    head, rest = text.split(start, 1)
    return head + (end + rest.split(end, 1)[1] if end else "")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (_without(SAMPLE, "\ufeffMETA", "PROJECTS"), "missing section META"),
        (_without(SAMPLE, "PROJECTS", "\nVOTES"), "missing section PROJECTS"),
        (_without(SAMPLE, "VOTES", None), "missing section VOTES"),
        (SAMPLE + "META\nkey;value\n", "section META appears twice"),
        (SAMPLE.replace("project_id; cost; name; category\n", "").split("1; 600")[0],
         "section PROJECTS has no header line"),
        ("budget;10\n" + SAMPLE, "line 1: data before the META section"),
        (SAMPLE.replace("key; value", "name; value"), "line 2: the META header must be key;value"),
        (SAMPLE.replace("project_id; cost;", "project_id; price;"),
         "the PROJECTS header has no cost column"),
        (SAMPLE.replace("voter_id; age; vote", "voter_id; age; votes_cast"),
         "the VOTES header has no vote column"),
        (SAMPLE.replace("voter_id; age;", "voter_id; voter_id;"),
         "the VOTES header repeats a column"),
        (SAMPLE.replace("3; 23; 2", "3; 23; 2; x"),
         "line 21: 4 values for the 3 columns of VOTES (voter_id;age;vote)"),
        (SAMPLE.replace("country; Uzbekistan", "country; Uzbekistan; Karakalpakstan"),
         "line 4: 3 values for the 2 columns of META"),
        (SAMPLE.replace("unit; Beruniy", "budget; 3000"), "META key 'budget' appears twice"),
        (SAMPLE.replace("budget; 2500\n", ""), "META has no budget"),
        (SAMPLE.replace("budget; 2500", "budget; 2500.5"),
         "budget '2500.5' is not a whole number of soums"),
        (SAMPLE.replace("budget; 2500", "budget; 2500,50"),
         "budget '2500,50' is not a whole number of soums"),
        (SAMPLE.replace("budget; 2500", "budget; 2.5e3"), "budget '2.5e3' is not a number"),
        (SAMPLE.replace("budget; 2500", "budget; -2500"), "budget '-2500' is negative"),
        (SAMPLE.replace("; 800;", "; many;"), "project '2': cost 'many' is not a number"),
        (SAMPLE.replace("; 800;", "; 800.25;"),
         "project '2': cost '800.25' is not a whole number of soums"),
        (SAMPLE.replace("; 800;", "; -800;"), "project '2': cost '-800' is negative"),
        (SAMPLE.replace("; 800;", "; ;"), "project '2' has no cost"),
        (SAMPLE.replace("vote_type; approval", "vote_type; ordinal"),
         "vote_type 'ordinal' is not supported: only approval"),
        (SAMPLE.replace("vote_type; approval\n", ""), "META has no vote_type"),
        (SAMPLE.replace("10; 1400;", "2; 1400;").replace("10, 1", "1"),
         "project '2' appears twice"),
        (SAMPLE.replace("3; 23; 2", "2; 23; 2"), "voter '2' appears twice"),
        (SAMPLE.replace("3; 23; 2", "3; 23; 2,9"), "voter '3' approves unknown project '9'"),
        (SAMPLE.replace("3; 23; 2", "3; 23; 2,2"), "voter '3' approves project '2' twice"),
        (SAMPLE.replace("num_votes; 4", "num_votes; 5"),
         "META says num_votes '5' but the file holds 4"),
        (SAMPLE.replace("10; 1400;", '"10,5"; 1400;').replace("10, 1", "1"),
         "project id '10,5' holds a comma"),
        (SAMPLE.replace("10; 1400;", "votes; 1400;").replace("10, 1", "1"),
         "project id 'votes' is the name of a section"),
        (SAMPLE.replace("3; 23; 2", "; 23; 2"), "a voter has an empty id"),
    ],
)
def test_every_bad_file_is_refused_with_one_line(text: str, reason: str) -> None:
    with pytest.raises(PbError) as refused:
        parse(text)
    assert reason in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("pb", "reason"),
    [
        (PbFile({"budget": "1", "vote_type": "approval", "projects": "2"}, [], []),
         "META key 'projects' is the name of a section"),
        (PbFile({"budget": "1", "vote_type": "approval"}, [{"project_id": " 1", "cost": "1"}],
                []), "project id ' 1' has spaces around it"),
        (PbFile({"budget": "1", "vote_type": "approval"}, [{"project_id": "1", "cost": "1"}],
                [{"voter_id": "v", "vote": "2"}]), "voter 'v' approves unknown project '2'"),
    ],
)
def test_render_refuses_what_could_not_be_read_back(pb: PbFile, reason: str) -> None:
    with pytest.raises(PbError, match=reason):
        render(pb)


def random_pb(seed: int, voters: int = 40) -> PbFile:
    """A seeded election with ids from 1 to 12, names that need quoting, and a skew towards a
    few popular projects."""
    rng = random.Random(seed)
    ids = [str(number) for number in rng.sample(range(1, 13), rng.randint(2, 9))]
    costs = {project: rng.choice([0, rng.randint(1, 30), rng.randint(20, 120)])
             for project in ids}
    popularity = {project: rng.random() ** 2 for project in ids}
    votes = [{"voter_id": str(number),
              "vote": ",".join(p for p in ids if rng.random() < popularity[p])}
             for number in range(1, voters + 1)]
    return PbFile(
        meta={"description": f"Sinov {seed}", "country": "Uzbekistan", "unit": "Beruniy",
              "instance": "2026", "num_projects": str(len(ids)), "num_votes": str(voters),
              "budget": str(rng.randint(50, 200)), "vote_type": "approval", "rule": "greedy"},
        projects=[{"project_id": p, "cost": str(costs[p]), "name": f'Loyiha "{p}"; tuman'}
                  for p in ids],
        votes=votes,
    )


@pytest.fixture(scope="module")
def pabutools_parse() -> Any:
    pytest.importorskip("pabutools")
    from pabutools.election.pabulib import parse_pabulib_from_string

    return parse_pabulib_from_string


@pytest.mark.parametrize("seed", range(20))
def test_pabutools_reads_our_files_back(pabutools_parse: Any, seed: int) -> None:
    pb = random_pb(seed)
    instance, profile = pabutools_parse(render(pb))
    assert instance.budget_limit == int(pb.meta["budget"])
    assert {p.name: p.cost for p in instance} == {row["project_id"]: int(row["cost"])
                                                  for row in pb.projects}
    assert {p.name: instance.project_meta[p]["name"] for p in instance} == {
        row["project_id"]: row["name"] for row in pb.projects}
    assert [sorted(p.name for p in ballot) for ballot in profile] == [
        sorted(filter(None, vote["vote"].split(","))) for vote in pb.votes]
    assert instance.meta["description"] == pb.meta["description"]


def tally(path: Path, *options: str) -> Result:
    return CliRunner().invoke(cli, ["pb", "tally", str(path), *options])


RULES = [("greedy", "cost", "none"), ("mes", "cost", "none"), ("mes", "cardinality", "none"),
         ("mes", "cost", "add1"), ("mes", "cardinality", "add1")]


@pytest.mark.parametrize(("rule", "satisfaction", "completion"), RULES)
def test_pb_tally_json_selects_what_pabutools_selects(
        pabutools_parse: Any, tmp_path: Path, rule: str, satisfaction: str,
        completion: str) -> None:
    from pabutools.election import Cardinality_Sat, Cost_Sat
    from pabutools.rules import (
        completion_by_rule_combination,
        greedy_utilitarian_welfare,
        method_of_equal_shares,
    )

    sat = Cost_Sat if satisfaction == "cost" else Cardinality_Sat
    for seed in range(8):
        path = tmp_path / f"random-{seed}.pb"
        path.write_text(render(random_pb(seed)), encoding="utf-8")
        result = tally(path, "--rule", rule, "--sat", satisfaction, "--completion", completion,
                       "--json")
        assert result.exit_code == 0, result.output
        printed = json.loads(result.stdout)
        assert list(printed) == ["selected", "spent", "budget"]
        assert result.stdout == json.dumps(printed) + "\n"

        instance, profile = pabutools_parse(path.read_text(encoding="utf-8"))
        if rule == "greedy":
            theirs = greedy_utilitarian_welfare(instance, profile, sat_class=Cost_Sat)
        elif completion == "none":
            theirs = method_of_equal_shares(instance, profile, sat_class=sat)
        else:
            theirs = completion_by_rule_combination(
                instance, profile, [method_of_equal_shares, greedy_utilitarian_welfare],
                [{"sat_class": sat, "voter_budget_increment": 1}, {"sat_class": Cost_Sat}])
        assert sorted(printed["selected"]) == sorted(p.name for p in theirs), seed
        assert printed["spent"] == sum(p.cost for p in theirs)
        assert printed["budget"] == instance.budget_limit


def test_pb_tally_summary_gives_each_projects_verdict(tmp_path: Path) -> None:
    path = tmp_path / "sample.pb"
    path.write_text(SAMPLE, encoding="utf-8")
    result = tally(path, "--rule", "mes")
    assert result.exit_code == 0, result.output
    # 625 for each of the 4 voters. 1 and 2 both have two supporters (a tie, "1" first, each
    # pays 300); then voter 1 gives his last 325 to 2 and voter 3 the 475 still owed. The one
    # supporter of 10 never held enough.
    assert result.stdout.splitlines() == [
        "sample.pb: Method of Equal Shares, cost satisfaction, completion none. "
        "2 of 3 projects selected, 1400 of 2500 spent, 4 voters.",
        "  1: selected, equal_shares (votes 2, cost 600, round 1, payment 300)",
        "  2: selected, equal_shares (votes 2, cost 800, round 2, payment 475)",
        "  10: not selected, too_few_supporters (votes 1, cost 1400, share 625, money 625)",
    ]
    greedy = tally(path, "--rule", "greedy")
    assert greedy.exit_code == 0, greedy.output
    assert "  10: not selected, no_money_left (votes 1, cost 1400, left 1100)" in greedy.stdout


def test_pb_commands_have_help() -> None:
    listing = CliRunner().invoke(cli, ["pb", "--help"])
    assert listing.exit_code == 0
    assert [line.split()[0] for line in listing.stdout.split("Commands:")[1].splitlines()
            if line.strip()] == ["export", "import", "tally"]
    for command in ("export", "import", "tally"):
        shown = CliRunner().invoke(cli, ["pb", command, "--help"])
        assert shown.exit_code == 0
        assert shown.stdout.startswith(f"Usage: cli pb {command} [OPTIONS] ")


def test_pb_tally_refuses_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pb"
    bad.write_text(SAMPLE.replace("3; 23; 2", "3; 23; 2,9"), encoding="utf-8")
    refused = tally(bad, "--rule", "mes", "--json")
    assert refused.exit_code == 1
    assert refused.stdout == ""
    assert refused.stderr == "Error: bad.pb: voter '3' approves unknown project '9'\n"

    binary = tmp_path / "binary.pb"
    binary.write_bytes(b"META\n\xff\xfe")
    assert tally(binary, "--rule", "mes").stderr == "Error: binary.pb: not UTF-8 text\n"

    good = tmp_path / "good.pb"
    good.write_text(SAMPLE, encoding="utf-8")
    mixed = tally(good, "--rule", "greedy", "--sat", "cardinality")
    assert mixed.exit_code == 2
    assert mixed.stderr.strip().endswith("Error: --sat and --completion apply to --rule mes only")
    assert tally(good, "--rule", "phragmen").exit_code == 2


async def pb_command(*args: str) -> Result:
    # The command runs its own event loop, so it runs in a thread of its own.
    return await asyncio.to_thread(CliRunner().invoke, cli, ["pb", *args])


async def counted_cycle() -> tuple[int, list[int], list[str]]:
    """A Method of Equal Shares cycle in Beruniy with three proposals, counted: its id, the
    proposals' ids, and the phones of its four voters."""
    await load_demo_mahallas()
    mahalla = (await district_mahallas())[0]
    manager = await make_manager()
    cycle_id = await services.create_cycle(manager, cycle_form(selection_rule="mes"))
    await move_to(cycle_id, "proposals")
    author = await make_voter("+998901110001", mahalla)
    costs = (300_000_000, 500_000_000, 400_000_000)
    ids = [await services.submit_proposal(author, cycle_id, proposal_text(
        mahalla, title=f"Loyiha; {n}-qism", estimated_cost=cost))
        for n, cost in enumerate(costs, start=1)]
    await move_to(cycle_id, "review")
    for proposal_id, cost in zip(ids, costs, strict=True):
        await services.review(manager, proposal_id, True, cost)
    await move_to(cycle_id, "voting")
    phones = [f"+99890222000{n}" for n in range(4)]
    for n, phone in enumerate(phones):
        voter = await make_voter(phone, mahalla, confirmed=False)
        await services.cast_ballot(voter, cycle_id, [ids[1], ids[2]] if n < 3 else [ids[0]])
    await move_to(cycle_id, "results")
    return cycle_id, ids, phones


async def test_pb_export_a_counted_cycle_recount_it_and_import_it(db: str, tmp_path: Path
                                                                   ) -> None:
    cycle_id, ids, phones = await counted_cycle()
    path = tmp_path / "beruniy.pb"
    exported = await pb_command("export", str(cycle_id), str(path))
    assert exported.exit_code == 0, exported.output
    assert exported.stdout == f"Cycle {cycle_id} written to {path}.\n"
    text = path.read_text(encoding="utf-8")
    assert text == await services.export_pb(cycle_id)
    assert not any(phone in text or phone[1:] in text for phone in phones)
    pb = parse(text)
    assert pb.meta["district_id"] == "16"
    assert [row["project_id"] for row in pb.projects] == [str(i) for i in ids]
    assert sorted(vote["vote"] for vote in pb.votes) == sorted(
        [str(ids[0])] + [f"{ids[1]},{ids[2]}"] * 3)

    # Anyone can recount the published file and find the published selection.
    recount = await pb_command("tally", str(path), "--rule", "mes", "--json")
    assert recount.exit_code == 0, recount.output
    [published] = await services.results(cycle_id)
    assert [int(p) for p in json.loads(recount.stdout)["selected"]] == published["selected"]
    # And so does pabutools, reading the same file.
    election = pytest.importorskip("pabutools.election")
    rules = pytest.importorskip("pabutools.rules")
    reader = pytest.importorskip("pabutools.election.pabulib")
    instance, profile = reader.parse_pabulib_from_string(text)
    theirs = rules.method_of_equal_shares(instance, profile, sat_class=election.Cost_Sat)
    assert sorted(int(project.name) for project in theirs) == sorted(published["selected"])

    imported = await pb_command("import", str(path))
    assert imported.exit_code == 0, imported.output
    new_id = int(imported.stdout.split()[1])
    assert imported.stdout == (f"Cycle {new_id} created from beruniy.pb: 3 project(s), "
                               "4 ballot(s).\n")
    assert new_id != cycle_id
    cycle = await Cycle.select(Cycle.district, Cycle.budget).where(Cycle.id == new_id).first()
    assert cycle == {"district": 16, "budget": 1_000_000_000}
    proposals = await Proposal.select(Proposal.title, Proposal.reviewed_cost).where(
        Proposal.cycle == new_id).order_by(Proposal.id)
    assert proposals == [{"title": f"Loyiha; {n}-qism", "reviewed_cost": cost} for n, cost in
                         enumerate((300_000_000, 500_000_000, 400_000_000), start=1)]
    assert await Ballot.count().where(Ballot.cycle == new_id) == 4


async def test_pb_export_and_import_refuse_in_one_line(db: str, tmp_path: Path) -> None:
    missing = await pb_command("export", "999999", str(tmp_path / "none.pb"))
    assert (missing.exit_code, missing.stderr) == (1, "Error: no cycle 999999\n")
    assert not (tmp_path / "none.pb").exists()
    cycle_id, _, _ = await counted_cycle()
    nowhere = tmp_path / "absent" / "cycle.pb"
    unwritable = await pb_command("export", str(cycle_id), str(nowhere))
    assert unwritable.stderr == f"Error: cannot write {nowhere}: No such file or directory\n"

    manager = await make_manager("second")
    voting = await services.create_cycle(manager, cycle_form())
    await move_to(voting, "voting")
    early = await pb_command("export", str(voting), str(tmp_path / "early.pb"))
    assert early.exit_code == 1
    assert early.stderr == (f"Error: cycle {voting} is not counted yet: ballots are exported "
                            "once its results are out\n")

    sample = tmp_path / "sample.pb"
    sample.write_text(SAMPLE, encoding="utf-8")
    no_district = await pb_command("import", str(sample))
    assert no_district.exit_code == 2
    assert no_district.stderr.strip().endswith(
        "Error: give --district: the file's META has no district_id")
    unknown = await pb_command("import", str(sample), "--district", "999999")
    assert (unknown.exit_code, unknown.stderr) == (1, "Error: no district 999999\n")
    stated = tmp_path / "stated.pb"
    stated.write_text(SAMPLE.replace("unit; Beruniy", "district_id; Beruniy"), encoding="utf-8")
    wrong = await pb_command("import", str(stated))
    assert wrong.stderr == "Error: stated.pb: META district_id 'Beruniy' is not a district id\n"
    assert await Cycle.count() == 2
