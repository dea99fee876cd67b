from piccolo.columns import Date, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from ovoz.accounts.tables import StaffAccount
from ovoz.geo.tables import District, Mahalla, Region
from ovoz.reports.tables import Department


class Obligation(Table, tablename="accountability_obligation"):
    """Something a public body must answer, with its clock: a problem report, a petition that
    reached its threshold, a proposal under review, a selected project's delivery.
    (kind, ref) is unique; `ref` is the item's id within its kind."""

    kind = Varchar(length=20)
    ref = Integer()
    # region | district | department | mahalla: which body answers, named by the most
    # specific of the place columns below.
    body = Varchar(length=20)
    region = ForeignKey(references=Region, on_delete=OnDelete.restrict, null=False)
    district = ForeignKey(references=District, on_delete=OnDelete.restrict, null=True,
                          index=True)
    mahalla = ForeignKey(references=Mahalla, on_delete=OnDelete.restrict, null=True)
    department = ForeignKey(references=Department, on_delete=OnDelete.restrict, null=True,
                            index=True)
    registered_at = Timestamptz(index=True)
    due_at = Timestamptz(index=True)
    original_due_at = Timestamptz()
    extended_at = Timestamptz(null=True, default=None)
    extension_reason = Text(default="")
    first_response_at = Timestamptz(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    # Set when the obligation ends for any reason; `outcome` says which.
    closed_at = Timestamptz(null=True, default=None, index=True)
    # "" while open; answered | lapsed (the chance to answer passed unanswered) | withdrawn
    outcome = Varchar(length=20, default="")


class AccountabilityReport(Table, tablename="accountability_report"):
    """A district's periodic report: figures and lists frozen when drafted (refreshable until
    published), the official's narrative, and once published the SHA-256 recorded in the
    ledger. A correction is a new version of the same period; versions are never edited."""

    district = ForeignKey(references=District, on_delete=OnDelete.restrict, null=False,
                          index=True)
    period_from = Date()
    # Inclusive: a quarter from 1 July is until 30 September.
    period_until = Date()
    version = Integer(default=1)
    # draft | published | superseded
    status = Varchar(length=20, default="draft")
    title = Varchar(length=200)
    narrative = Text(default="")
    correction_note = Text(default="")
    snapshot = Text()
    snapshot_at = Timestamptz()
    sha256 = Varchar(length=64, default="")
    created_by = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    created_at = Timestamptz()
    published_by = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    published_at = Timestamptz(null=True, default=None)


class Assessment(Table, tablename="accountability_assessment"):
    """An NGO monitor's public assessment of a published accountability report."""

    report = ForeignKey(references=AccountabilityReport, on_delete=OnDelete.cascade,
                        null=False, index=True)
    monitor = ForeignKey(references=StaffAccount, on_delete=OnDelete.restrict, null=False)
    organisation = Varchar(length=200)
    # agree | partly | disagree: does the report match what the monitor found?
    verdict = Varchar(length=20)
    text = Text()
    published_at = Timestamptz()


class Watch(Table, tablename="accountability_watch"):
    """A monitor's watchlist entry: a district, or one item (report, petition, proposal).
    (staff, kind, ref) is unique."""

    staff = ForeignKey(references=StaffAccount, on_delete=OnDelete.cascade, null=False,
                       index=True)
    kind = Varchar(length=20)
    ref = Integer()
    created_at = Timestamptz()
