"""The pabulib .pb text format, so that cycles can be counted and checked by other tools.

A file has three sections, each a title line (META, PROJECTS, VOTES), a header line naming the
columns and then one record per line, values separated by semicolons with CSV quoting. Only
approval ballots are read: a vote is a comma-separated list of project ids. Money is whole soums.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from ovoz.planning.tally import Election

SECTIONS = ("META", "PROJECTS", "VOTES")
# Whole soums, written as pabulib files write amounts: digits, perhaps a decimal point or comma.
_AMOUNT = re.compile(r"([+-]?)(\d+)(?:[.,](\d*))?")


class PbError(ValueError):
    """A file that is not a pabulib approval election this platform can count; says why."""


@dataclass(frozen=True, slots=True)
class PbFile:
    """A .pb file as text: META keys, then one row per project and per voter, columns by name.

    Columns keep the order in which they were read (or given); unknown ones are kept as text."""

    meta: dict[str, str]
    projects: list[dict[str, str]]
    votes: list[dict[str, str]]


def parse(text: str) -> PbFile:
    """Read a .pb file, refusing with PbError anything that could not be counted as written.

    Values lose the spaces around them; a vote is rewritten as its ids joined by bare commas."""
    rows = csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";",
                      skipinitialspace=True)
    found: dict[str, tuple[list[str], list[tuple[int, list[str]]]]] = {}
    titled: set[str] = set()
    section: str | None = None
    header: list[str] | None = None
    try:
        for row in rows:
            line = rows.line_num
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            title = cells[0].upper()
            if title in SECTIONS and not any(cells[1:]):
                if title in titled:
                    raise PbError(f"line {line}: section {title} appears twice")
                titled.add(title)
                section, header = title, None
                continue
            if section is None:
                raise PbError(f"line {line}: data before the META section")
            if header is None:
                header = cells
                _check_header(section, header, line)
                found[section] = (header, [])
                continue
            if len(cells) != len(header):
                raise PbError(f"line {line}: {len(cells)} values for the {len(header)} columns "
                              f"of {section} ({';'.join(header)})")
            found[section][1].append((line, cells))
    except csv.Error as error:
        raise PbError(f"line {rows.line_num}: {error}") from None
    for title in SECTIONS:
        if title not in titled:
            raise PbError(f"missing section {title}")
        if title not in found:
            raise PbError(f"section {title} has no header line")
    meta: dict[str, str] = {}
    for line, (key, value) in found["META"][1]:
        if not key:
            raise PbError(f"line {line}: a META key is empty")
        if key in meta:
            raise PbError(f"line {line}: META key {key!r} appears twice")
        meta[key] = value
    projects_header, project_rows = found["PROJECTS"]
    votes_header, vote_rows = found["VOTES"]
    votes = [dict(zip(votes_header, cells, strict=True)) for _, cells in vote_rows]
    for vote in votes:
        # "10, 1" and "10,1," are the same vote: whoever reads the file next sees "10,1".
        vote["vote"] = ",".join(ballot(vote))
    pb = PbFile(meta,
                [dict(zip(projects_header, cells, strict=True)) for _, cells in project_rows],
                votes)
    check(pb)
    return pb


def _check_header(section: str, header: list[str], line: int) -> None:
    required = {"META": ("key", "value"), "PROJECTS": ("project_id", "cost"),
                "VOTES": ("voter_id", "vote")}[section]
    if section == "META" and header != list(required):
        raise PbError(f"line {line}: the META header must be key;value")
    for column in required:
        if column not in header:
            raise PbError(f"line {line}: the {section} header has no {column} column")
    if len(set(header)) != len(header) or "" in header:
        raise PbError(f"line {line}: the {section} header repeats a column or has an empty one")


def check(pb: PbFile) -> None:
    """Refuse, with a one-line reason, what the counting and other pabulib tools cannot read."""
    _checked_ballots(pb)


def _checked_ballots(pb: PbFile) -> list[list[str]]:
    """Check the file and return its ballots, read once (large files have many)."""
    for key in pb.meta:
        if not key.strip():
            raise PbError("a META key is empty")
        if key.strip().upper() in SECTIONS:
            # A record starting with a section's title would be read as that section.
            raise PbError(f"META key {key!r} is the name of a section")
    _soums(pb.meta.get("budget"), "budget", missing="META has no budget")
    vote_type = pb.meta.get("vote_type")
    if vote_type is None:
        raise PbError("META has no vote_type (only approval is supported)")
    if vote_type != "approval":
        raise PbError(f"vote_type {vote_type!r} is not supported: only approval")
    projects: set[str] = set()
    for row in pb.projects:
        project = row.get("project_id", "")
        _check_id(project, "project")
        if "," in project:
            raise PbError(f"project id {project!r} holds a comma, which separates votes")
        if project in projects:
            raise PbError(f"project {project!r} appears twice")
        projects.add(project)
        _soums(row.get("cost"), f"project {project!r}: cost",
               missing=f"project {project!r} has no cost")
    voters: set[str] = set()
    ballots: list[list[str]] = []
    for row in pb.votes:
        voter = row.get("voter_id", "")
        if voter in voters:
            raise PbError(f"voter {voter!r} appears twice")
        voters.add(voter)
        chosen = ballot(row)
        if not projects.issuperset(chosen):
            unknown = next(project for project in chosen if project not in projects)
            raise PbError(f"voter {voter!r} approves unknown project {unknown!r}")
        if len(set(chosen)) != len(chosen):
            twice = next(project for project in chosen if chosen.count(project) > 1)
            raise PbError(f"voter {voter!r} approves project {twice!r} twice")
        ballots.append(chosen)
    for voter in voters:
        _check_id(voter, "voter")
    for key, actual in (("num_projects", len(pb.projects)), ("num_votes", len(pb.votes))):
        stated = pb.meta.get(key)
        if stated is not None and stated != str(actual):
            raise PbError(f"META says {key} {stated!r} but the file holds {actual}")
    return ballots


def _check_id(value: str, kind: str) -> None:
    if not value:
        raise PbError(f"a {kind} has an empty id")
    if value != value.strip():
        raise PbError(f"{kind} id {value!r} has spaces around it")
    if value.upper() in SECTIONS:
        raise PbError(f"{kind} id {value!r} is the name of a section")


def _soums(text: str | None, what: str, missing: str) -> int:
    if text is None or not text.strip():
        raise PbError(missing)
    amount = _AMOUNT.fullmatch(text.strip())
    if amount is None:
        raise PbError(f"{what} {text!r} is not a number")
    sign, whole, fraction = amount.groups()
    if fraction and fraction.strip("0"):
        raise PbError(f"{what} {text!r} is not a whole number of soums")
    try:
        soums = int(whole)
    except ValueError:  # more digits than any budget has
        raise PbError(f"{what} {text!r} is not a number") from None
    if sign == "-" and soums:
        raise PbError(f"{what} {text!r} is negative")
    return soums


def ballot(vote: Mapping[str, str]) -> list[str]:
    """The project ids a voter approved, in the order written."""
    return [project for project in map(str.strip, vote.get("vote", "").split(",")) if project]


def election_of(pb: PbFile) -> Election:
    """The approval election a file describes, ready for ovoz.planning.tally; checked first."""
    ballots = _checked_ballots(pb)
    budget = _soums(pb.meta.get("budget"), "budget", missing="META has no budget")
    costs = {row["project_id"]: _soums(row["cost"], "cost", missing="no cost")
             for row in pb.projects}
    return Election.of(budget, costs, ballots)


def render(pb: PbFile) -> str:
    """The file as text that pabulib tools read back: project_id and voter_id first.

    Line breaks inside values become spaces, since the format has one record per line."""
    check(pb)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerows(_flat(row) for row in (["META"], ["key", "value"], *pb.meta.items()))
    writer.writerows(_section("PROJECTS", pb.projects, first=["project_id", "cost"]))
    writer.writerows(_section("VOTES", pb.votes, first=["voter_id"], last=["vote"]))
    return out.getvalue()


def _section(title: str, rows: list[dict[str, str]], first: list[str],
             last: Sequence[str] = ()) -> Iterator[Iterator[str]]:
    """The title, the header and the rows: the `first` columns, then the others in the order
    they came, then any of the `last` still missing (so that an empty section has them)."""
    columns = list(first)
    for row in rows:
        for column in row:
            if column not in columns:
                columns.append(column)
    columns.extend(column for column in last if column not in columns)
    yield _flat([title])
    yield _flat(columns)
    for row in rows:
        yield _flat(row.get(column, "") for column in columns)


def _flat(values: Iterable[str]) -> Iterator[str]:
    return (" ".join(str(value).splitlines()) for value in values)
