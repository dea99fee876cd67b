from piccolo.columns import (
    Boolean,
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


class Category(Table, tablename="reports_category"):
    """A kind of problem, loaded from seeds/categories.csv; `code` is the Open311 service code."""

    code = Varchar(length=40, unique=True)
    group = Varchar(length=20)
    name_uz = Varchar(length=120)
    name_uz_cyrl = Varchar(length=120)
    name_ru = Varchar(length=120)
    name_en = Varchar(length=120)
    response_days = Integer(default=15)
    position = Integer(default=0)


class Department(Table, tablename="reports_department"):
    """A body of a district that answers reports: the roads department, the water company..."""

    district = ForeignKey(references=District, on_delete=OnDelete.restrict, null=False,
                          index=True)
    name_uz = Varchar(length=160)
    name_uz_cyrl = Varchar(length=160)
    name_ru = Varchar(length=160, default="")
    name_en = Varchar(length=160, default="")
    created_at = Timestamptz()


class Routing(Table, tablename="reports_routing"):
    """Which department of a district answers a category; (district, category) is unique.
    Without a row, reports go to the district hokimiyat itself."""

    district = ForeignKey(references=District, on_delete=OnDelete.restrict, null=False)
    category = ForeignKey(references=Category, on_delete=OnDelete.restrict, null=False)
    department = ForeignKey(references=Department, on_delete=OnDelete.restrict, null=False)


class Report(Table, tablename="reports_report"):
    category = ForeignKey(references=Category, on_delete=OnDelete.restrict, null=False,
                          index=True)
    district = ForeignKey(references=District, on_delete=OnDelete.restrict, null=False,
                          index=True)
    mahalla = ForeignKey(references=Mahalla, on_delete=OnDelete.restrict, null=True,
                         index=True)
    # Always set, so every report can be drawn and clustered; when the resident chose only a
    # mahalla, this is its centre and `point_exact` is false.
    lat = Float()
    lon = Float()
    point_exact = Boolean(default=True)
    location_text = Varchar(length=300, default="")
    description = Text()
    author = ForeignKey(references=Resident, on_delete=OnDelete.restrict, null=False,
                        index=True)
    hide_name = Boolean(default=False)
    # web, api, open311:<client id>, or assisted (made at the mahalla desk by a staff member)
    source = Varchar(length=40, default="web")
    assisted_by = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    # How the resident agreed to an assisted report: "sms", or "paper:<form number>".
    consent = Varchar(length=60, default="")
    status = Varchar(length=20, default="new", index=True)
    department = ForeignKey(references=Department, on_delete=OnDelete.restrict, null=True,
                            index=True)
    referred_to = Varchar(length=200, default="")
    duplicate_of = ForeignKey(references="self", on_delete=OnDelete.restrict, null=True)
    supporters = Integer(default=0)
    # Raised each time the report is marked fixed, so each fix is confirmed or disputed anew.
    fix_round = Integer(default=0)
    registered_at = Timestamptz(index=True)
    due_at = Timestamptz(index=True)
    extension_reason = Text(default="")
    extended_at = Timestamptz(null=True, default=None)
    first_response_at = Timestamptz(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    fixed_at = Timestamptz(null=True, default=None)
    fix_check_sent_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz()
    # Open311 clients may poll a token before they learn the id.
    token = Varchar(length=40, unique=True)


class ReportUpdate(Table, tablename="reports_update"):
    """One step in a report's public history: a status change, a note, a re-routing, an
    extension, a resident's confirmation or dispute of a fix."""

    report = ForeignKey(references=Report, on_delete=OnDelete.cascade, null=False, index=True)
    kind = Varchar(length=20)
    status_from = Varchar(length=20, default="")
    status_to = Varchar(length=20, default="")
    note = Text(default="")
    staff = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    resident = ForeignKey(references=Resident, on_delete=OnDelete.set_null, null=True)
    at = Timestamptz()


class Photo(Table, tablename="reports_photo"):
    """A processed photo on disk, named by the digest of its content."""

    report = ForeignKey(references=Report, on_delete=OnDelete.cascade, null=False, index=True)
    update = ForeignKey(references=ReportUpdate, on_delete=OnDelete.cascade, null=True)
    name = Varchar(length=80)
    width = Integer()
    height = Integer()
    position = Integer(default=0)
    # Hidden by a moderator (a face, a number plate): kept on disk for staff, never shown.
    hidden_at = Timestamptz(null=True, default=None)


class Support(Table, tablename="reports_support"):
    """A resident's "me too"; (report, resident) is unique, so nobody counts twice."""

    report = ForeignKey(references=Report, on_delete=OnDelete.cascade, null=False)
    resident = ForeignKey(references=Resident, on_delete=OnDelete.cascade, null=False,
                          index=True)
    created_at = Timestamptz()


class FixFeedback(Table, tablename="reports_fix_feedback"):
    """A resident's answer to "is it really fixed?"; one per person per fix round."""

    report = ForeignKey(references=Report, on_delete=OnDelete.cascade, null=False)
    resident = ForeignKey(references=Resident, on_delete=OnDelete.cascade, null=False)
    fix_round = Integer()
    fixed = Boolean()
    at = Timestamptz()


class Open311Client(Table, tablename="reports_open311_client"):
    """A registered client application allowed to post requests with its api_key."""

    name = Varchar(length=120)
    contact = Varchar(length=200, default="")
    key_digest = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)

