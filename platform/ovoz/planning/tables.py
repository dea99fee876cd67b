from piccolo.columns import (
    BigInt,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from ovoz.accounts.tables import Resident, StaffAccount
from ovoz.geo.tables import District, Mahalla


class Cycle(Table, tablename="planning_cycle"):
    """A season of participatory budgeting in one district. Each phase starts at midnight,
    Tashkent time, of its date; the rules are fixed when the cycle is created."""

    district = ForeignKey(references=District, on_delete=OnDelete.restrict, null=False,
                          index=True)
    title = Varchar(length=150)
    description = Text(default="")
    # Soums; with sub-budgets, their sum.
    budget = BigInt()
    ballot_rule = Varchar(length=12)
    max_choices = Integer(null=True, default=None)
    selection_rule = Varchar(length=12)
    satisfaction = Varchar(length=12, default="cost")
    completion = Varchar(length=8, default="none")
    show_running_totals = Boolean(default=False)
    proposals_from = Date()
    review_from = Date()
    voting_from = Date()
    results_from = Date()
    implementation_from = Date()
    # The last phase whose start has been acted on (proposals moved, results computed...).
    phase_reached = Varchar(length=16, default="upcoming")
    created_by = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    created_at = Timestamptz()
    # Set for a cycle read from a pabulib file: its ballots have no residents behind them.
    imported = Boolean(default=False)


class MahallaBudget(Table, tablename="planning_mahalla_budget"):
    """A mahalla's own share of a cycle's money; (cycle, mahalla) is unique. A cycle with
    sub-budgets is counted mahalla by mahalla, each resident voting on their own mahalla."""

    cycle = ForeignKey(references=Cycle, on_delete=OnDelete.cascade, null=False)
    mahalla = ForeignKey(references=Mahalla, on_delete=OnDelete.restrict, null=False)
    amount = BigInt()


class Proposal(Table, tablename="planning_proposal"):
    cycle = ForeignKey(references=Cycle, on_delete=OnDelete.cascade, null=False, index=True)
    author = ForeignKey(references=Resident, on_delete=OnDelete.set_null, null=True,
                        index=True)
    title = Varchar(length=150)
    description = Text()
    category = Varchar(length=20, default="other")
    mahalla = ForeignKey(references=Mahalla, on_delete=OnDelete.restrict, null=True,
                         index=True)
    lat = Float(null=True, default=None)
    lon = Float(null=True, default=None)
    estimated_cost = BigInt()
    # What the ballot uses, set by the review.
    reviewed_cost = BigInt(null=True, default=None)
    status = Varchar(length=16, default="submitted", index=True)
    review_reason = Text(default="")
    reviewed_by = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    reviewed_at = Timestamptz(null=True, default=None)
    review_due_at = Timestamptz(null=True, default=None)
    merged_into = ForeignKey(references="self", on_delete=OnDelete.set_null, null=True)
    # Both scripts and the apostrophes people type, folded, so similar proposals are found.
    search_text = Text(default="")
    created_at = Timestamptz()
    # Set when results are published.
    votes = Integer(null=True, default=None)
    result_reason = Varchar(length=24, default="")
    result_figures = Text(default="{}")
    # Delivery of a selected project.
    delivery_status = Varchar(length=16, default="")
    progress = Integer(default=0)
    spent = BigInt(default=0)
    due_on = Date(null=True, default=None)
    cancel_reason = Text(default="")
    delivered_at = Timestamptz(null=True, default=None)


class Ballot(Table, tablename="planning_ballot"):
    """One voter's ballot; (cycle, resident) is unique. Choices are replaced as a whole, so a
    ballot is always one complete, confirmed choice."""

    cycle = ForeignKey(references=Cycle, on_delete=OnDelete.cascade, null=False, index=True)
    resident = ForeignKey(references=Resident, on_delete=OnDelete.set_null, null=True)
    # The voter's mahalla when they voted: for sub-budgets and turnout by mahalla.
    mahalla = ForeignKey(references=Mahalla, on_delete=OnDelete.restrict, null=True)
    channel = Varchar(length=10, default="web")
    assisted_by = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    consent = Varchar(length=40, default="")
    receipt = Varchar(length=12)
    cast_at = Timestamptz()
    changed_at = Timestamptz()
    changes = Integer(default=0)


class BallotChoice(Table, tablename="planning_ballot_choice"):
    """(ballot, proposal) is unique."""

    ballot = ForeignKey(references=Ballot, on_delete=OnDelete.cascade, null=False)
    proposal = ForeignKey(references=Proposal, on_delete=OnDelete.cascade, null=False,
                          index=True)


class Result(Table, tablename="planning_result"):
    """A published count: the whole cycle, or one mahalla's sub-budget."""

    cycle = ForeignKey(references=Cycle, on_delete=OnDelete.cascade, null=False, index=True)
    mahalla = ForeignKey(references=Mahalla, on_delete=OnDelete.restrict, null=True)
    rule = Varchar(length=12)
    satisfaction = Varchar(length=12)
    completion = Varchar(length=8)
    budget = BigInt()
    spent = BigInt()
    voters = Integer()
    selected = Text()
    # SHA-256 of the published pabulib export of the anonymised ballots.
    ballots_sha256 = Varchar(length=64)
    computed_at = Timestamptz()


class DeliveryUpdate(Table, tablename="planning_delivery_update"):
    """A dated entry in a selected project's timeline."""

    proposal = ForeignKey(references=Proposal, on_delete=OnDelete.cascade, null=False,
                          index=True)
    staff = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    status = Varchar(length=16)
    progress = Integer()
    spent = BigInt()
    note = Text(default="")
    at = Timestamptz()


class Photo(Table, tablename="planning_photo"):
    """A photo of a proposal, or of a delivery update when `update` is set."""

    proposal = ForeignKey(references=Proposal, on_delete=OnDelete.cascade, null=False,
                          index=True)
    update = ForeignKey(references=DeliveryUpdate, on_delete=OnDelete.cascade, null=True)
    name = Varchar(length=80)
    position = Integer(default=0)


class DeliveryComment(Table, tablename="planning_delivery_comment"):
    """A resident's comment on a project being built."""

    proposal = ForeignKey(references=Proposal, on_delete=OnDelete.cascade, null=False,
                          index=True)
    author = ForeignKey(references=Resident, on_delete=OnDelete.set_null, null=True)
    text = Text()
    at = Timestamptz()
