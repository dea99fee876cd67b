"""Periodic accountability reports: a district hokimiyat's figures and lists for a period,
frozen when drafted (refreshable until published), with the officials' narrative.

Publishing stores the SHA-256 of the report's canonical content and records it in the public
ledger; a published version is never edited. A correction is a new version of the same period
which, once published, supersedes the one before (still readable, with the difference shown).
NGO monitors may attach one public assessment each to a published version.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from babel.dates import get_month_names
from piccolo.engine.postgres import PostgresEngine

from ovoz import ledger
from ovoz.accountability import clock, scorecards
from ovoz.accountability import services as obligations
from ovoz.accountability.scorecards import ANSWER_KINDS, Period
from ovoz.accountability.tables import AccountabilityReport, Assessment, Obligation
from ovoz.accounts.permissions import Action, Actor, Place, allowed, require
from ovoz.db import current_engine, transaction
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.i18n.translit import to_cyrillic
from ovoz.ledger.services import canonical_json
from ovoz.ledger.tables import LedgerEntry
from ovoz.pagination import Page, paginate
from ovoz.planning.tables import Proposal
from ovoz.reports import services as reports
from ovoz.web.opendata import utc_text

DRAFT, PUBLISHED, SUPERSEDED = "draft", "published", "superseded"
STATUS_LABELS: Final = {
    DRAFT: locale.lazy("Draft"),
    PUBLISHED: locale.lazy("Published"),
    SUPERSEDED: locale.lazy("Superseded by a correction"),
}
VERDICTS: Final = {
    "agree": locale.lazy("Agrees with the report"),
    "partly": locale.lazy("Partly agrees with the report"),
    "disagree": locale.lazy("Disagrees with the report"),
}
PUBLISHED_KIND = "accountability.report_published"
ASSESSED_KIND = "accountability.report_assessed"
# Each list in a snapshot keeps at most this many items; its true length is kept beside it.
LIST_CAP = 500
LISTS: Final = ("responses", "overdue", "delivered")
SNAPSHOT_FORMAT = 1
TITLE_MIN, TITLE_MAX = 5, 200
NARRATIVE_MIN, NARRATIVE_MAX = 20, 20_000
NOTE_MIN, NOTE_MAX = 10, 2_000
ORGANISATION_MIN, ORGANISATION_MAX = 2, 200
ASSESSMENT_MIN, ASSESSMENT_MAX = 20, 5_000
# A report covers at most a year: a longer one would hide what changed within it.
LONGEST_PERIOD_DAYS = 366

# The figures a report shows, in order, with their words; CSV columns use the keys.
FIGURE_LABELS: Final = {
    "received": locale.lazy("Items received"),
    "resolved": locale.lazy("Answered"),
    "open": locale.lazy("Still open"),
    "overdue": locale.lazy("Open past the due date"),
    "answered_late": locale.lazy("Answered late"),
    "on_time": locale.lazy("Answered on time"),
    "rated": locale.lazy("Due or answered (counted for the on-time rate)"),
    "on_time_rate": locale.lazy("On-time rate"),
    "first_response_median_days": locale.lazy("Days to first response, median"),
    "first_response_p90_days": locale.lazy("Days to first response, 90th percentile"),
    "resolution_median_days": locale.lazy("Days to answer, median"),
    "resolution_p90_days": locale.lazy("Days to answer, 90th percentile"),
    "petitions_rated": locale.lazy("Petitions due or answered"),
    "petitions_on_time": locale.lazy("Petitions answered on time"),
    "petitions_on_time_rate": locale.lazy("Petitions on-time rate"),
    "reports_fixed": locale.lazy("Problem reports marked fixed"),
    "reports_disputed": locale.lazy("Fixes disputed by residents"),
    "disputed_share": locale.lazy("Share of fixes disputed"),
    "projects_due": locale.lazy("Projects due"),
    "projects_delivered": locale.lazy("Projects delivered"),
    "projects_on_time": locale.lazy("Projects delivered on time"),
    "projects_on_budget": locale.lazy("Projects delivered within budget"),
    "projects_on_time_rate": locale.lazy("Projects on-time rate"),
    "projects_on_budget_rate": locale.lazy("Projects within-budget rate"),
}
# The few figures a department's row shows on a phone; the CSV has them all.
DEPARTMENT_FIGURES: Final = ("received", "resolved", "overdue", "on_time_rate",
                             "resolution_median_days")


class PeriodicError(ValueError):
    def __init__(self, code: str, field: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.field = field


def now() -> datetime:
    return obligations.now()


def subject(report_id: int) -> str:
    return f"accountability_report:{report_id}"


def _clean(text: str | None) -> str:
    """Line ends as one character and no NUL (PostgreSQL refuses it), so a hash computed
    from what a browser sent matches what is stored."""
    return (text or "").replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").strip()


# -- periods and titles -----------------------------------------------------------------------

def last_quarter(at: datetime | None = None) -> Period:
    """The most recent quarter that has ended: what a report is usually written for."""
    current = scorecards.quarter_of(clock.local_day(at or now()))
    return scorecards.quarter_of(current.start - timedelta(days=1))


def check_period(period: Period, at: datetime | None = None) -> None:
    if not (period.start <= period.end < clock.local_day(at or now())
            and (period.end - period.start).days < LONGEST_PERIOD_DAYS):
        raise PeriodicError("bad_period", "period_from")


def _month(day: date, language: str) -> str:
    if language in ("uz", "uz-Cyrl"):
        name = get_month_names("wide", "format", locale=locale.BABEL_LOCALES["uz"])[day.month]
        return to_cyrillic(name) if language == "uz-Cyrl" else name
    return get_month_names("wide", "stand-alone",
                           locale=locale.BABEL_LOCALES[language])[day.month]


def period_label(start: date, end: date, language: str | None = None) -> str:
    """"July–September 2026" for whole months, else the two dates."""
    language = language or locale.current_language.get()
    if start.day != 1 or (end + timedelta(days=1)).day != 1:
        return f"{locale.format_date(start, language)} – {locale.format_date(end, language)}"
    first, last = _month(start, language), _month(end, language)
    if start.year != end.year:
        return f"{first} {start.year} – {last} {end.year}"
    return f"{first} {start.year}" if (start.year, start.month) == (end.year, end.month) \
        else f"{first}–{last} {end.year}"


def default_title(district: Mapping[str, Any], period: Period,
                  language: str | None = None) -> str:
    return (f"{locale.localised_name(district, language)}, "
            f"{period_label(period.start, period.end, language)}")


# -- the snapshot ------------------------------------------------------------------------------

def _names(row: Mapping[str, Any]) -> dict[str, str]:
    return {column: row.get(column) or "" for column in locale.NAME_COLUMNS.values()}


def _described(item: Mapping[str, Any] | None) -> dict[str, Any]:
    """An item's public title (a report's category in every language) and its page."""
    if item is None:
        return {"title": "", "path": ""}
    title = ({"title_names": item["title_names"]} if "title_names" in item
             else {"title": item.get("title", "")})
    return title | {"path": item["public_path"]}


async def _capped(where: Any, order: Any) -> tuple[list[dict[str, Any]], int]:
    rows = await Obligation.select().where(where).order_by(order).order_by(
        Obligation.id).limit(LIST_CAP)
    return rows, await Obligation.count().where(where)


async def _responses(district_id: int, period: Period, as_of: datetime) -> dict[str, Any]:
    """Answers given in the period, to anything the district's bodies must answer."""
    where = ((Obligation.district == district_id) & Obligation.kind.is_in(list(ANSWER_KINDS))
             & (Obligation.resolved_at >= period.since)
             & (Obligation.resolved_at < min(period.until, as_of)))
    rows, count = await _capped(where, Obligation.resolved_at)
    described = await obligations.describe(rows)
    return {"count": count, "items": [
        {"kind": row["kind"], "ref": row["ref"],
         **_described(described.get((row["kind"], row["ref"]))),
         "registered_at": utc_text(row["registered_at"]), "due_at": utc_text(row["due_at"]),
         "answered_at": utc_text(row["resolved_at"]),
         "on_time": row["resolved_at"] <= row["due_at"]} for row in rows]}


async def _overdue(district_id: int, period: Period, as_of: datetime) -> dict[str, Any]:
    """Everything registered by the period's end and still unanswered past its due date when
    the snapshot is taken, older backlog included."""
    where = ((Obligation.district == district_id)
             & (Obligation.registered_at < min(period.until, as_of))
             & (Obligation.closed_at.is_null() | (Obligation.closed_at > as_of))
             & (Obligation.due_at <= as_of))
    rows, count = await _capped(where, Obligation.due_at)
    described = await obligations.describe(rows)
    return {"count": count, "items": [
        {"kind": row["kind"], "ref": row["ref"],
         **_described(described.get((row["kind"], row["ref"]))),
         "due_at": utc_text(row["due_at"]),
         "days_late": (as_of - row["due_at"]).days} for row in rows]}


async def _delivered(district_id: int, period: Period, as_of: datetime) -> dict[str, Any]:
    """Selected projects completed in the period, against their due date and reviewed cost."""
    where = ((Obligation.district == district_id) & (Obligation.kind == obligations.DELIVERY)
             & (Obligation.resolved_at >= period.since)
             & (Obligation.resolved_at < min(period.until, as_of)))
    rows, count = await _capped(where, Obligation.resolved_at)
    projects = {row["id"]: row for row in await Proposal.select(
        Proposal.id, Proposal.title, Proposal.reviewed_cost, Proposal.spent).where(
        Proposal.id.is_in([row["ref"] for row in rows] or [0]))}
    items = []
    for row in rows:
        project = projects.get(row["ref"], {})
        cost = project.get("reviewed_cost")
        items.append({
            "ref": row["ref"], "title": project.get("title", ""),
            "path": obligations.PUBLIC_PATHS[obligations.DELIVERY].format(row["ref"]),
            "delivered_at": utc_text(row["resolved_at"]), "due_at": utc_text(row["due_at"]),
            "reviewed_cost": cost, "spent": project.get("spent"),
            "on_time": row["resolved_at"] <= row["due_at"],
            "on_budget": cost is not None and project.get("spent", 0) <= cost})
    return {"count": count, "items": items}


async def snapshot(district_id: int, period: Period, as_of: datetime | None = None
                   ) -> dict[str, Any]:
    """The district's figures and lists for the period as they stand at `as_of`, as plain
    JSON values and without personal data: titles of public items, never who sent them."""
    as_of = as_of or now()
    district = await geo.district(district_id)
    if district is None:
        raise PeriodicError("not_found")
    card = await scorecards.scorecard(district_id, period, as_of)
    departments = {row["id"]: row for row in await reports.departments(district_id)}
    bodies = sorted(card.departments.items(), key=lambda entry: (
        entry[0] is not None,
        locale.localised_name(departments[entry[0]], "uz") if entry[0] in departments else ""))
    return {
        "format": SNAPSHOT_FORMAT,
        "district": {"id": district_id, "region": district["region"], **_names(district)},
        "period": {"from": period.start.isoformat(), "until": period.end.isoformat()},
        "as_of": utc_text(as_of),
        "figures": card.district.as_dict(),
        "departments": [
            {"id": department_id,
             "names": _names(departments[department_id]) if department_id in departments
             else None,
             "figures": figures.as_dict()} for department_id, figures in bodies],
        "responses": await _responses(district_id, period, as_of),
        "overdue": await _overdue(district_id, period, as_of),
        "delivered": await _delivered(district_id, period, as_of),
    }


# -- the canonical content and its hash --------------------------------------------------------

def content(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a published version's SHA-256 is computed over."""
    return {
        "district": row["district"],
        "period": {"from": _day(row["period_from"]).isoformat(),
                   "until": _day(row["period_until"]).isoformat()},
        "version": row["version"],
        "title": row["title"],
        "narrative": row["narrative"],
        "snapshot": json.loads(row["snapshot"]),
        "correction_note": row["correction_note"],
    }


def content_bytes(row: Mapping[str, Any]) -> bytes:
    """The canonical JSON (keys sorted, no spaces, UTF-8) that anyone can hash to check."""
    return canonical_json(content(row)).encode("utf-8")


def content_hash(row: Mapping[str, Any]) -> str:
    return hashlib.sha256(content_bytes(row)).hexdigest()


def _day(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def period_of(row: Mapping[str, Any]) -> Period:
    return Period(_day(row["period_from"]), _day(row["period_until"]))


# -- who may write a report --------------------------------------------------------------------

def may_report(staff: Actor, place: Place) -> bool:
    """The district hokimiyat's own officials: not a department's (they answer for part of
    the district), not the region's, and not an administrator (who runs the site)."""
    return allowed(staff, Action.ANSWER, place) and allowed(staff, Action.MANAGE_CYCLES, place)


def require_reporter(staff: Actor, place: Place) -> None:
    require(staff, Action.ANSWER, place)
    require(staff, Action.MANAGE_CYCLES, place)


async def district_place(district_id: int) -> Place:
    district = await geo.district(district_id)
    if district is None:
        raise PeriodicError("not_found")
    return Place(district["region"], district_id)


async def reporting_districts(staff: Actor) -> list[dict[str, Any]]:
    """The districts this person may write reports for."""
    found = []
    for district_id in dict.fromkeys(g.district_id for g in staff.grants if g.district_id):
        district = await geo.district(district_id)
        if district and may_report(staff, Place(district["region"], district_id)):
            found.append(district)
    return found


# -- changing reports --------------------------------------------------------------------------

def staff_id(staff: Actor) -> int | None:
    return getattr(staff, "id", None)


async def _locked(report_id: int) -> dict[str, Any]:
    query = AccountabilityReport.select().where(AccountabilityReport.id == report_id)
    if isinstance(current_engine(), PostgresEngine):
        query = query.lock_rows("UPDATE")
    row = await query.first()
    if row is None:
        raise PeriodicError("not_found")
    return row


async def _draft_for(staff: Actor, report_id: int) -> dict[str, Any]:
    row = await _locked(report_id)
    require_reporter(staff, await district_place(row["district"]))
    if row["status"] != DRAFT:
        raise PeriodicError("not_draft")
    return row


def _checked_title(title: str) -> str:
    title = " ".join(_clean(title).split())
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        raise PeriodicError("bad_title", "title")
    return title


def _checked_note(note: str) -> str:
    note = _clean(note)
    if not NOTE_MIN <= len(note) <= NOTE_MAX:
        raise PeriodicError("bad_correction_note", "correction_note")
    return note


async def _same_period(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    return await AccountabilityReport.select(
        AccountabilityReport.id, AccountabilityReport.version, AccountabilityReport.status,
        AccountabilityReport.published_at, AccountabilityReport.correction_note,
    ).where((AccountabilityReport.district == row["district"])
            & (AccountabilityReport.period_from == row["period_from"])
            & (AccountabilityReport.period_until == row["period_until"])
            ).order_by(AccountabilityReport.version)


async def draft_report(staff: Actor, district_id: int, period: Period,
                       title: str | None = None) -> int:
    """Start a district's report for a period that has ended, with its figures frozen now."""
    check_period(period)
    place = await district_place(district_id)
    require_reporter(staff, place)
    district = await geo.district(district_id)
    assert district is not None
    title = _checked_title(title or default_title(district, period))
    at = now()
    frozen = canonical_json(await snapshot(district_id, period, at))
    async with transaction():
        existing = await _same_period({"district": district_id, "period_from": period.start,
                                       "period_until": period.end})
        if any(row["status"] == DRAFT for row in existing):
            raise PeriodicError("draft_exists")
        if existing:
            raise PeriodicError("already_published")
        created = await AccountabilityReport.insert(AccountabilityReport(
            district=district_id, period_from=period.start, period_until=period.end,
            version=1, status=DRAFT, title=title, snapshot=frozen, snapshot_at=at,
            created_by=staff_id(staff), created_at=at,
        )).on_conflict(action="DO NOTHING").returning(AccountabilityReport.id)
        if not created:
            # Someone else started the same period a moment ago.
            raise PeriodicError("draft_exists")
    return int(created[0]["id"])


async def refresh_draft(staff: Actor, report_id: int) -> None:
    """Take the figures and lists again, as they stand now."""
    async with transaction():
        row = await _draft_for(staff, report_id)
        at = now()
        frozen = canonical_json(await snapshot(row["district"], period_of(row), at))
        await AccountabilityReport.update({
            AccountabilityReport.snapshot: frozen, AccountabilityReport.snapshot_at: at,
        }).where(AccountabilityReport.id == report_id)


async def update_narrative(staff: Actor, report_id: int, narrative: str,
                           title: str | None = None, correction_note: str | None = None
                           ) -> None:
    """Save a draft's words: the narrative, and the title and a correction's note."""
    narrative = _clean(narrative)
    if len(narrative) > NARRATIVE_MAX:
        raise PeriodicError("bad_narrative", "narrative")
    async with transaction():
        row = await _draft_for(staff, report_id)
        changes: dict[Any, Any] = {AccountabilityReport.narrative: narrative}
        if title is not None:
            changes[AccountabilityReport.title] = _checked_title(title)
        if correction_note is not None and row["version"] > 1:
            note = _clean(correction_note)
            if len(note) > NOTE_MAX:
                raise PeriodicError("bad_correction_note", "correction_note")
            changes[AccountabilityReport.correction_note] = note
        await AccountabilityReport.update(changes).where(AccountabilityReport.id == report_id)


async def publish_report(staff: Actor, report_id: int) -> str:
    """Freeze the draft for good: its hash is stored and written in the public ledger, and the
    version it corrects (if any) is superseded. Returns the SHA-256."""
    async with transaction():
        row = await _draft_for(staff, report_id)
        if len(row["narrative"]) < NARRATIVE_MIN:
            raise PeriodicError("bad_narrative", "narrative")
        if row["version"] > 1:
            _checked_note(row["correction_note"])
        digest = content_hash(row)
        previous = [other for other in await _same_period(row) if other["status"] == PUBLISHED]
        await AccountabilityReport.update({
            AccountabilityReport.status: SUPERSEDED,
        }).where(AccountabilityReport.id.is_in([other["id"] for other in previous] or [0]))
        await AccountabilityReport.update({
            AccountabilityReport.status: PUBLISHED, AccountabilityReport.sha256: digest,
            AccountabilityReport.published_by: staff_id(staff),
            AccountabilityReport.published_at: now(),
        }).where(AccountabilityReport.id == report_id)
        await ledger.record(PUBLISHED_KIND, subject(report_id), {
            "sha256": digest, "version": row["version"], "district": row["district"],
            "period_from": _day(row["period_from"]).isoformat(),
            "period_until": _day(row["period_until"]).isoformat(),
            "supersedes": previous[-1]["id"] if previous else None})
    return digest


async def correct_report(staff: Actor, report_id: int, narrative: str | None,
                         correction_note: str) -> int:
    """A new draft version of a published report's period, with what it corrects. It keeps
    the published figures unless it is refreshed before publishing."""
    note = _checked_note(correction_note)
    async with transaction():
        row = await _locked(report_id)
        require_reporter(staff, await district_place(row["district"]))
        if row["status"] != PUBLISHED:
            raise PeriodicError("not_published")
        versions = await _same_period(row)
        if any(other["status"] == DRAFT for other in versions):
            raise PeriodicError("draft_exists")
        text = row["narrative"] if narrative is None else _clean(narrative)
        if len(text) > NARRATIVE_MAX:
            raise PeriodicError("bad_narrative", "narrative")
        created = await AccountabilityReport.insert(AccountabilityReport(
            district=row["district"], period_from=row["period_from"],
            period_until=row["period_until"], version=versions[-1]["version"] + 1,
            status=DRAFT, title=row["title"], narrative=text, correction_note=note,
            snapshot=row["snapshot"], snapshot_at=row["snapshot_at"],
            created_by=staff_id(staff), created_at=now(),
        )).on_conflict(action="DO NOTHING").returning(AccountabilityReport.id)
        if not created:
            raise PeriodicError("draft_exists")
    return int(created[0]["id"])


async def add_assessment(staff: Actor, report_id: int, organisation: str, verdict: str,
                         text: str) -> int:
    """An NGO monitor's public assessment of a published version: one per monitor each."""
    organisation = " ".join(_clean(organisation).split())
    text = _clean(text)
    if not ORGANISATION_MIN <= len(organisation) <= ORGANISATION_MAX:
        raise PeriodicError("bad_organisation", "organisation")
    if verdict not in VERDICTS:
        raise PeriodicError("bad_verdict", "verdict")
    if not ASSESSMENT_MIN <= len(text) <= ASSESSMENT_MAX:
        raise PeriodicError("bad_assessment", "text")
    monitor = staff_id(staff)
    async with transaction():
        row = await _locked(report_id)
        require(staff, Action.MONITOR, await district_place(row["district"]))
        if row["status"] != PUBLISHED:
            raise PeriodicError("not_published")
        # The report's row is locked, so two submissions of one monitor cannot both pass.
        if await Assessment.exists().where((Assessment.report == report_id)
                                           & (Assessment.monitor == monitor)):
            raise PeriodicError("already_assessed")
        created = await Assessment.insert(Assessment(
            report=report_id, monitor=monitor, organisation=organisation, verdict=verdict,
            text=text, published_at=now())).returning(Assessment.id)
        assessment_id = int(created[0]["id"])
        await ledger.record(ASSESSED_KIND, subject(report_id), {
            "assessment": assessment_id, "verdict": verdict,
            "text_sha256": hashlib.sha256(text.encode()).hexdigest()})
    return assessment_id


# -- reading -----------------------------------------------------------------------------------

async def report(report_id: int) -> dict[str, Any] | None:
    return await AccountabilityReport.select().where(
        AccountabilityReport.id == report_id).first()


async def public_report(report_id: int) -> dict[str, Any] | None:
    """A published or superseded version; drafts are nobody's business but the hokimiyat's."""
    row = await report(report_id)
    return row if row is not None and row["status"] != DRAFT else None


async def versions(row: Mapping[str, Any], include_drafts: bool = False
                   ) -> list[dict[str, Any]]:
    return [other for other in await _same_period(row)
            if include_drafts or other["status"] != DRAFT]


async def previous_version(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The published version this one corrects."""
    earlier = [other for other in await versions(row) if other["version"] < row["version"]]
    return await report(earlier[-1]["id"]) if earlier else None


async def current_version(row: Mapping[str, Any]) -> dict[str, Any] | None:
    found = [other for other in await versions(row) if other["status"] == PUBLISHED]
    return found[-1] if found else None


async def published(district_id: int | None, number: int, per_page: int) -> Page:
    """The current version of every published report, newest period first."""
    where = AccountabilityReport.status == PUBLISHED
    if district_id:
        where &= AccountabilityReport.district == district_id
    columns = [column for column in AccountabilityReport.all_columns()
               if column._meta.name != "snapshot"]
    return await paginate(
        AccountabilityReport.select(*columns).where(where)
        .order_by(AccountabilityReport.period_until, ascending=False)
        .order_by(AccountabilityReport.period_from).order_by(AccountabilityReport.district),
        AccountabilityReport.count().where(where), number, per_page)


async def reports_of(district_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Every version of the districts' reports, drafts included, for their officials."""
    if not district_ids:
        return []
    columns = [column for column in AccountabilityReport.all_columns()
               if column._meta.name != "snapshot"]
    return await AccountabilityReport.select(*columns).where(
        AccountabilityReport.district.is_in(list(district_ids))
    ).order_by(AccountabilityReport.period_until, ascending=False).order_by(
        AccountabilityReport.district).order_by(AccountabilityReport.version, ascending=False)


async def assessments(report_id: int) -> list[dict[str, Any]]:
    """What the public sees of each assessment: the organisation, never the staff account."""
    return await Assessment.select(
        Assessment.id, Assessment.monitor, Assessment.organisation, Assessment.verdict,
        Assessment.text, Assessment.published_at,
    ).where(Assessment.report == report_id).order_by(Assessment.published_at)


async def ledger_entry(report_id: int) -> dict[str, Any] | None:
    """The ledger entry that recorded the version's hash."""
    return await LedgerEntry.select(LedgerEntry.seq, LedgerEntry.hash, LedgerEntry.payload
                                    ).where((LedgerEntry.kind == PUBLISHED_KIND)
                                            & (LedgerEntry.subject == subject(report_id))
                                            ).order_by(LedgerEntry.seq).first()


# -- the difference between two versions -------------------------------------------------------

@dataclass(slots=True)
class Difference:
    title: tuple[str, str] | None = None
    # (body: None for the whole district, else the department's entry; figure; old; new)
    figures: list[tuple[dict[str, Any] | None, str, Any, Any]] = field(default_factory=list)
    # (list name, old count, new count)
    lists: list[tuple[str, int, int]] = field(default_factory=list)
    # ("same" | "added" | "removed" | "gap", line)
    narrative: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.title or self.figures or self.lists or self.narrative)


def _figure_changes(body: dict[str, Any] | None, old: Mapping[str, Any],
                    new: Mapping[str, Any]) -> list[tuple[dict[str, Any] | None, str, Any, Any]]:
    return [(body, key, old.get(key), new.get(key)) for key in FIGURE_LABELS
            if old.get(key) != new.get(key)]


def diff(older: Mapping[str, Any], newer: Mapping[str, Any]) -> Difference:
    """What a correction changed: the title, every figure, the lists' lengths, and the
    narrative line by line."""
    before, after = json.loads(older["snapshot"]), json.loads(newer["snapshot"])
    found = Difference()
    if older["title"] != newer["title"]:
        found.title = (older["title"], newer["title"])
    found.figures = _figure_changes(None, before["figures"], after["figures"])
    old_bodies = {body["id"]: body for body in before["departments"]}
    new_bodies = {body["id"]: body for body in after["departments"]}
    for body_id in dict.fromkeys([*old_bodies, *new_bodies]):
        body = new_bodies.get(body_id) or old_bodies[body_id]
        found.figures += _figure_changes(
            {"id": body_id, "names": body["names"]},
            old_bodies.get(body_id, {}).get("figures", {}),
            new_bodies.get(body_id, {}).get("figures", {}))
    for name in LISTS:
        if before[name]["count"] != after[name]["count"]:
            found.lists.append((name, before[name]["count"], after[name]["count"]))
    lines = difflib.unified_diff(older["narrative"].splitlines(),
                                 newer["narrative"].splitlines(), n=1, lineterm="")
    for line in lines:
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            # Each hunk after the first follows unchanged lines left out.
            if found.narrative:
                found.narrative.append(("gap", ""))
        else:
            found.narrative.append(({"+": "added", "-": "removed"}.get(line[:1], "same"),
                                    line[1:]))
    return found


# -- presentation shared by the page, the PDF and the CSV --------------------------------------

RATE_FIGURES: Final = frozenset(key for key in FIGURE_LABELS if key.endswith(("_rate",
                                                                               "_share")))


def figure_text(key: str, value: Any, language: str | None = None) -> str:
    if value is None:
        return "—"
    if key in RATE_FIGURES:
        return f"{locale.format_number(round(value * 100, 1), language)} %"
    return locale.format_number(value, language)


def body_name(body: Mapping[str, Any] | None, language: str | None = None) -> str:
    """A department's name, the hokimiyat for items it answers itself, or the district."""
    if body is None:
        return locale.gettext("The whole district")
    if body.get("names"):
        return locale.localised_name(body["names"], language)
    if body.get("id") is None:
        return locale.gettext("The hokimiyat itself")
    return locale.gettext("Department %(id)s", id=body["id"])


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def readable(frozen: Mapping[str, Any], language: str | None = None) -> dict[str, Any]:
    """The snapshot for reading: times as datetimes, titles in the reader's language, and
    figures as (label, text) rows."""
    language = language or locale.current_language.get()
    shown: dict[str, Any] = {
        "as_of": _moment(frozen["as_of"]),
        "figures": [(locale.gettext(label), figure_text(key, frozen["figures"].get(key),
                                                        language))
                    for key, label in FIGURE_LABELS.items()],
        "department_columns": [locale.gettext(FIGURE_LABELS[key])
                               for key in DEPARTMENT_FIGURES],
        "departments": [
            {"name": body_name(body, language),
             "cells": [figure_text(key, body["figures"].get(key), language)
                       for key in DEPARTMENT_FIGURES]} for body in frozen["departments"]],
    }
    for name in LISTS:
        items = []
        for item in frozen[name]["items"]:
            entry = dict(item)
            entry["title"] = obligations.title_of(item, language) or "—"
            entry["kind_label"] = locale.gettext(
                obligations.KIND_LABELS[item.get("kind", obligations.DELIVERY)])
            for key, value in item.items():
                if key.endswith("_at"):
                    entry[key] = _moment(value)
            items.append(entry)
        shown[name] = {"count": frozen[name]["count"], "items": items,
                       "cut": frozen[name]["count"] > len(items)}
    return shown


def figure_changes_shown(difference: Difference, language: str | None = None
                         ) -> list[tuple[str, str, str, str]]:
    """Each changed figure as (body, figure, before, after) words."""
    return [(body_name(body, language), locale.gettext(FIGURE_LABELS[key]),
             figure_text(key, old, language), figure_text(key, new, language))
            for body, key, old, new in difference.figures]


LIST_LABELS: Final = {
    "responses": locale.lazy("Answers given in the period"),
    "overdue": locale.lazy("Overdue when the figures were taken"),
    "delivered": locale.lazy("Projects delivered in the period"),
}


def csv_rows(row: Mapping[str, Any]) -> list[list[Any]]:
    """One row per body (the district, then the hokimiyat itself and each department), one
    column per figure."""
    frozen = json.loads(row["snapshot"])
    header = ["report_id", "version", "district_id", "period_from", "period_until", "body",
              "department_id", "name", *FIGURE_LABELS]
    lead = [row["id"], row["version"], row["district"], frozen["period"]["from"],
            frozen["period"]["until"]]
    rows = [header, [*lead, "district", None, frozen["district"]["name_uz"],
                     *(frozen["figures"].get(key) for key in FIGURE_LABELS)]]
    for body in frozen["departments"]:
        name = (body["names"] or {}).get("name_uz", "")
        rows.append([*lead, "department" if body["id"] is not None else "hokimiyat",
                     body["id"], name, *(body["figures"].get(key) for key in FIGURE_LABELS)])
    return rows
