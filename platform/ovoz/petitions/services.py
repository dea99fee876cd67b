"""Petitions: the rules from draft to response, and signing built for a surge.

Signing never locks the petition's row: a signature is one insert (its uniqueness is the
database's) and one increment of a random shard of the count, so thousands of signers spread
over sixteen rows. The count is the sum of the shards: exact, and cheap to read.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import re
import secrets
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

from piccolo.engine.postgres import PostgresEngine
from piccolo.query.functions.aggregate import Count, Sum

from ovoz import ledger
from ovoz.accountability import clock
from ovoz.accountability import services as accountability
from ovoz.accounts.permissions import (
    Action,
    PermissionDenied,
    Place,
    StaffMember,
    require,
    scopes,
)
from ovoz.accounts.services import resident as resident_row
from ovoz.accounts.services import verification_levels
from ovoz.accounts.tables import RoleGrant
from ovoz.administration import services as administration
from ovoz.db import current_engine, transaction
from ovoz.files import write_once
from ovoz.geo import services as geo
from ovoz.geo.tables import Mahalla
from ovoz.i18n import locale
from ovoz.notify import services as notify
from ovoz.outliers import far_above
from ovoz.pagination import Page, paginate
from ovoz.petitions.tables import (
    Attachment,
    Invalidation,
    Petition,
    PetitionCount,
    Response,
    Signature,
    Sponsor,
)
from ovoz.reports.photos import PhotoError, process_photo
from ovoz.settings import PETITION_LEVELS, PetitionRules, get_settings
from ovoz.store.services import hit

DRAFT, SEEKING_SPONSORS, IN_MODERATION = "draft", "seeking_sponsors", "in_moderation"
OPEN, THRESHOLD_REACHED, RESPONDED, CLOSED = "open", "threshold_reached", "responded", "closed"
REJECTED, EXPIRED, WITHDRAWN, LAPSED = "rejected", "expired", "withdrawn", "lapsed"
STATUSES = (DRAFT, SEEKING_SPONSORS, IN_MODERATION, OPEN, THRESHOLD_REACHED, RESPONDED, CLOSED,
            REJECTED, EXPIRED, WITHDRAWN, LAPSED)
PUBLIC_STATUSES = (OPEN, THRESHOLD_REACHED, RESPONDED, CLOSED, EXPIRED)
SIGNABLE = (OPEN, THRESHOLD_REACHED)
STATUS_LABELS = {
    DRAFT: locale.lazy("Draft"),
    SEEKING_SPONSORS: locale.lazy("Looking for sponsors"),
    IN_MODERATION: locale.lazy("Being checked"),
    OPEN: locale.lazy("Collecting signatures"),
    THRESHOLD_REACHED: locale.lazy("Waiting for the answer"),
    RESPONDED: locale.lazy("Answered"),
    CLOSED: locale.lazy("Closed"),
    REJECTED: locale.lazy("Rejected"),
    EXPIRED: locale.lazy("Not enough signatures"),
    WITHDRAWN: locale.lazy("Withdrawn"),
    LAPSED: locale.lazy("Not enough sponsors"),
}
LEVEL_LABELS = {
    "mahalla": locale.lazy("Mahalla citizens' assembly"),
    "district_hokimiyat": locale.lazy("District hokimiyat"),
    "district_kengash": locale.lazy("District Kengash of people's deputies"),
    "regional_hokimiyat": locale.lazy("Regional hokimiyat"),
}
TOPICS = {
    "roads": locale.lazy("Roads and transport"),
    "water": locale.lazy("Water and sewage"),
    "energy": locale.lazy("Electricity and gas"),
    "education": locale.lazy("Schools and kindergartens"),
    "health": locale.lazy("Health"),
    "environment": locale.lazy("Environment and waste"),
    "social": locale.lazy("Social support"),
    "other": locale.lazy("Other"),
}
# The grounds on which the Law on Appeals lets an appeal be refused.
REJECTION_REASONS = {
    "violence": locale.lazy(
        "Calls for violence or for changing the constitutional order by force"),
    "insult": locale.lazy("Insults to honour and dignity"),
    "hatred": locale.lazy("Incites ethnic, racial or religious hatred"),
    "personal_data": locale.lazy("Contains other people's personal data"),
    "competence": locale.lazy("Outside the addressee's competence"),
    "duplicate": locale.lazy("Duplicates another petition"),
}
DECISIONS = {
    "accepted": locale.lazy("Accepted"),
    "partly_accepted": locale.lazy("Partly accepted"),
    "not_accepted": locale.lazy("Not accepted"),
}
# Documents an answer may carry: PDFs as they are, photos re-encoded without metadata.
MAX_ATTACHMENTS = 5
ATTACHMENT_NAME = re.compile(r"^[0-9a-f]{32}\.(pdf|jpg)$")
SHARDS = 16
TITLE_MIN, TITLE_MAX = 10, 150
TEXT_MIN, TEXT_MAX = 50, 6000
# Per account and per address, in a window of ten minutes: a person signs a handful, a
# household behind one address a few dozen; a script far more.
SIGNATURES_PER_ACCOUNT = 30
SIGNATURES_PER_ADDRESS = 120
ANOMALY_MINIMUM = 20

ErrorCode = Literal[
    "not_found", "not_verified", "no_home", "outside_area", "bad_title", "bad_text",
    "bad_topic", "bad_level", "bad_place", "not_author", "not_editable", "own_petition",
    "already_sponsored", "not_seeking", "not_in_moderation", "bad_reason", "note_required",
    "unknown_duplicate", "not_signable", "already_signed", "not_signed", "too_many",
    "cannot_withdraw", "not_answerable", "bad_decision", "bad_response", "bad_invalidation",
    "bad_attachment", "already_extended", "bad_extension",
]


class PetitionError(ValueError):
    """A broken rule; `code` is stable for forms and the API, `field` names the form field."""

    def __init__(self, code: ErrorCode, field: str = "", retry_after: int = 0) -> None:
        super().__init__(code)
        self.code: ErrorCode = code
        self.field = field
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class PetitionText:
    title: str
    text: str
    topic: str
    level: str
    # The addressee's area: a mahalla id for "mahalla", a district id for the district levels,
    # a region id for "regional_hokimiyat".
    place_id: int


def now() -> datetime:
    return datetime.now(UTC)


def subject(petition_id: int) -> str:
    return f"petition:{petition_id}"


def link(petition_id: int) -> str:
    return f"{get_settings().base_url}/petitions/{petition_id}"


def _clean(text: str) -> str:
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines()).strip()


def search_text(*parts: str) -> str:
    """Title and text folded twice, without case or apostrophes: to Uzbek Latin, and to the
    Cyrillic a Russian keyboard types, so a search in either finds it."""
    keys = [geo.search_keys(part) for part in parts]
    return " ".join(latin for latin, _ in keys) + " | " + " ".join(cyr for _, cyr in keys)


# -- places and eligibility -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Area:
    region_id: int
    district_id: int | None
    mahalla_id: int | None

    def holds(self, home: Area) -> bool:
        return (home.region_id == self.region_id
                and self.district_id in (None, home.district_id)
                and self.mahalla_id in (None, home.mahalla_id))

    @property
    def place(self) -> Place:
        return Place(self.region_id, self.district_id, self.mahalla_id)


async def area_of_mahalla(mahalla_id: int) -> Area | None:
    row = await Mahalla.select(Mahalla.id, Mahalla.district, Mahalla.district.region
                               ).where(Mahalla.id == mahalla_id).first()
    if row is None:
        return None
    return Area(row["district.region"], row["district"], row["id"])


async def addressee_area(level: str, place_id: int) -> Area:
    if level not in PETITION_LEVELS:
        raise PetitionError("bad_level", "level")
    if level == "mahalla":
        area = await area_of_mahalla(place_id)
    elif level == "regional_hokimiyat":
        area = Area(place_id, None, None) if await geo.region(place_id) else None
    else:
        district = await geo.district(place_id)
        area = Area(district["region"], place_id, None) if district else None
    if area is None:
        raise PetitionError("bad_place", "place_id")
    return area


def petition_area(row: dict[str, Any]) -> Area:
    return Area(row["region"], row["district"], row["mahalla"])


async def home_area(resident: dict[str, Any]) -> Area:
    if not resident.get("mahalla"):
        raise PetitionError("no_home")
    area = await area_of_mahalla(resident["mahalla"])
    if area is None:
        raise PetitionError("no_home")
    return area


def can_start(resident: dict[str, Any]) -> bool:
    """Confirmed by the mahalla or by OneID: enough to start or sponsor a petition."""
    levels = verification_levels(resident)
    return "residence" in levels or "oneid" in levels


async def _resident(resident_id: int) -> dict[str, Any]:
    row = await resident_row(resident_id)
    if row is None:
        raise PetitionError("not_found")
    return row


async def eligibility(petition: dict[str, Any], resident: dict[str, Any]) -> ErrorCode | None:
    """Why this resident may not sign, or None: a verified phone (or a residence the
    mahalla confirmed, for residents without one) and a home in the area."""
    if not {"phone", "residence"} & set(verification_levels(resident)):
        return "not_verified"
    if not resident.get("mahalla"):
        return "no_home"
    if not petition_area(petition).holds(await home_area(resident)):
        return "outside_area"
    return None


async def rules(level: str) -> PetitionRules:
    return await administration.petition_rules(level)


async def threshold_for(level: str, area: Area) -> int:
    """The level's number, or its percentage of the area's population where that is known."""
    chosen = await rules(level)
    if chosen.population_percent <= 0:
        return chosen.threshold
    mahallas = Mahalla.select(Mahalla.population)
    if area.mahalla_id is not None:
        mahallas = mahallas.where(Mahalla.id == area.mahalla_id)
    elif area.district_id is not None:
        mahallas = mahallas.where(Mahalla.district == area.district_id)
    else:
        mahallas = mahallas.where(Mahalla.district.region == area.region_id)
    populations = [row["population"] for row in await mahallas]
    if not populations or any(p is None for p in populations):
        return chosen.threshold
    return max(1, math.ceil(sum(populations) * chosen.population_percent / 100))


# -- drafts, sponsors, moderation -------------------------------------------------------------

def _checked(text: PetitionText) -> PetitionText:
    title, body = _clean(text.title), _clean(text.text)
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        raise PetitionError("bad_title", "title")
    if not TEXT_MIN <= len(body) <= TEXT_MAX:
        raise PetitionError("bad_text", "text")
    if text.topic not in TOPICS:
        raise PetitionError("bad_topic", "topic")
    if text.level not in PETITION_LEVELS:
        raise PetitionError("bad_level", "level")
    return PetitionText(title, body, text.topic, text.level, text.place_id)


async def create_draft(resident_id: int, text: PetitionText) -> int:
    """A verified resident starts a petition to a body of their own area."""
    author = await _resident(resident_id)
    if not can_start(author):
        raise PetitionError("not_verified")
    text = _checked(text)
    area = await addressee_area(text.level, text.place_id)
    if not area.holds(await home_area(author)):
        raise PetitionError("outside_area", "place_id")
    at = now()
    inserted = await Petition.insert(Petition(
        title=text.title, text=text.text, topic=text.topic, level=text.level,
        region=area.region_id, district=area.district_id, mahalla=area.mahalla_id,
        author=resident_id, status=DRAFT, search_text=search_text(text.title, text.text),
        sponsor_code=secrets.token_urlsafe(12), created_at=at, updated_at=at,
    )).returning(Petition.id)
    return inserted[0]["id"]


async def petition(petition_id: int) -> dict[str, Any] | None:
    return await Petition.select().where(Petition.id == petition_id).first()


async def _locked(petition_id: int) -> dict[str, Any]:
    """The petition, locked for the caller's transaction: two moderators, or the last two
    sponsors, acting at once are applied one after the other (SQLite's IMMEDIATE transaction
    already does this)."""
    query = Petition.select().where(Petition.id == petition_id)
    if isinstance(current_engine(), PostgresEngine):
        query = query.lock_rows("UPDATE")
    row = await query.first()
    if row is None:
        raise PetitionError("not_found")
    return row


async def by_sponsor_code(code: str) -> dict[str, Any] | None:
    return await Petition.select().where(Petition.sponsor_code == code).first()


async def _own(petition_id: int, resident_id: int) -> dict[str, Any]:
    row = await _locked(petition_id)
    if row["author"] != resident_id:
        raise PetitionError("not_author")
    return row


def can_edit(row: dict[str, Any]) -> bool:
    """A draft, or a rejected petition that has not yet used its one resubmission."""
    return row["status"] == DRAFT or (row["status"] == REJECTED
                                      and row["moderation_rounds"] == 1)


async def edit(resident_id: int, petition_id: int, text: PetitionText) -> None:
    async with transaction():
        row = await _own(petition_id, resident_id)
        if not can_edit(row):
            raise PetitionError("not_editable")
        text = _checked(text)
        area = await addressee_area(text.level, text.place_id)
        author = await _resident(resident_id)
        if not area.holds(await home_area(author)):
            raise PetitionError("outside_area", "place_id")
        await Petition.update({
            Petition.title: text.title, Petition.text: text.text, Petition.topic: text.topic,
            Petition.level: text.level, Petition.region: area.region_id,
            Petition.district: area.district_id, Petition.mahalla: area.mahalla_id,
            Petition.search_text: search_text(text.title, text.text),
            Petition.updated_at: now(),
        }).where(Petition.id == petition_id)


async def _record(kind: str, petition_id: int, payload: dict[str, Any] | None = None) -> None:
    await ledger.record(f"petitions.{kind}", subject(petition_id), payload or {})


async def seek_sponsors(resident_id: int, petition_id: int) -> None:
    """draft -> seeking_sponsors: the author shares the sponsor link."""
    at = now()
    async with transaction():
        row = await _own(petition_id, resident_id)
        if row["status"] != DRAFT:
            raise PetitionError("not_editable")
        await Petition.update({
            Petition.status: SEEKING_SPONSORS, Petition.updated_at: at,
            Petition.sponsors_until: at + timedelta(days=get_settings().petition_sponsor_days),
        }).where(Petition.id == petition_id)
        await notify.follow(resident_id, subject(petition_id))
        await _record("seeking_sponsors", petition_id, {"level": row["level"]})


async def sponsors(petition_id: int) -> int:
    return await Sponsor.count().where(Sponsor.petition == petition_id)


async def sponsor(petition_id: int, resident_id: int) -> bool:
    """A verified resident of the area vouches; the last sponsor needed sends the petition to
    moderation. Returns whether it went to moderation with this sponsor."""
    async with transaction():
        row = await _locked(petition_id)
        if row["status"] != SEEKING_SPONSORS:
            raise PetitionError("not_seeking")
        if row["author"] == resident_id:
            raise PetitionError("own_petition")
        backer = await _resident(resident_id)
        if not can_start(backer):
            raise PetitionError("not_verified")
        if not petition_area(row).holds(await home_area(backer)):
            raise PetitionError("outside_area")
        added = await Sponsor.insert(Sponsor(petition=petition_id, resident=resident_id,
                                             at=now())
                                     ).on_conflict(action="DO NOTHING").returning(Sponsor.id)
        if not added:
            raise PetitionError("already_sponsored")
        await notify.follow(resident_id, subject(petition_id))
        if await sponsors(petition_id) < get_settings().petition_sponsors:
            return False
        await _to_moderation(row)
        return True


async def _to_moderation(row: dict[str, Any]) -> None:
    at = now()
    await Petition.update({
        Petition.status: IN_MODERATION, Petition.moderation_requested_at: at,
        Petition.moderation_rounds: row["moderation_rounds"] + 1, Petition.updated_at: at,
        Petition.closed_at: None,
    }).where(Petition.id == row["id"])
    await _record("in_moderation", row["id"], {"round": row["moderation_rounds"] + 1})


async def resubmit(resident_id: int, petition_id: int) -> None:
    """After a rejection the author may edit and send it back to moderation, once."""
    async with transaction():
        row = await _own(petition_id, resident_id)
        if not (row["status"] == REJECTED and row["moderation_rounds"] == 1):
            raise PetitionError("not_editable")
        await _to_moderation(row)


async def moderation_queue() -> list[dict[str, Any]]:
    return await Petition.select().where(Petition.status == IN_MODERATION).order_by(
        Petition.moderation_requested_at)


async def moderation_stats(at: datetime | None = None) -> dict[str, Any]:
    """What the public sees of moderation: how many wait now, and the median wait of the
    petitions moderated in the last 30 days, in hours."""
    at = at or now()
    waiting = await Petition.count().where(Petition.status == IN_MODERATION)
    done = await Petition.select(Petition.moderation_requested_at, Petition.moderated_at).where(
        Petition.moderated_at.is_not_null() & (Petition.moderated_at >= at - timedelta(days=30)))
    waits = [(r["moderated_at"] - r["moderation_requested_at"]).total_seconds() / 3600
             for r in done if r["moderation_requested_at"]]
    return {"waiting": waiting,
            "median_hours": round(statistics.median(waits), 1) if waits else None}


async def _require(staff: StaffMember, action: Action, row: dict[str, Any]) -> None:
    require(staff, action, petition_area(row).place)


async def moderate(staff: StaffMember, petition_id: int, approve: bool, reason: str = "",
                   note: str = "", duplicate_of: int | None = None) -> None:
    """Open the petition for signatures, or refuse it on one of the law's grounds."""
    at = now()
    async with transaction():
        row = await _locked(petition_id)
        await _require(staff, Action.MODERATE, row)
        if row["status"] != IN_MODERATION:
            raise PetitionError("not_in_moderation")
        if approve:
            chosen = await rules(row["level"])
            threshold = await threshold_for(row["level"], petition_area(row))
            await Petition.update({
                Petition.status: OPEN, Petition.moderated_at: at, Petition.opened_at: at,
                Petition.closes_at: at + timedelta(days=chosen.window_days),
                Petition.threshold: threshold, Petition.updated_at: at,
            }).where(Petition.id == petition_id)
            await _record("opened", petition_id, {"threshold": threshold})
            await _tell_followers(row, "petition.opened", "opened")
            return
        if reason not in REJECTION_REASONS:
            raise PetitionError("bad_reason", "reason")
        note = _clean(note)
        if reason == "duplicate":
            original = await petition(duplicate_of) if duplicate_of else None
            if original is None or original["id"] == petition_id:
                raise PetitionError("unknown_duplicate", "duplicate_of")
        await Petition.update({
            Petition.status: REJECTED, Petition.moderated_at: at, Petition.updated_at: at,
            Petition.closed_at: at,
            Petition.rejection_reason: reason, Petition.rejection_note: note[:2000],
            Petition.duplicate_of: duplicate_of if reason == "duplicate" else None,
        }).where(Petition.id == petition_id)
        await _record("rejected", petition_id, {"reason": reason})
        await _tell_followers(row, "petition.rejected", f"rejected:{row['moderation_rounds']}")


def can_withdraw(row: dict[str, Any]) -> bool:
    """The author may withdraw a petition until the threshold is reached."""
    return row["status"] in (DRAFT, SEEKING_SPONSORS, IN_MODERATION, OPEN, REJECTED)


async def withdraw(resident_id: int, petition_id: int) -> None:
    async with transaction():
        row = await _own(petition_id, resident_id)
        if not can_withdraw(row):
            raise PetitionError("cannot_withdraw")
        await Petition.update({Petition.status: WITHDRAWN, Petition.closed_at: now(),
                               Petition.updated_at: now()}).where(Petition.id == petition_id)
        if row["status"] != DRAFT:
            await _record("withdrawn", petition_id)


async def _tell_followers(row: dict[str, Any], template: str, event: str) -> None:
    for resident_id in await notify.followers(subject(row["id"])):
        await notify.enqueue(f"petition:{row['id']}:{event}:{resident_id}", "resident",
                             resident_id, template,
                             {"title": row["title"], "link": link(row["id"])})


# -- signing ----------------------------------------------------------------------------------

def digest(value: str) -> str:
    """A keyed, short digest of an address or a device, never the value itself."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16] if value else ""


async def count(petition_id: int) -> int:
    rows = await PetitionCount.select(Sum(PetitionCount.signatures).as_alias("total")).where(
        PetitionCount.petition == petition_id).first()
    return int(rows["total"] or 0) if rows else 0


async def counts(petition_ids: Sequence[int]) -> dict[int, int]:
    if not petition_ids:
        return {}
    rows = await PetitionCount.select(
        PetitionCount.petition, Sum(PetitionCount.signatures).as_alias("total")
    ).where(PetitionCount.petition.is_in(list(petition_ids))).group_by(PetitionCount.petition)
    return {row["petition"]: int(row["total"] or 0) for row in rows}


async def _add_to_count(petition_id: int, change: int) -> None:
    await PetitionCount.raw(
        "INSERT INTO petitions_count (petition, shard, signatures) VALUES ({}, {}, {}) "
        "ON CONFLICT (petition, shard) DO UPDATE "
        "SET signatures = petitions_count.signatures + excluded.signatures",
        petition_id, random.randrange(SHARDS), change)


async def _limit(key: str, limit: int) -> None:
    decision = await hit(key, limit, 600)
    if not decision.allowed:
        raise PetitionError("too_many", retry_after=decision.retry_after)


async def sign(petition_id: int, resident_id: int, *, channel: str = "web", address: str = "",
               device: str = "", assisted_by: int | None = None, paper_form: str = "") -> int:
    """Record one person's signature; returns the count after it. A second signature by the
    same person is refused by the unique index, whatever the timing."""
    row = await Petition.select(
        Petition.id, Petition.status, Petition.region, Petition.district, Petition.mahalla,
        Petition.threshold, Petition.title, Petition.closes_at, Petition.level,
    ).where(Petition.id == petition_id).first()
    if row is None:
        raise PetitionError("not_found")
    if row["status"] not in SIGNABLE or (row["closes_at"] and row["closes_at"] <= now()):
        raise PetitionError("not_signable")
    signer = await _resident(resident_id)
    refusal = await eligibility(row, signer)
    if refusal is not None:
        raise PetitionError(refusal)
    if assisted_by is None:
        await _limit(f"petitions:sign:account:{resident_id}", SIGNATURES_PER_ACCOUNT)
        if address:
            await _limit(f"petitions:sign:address:{digest(address)}", SIGNATURES_PER_ADDRESS)
    async with transaction():
        added = await Signature.insert(Signature(
            petition=petition_id, resident=resident_id, mahalla=signer["mahalla"],
            channel=channel, assisted_by=assisted_by, paper_form=paper_form[:40],
            address_digest=digest(address), device_digest=digest(device), at=now(),
        )).on_conflict(action="DO NOTHING").returning(Signature.id)
        if not added:
            raise PetitionError("already_signed")
        await _add_to_count(petition_id, 1)
        await notify.follow(resident_id, subject(petition_id))
    total = await count(petition_id)
    if row["status"] == OPEN and total >= row["threshold"]:
        await _reach_threshold(row)
    return total


async def _reach_threshold(row: dict[str, Any]) -> None:
    """open -> threshold_reached, once: the conditional update lets one signer through."""
    at = now()
    due = clock.due_after(at, days=(await rules(row["level"])).response_days)
    async with transaction():
        moved = await Petition.update({
            Petition.status: THRESHOLD_REACHED, Petition.threshold_reached_at: at,
            Petition.response_due_at: due, Petition.updated_at: at,
        }).where((Petition.id == row["id"]) & (Petition.status == OPEN)).returning(Petition.id)
        if not moved:
            return
        await _record("threshold_reached", row["id"], {"response_due_at": due.isoformat()})
        await accountability.open_obligation(
            accountability.PETITION, row["id"], petition_area(row).place, at, due,
            mahalla_answers=row["level"] == "mahalla")
        for staff_id in await answering_staff(petition_area(row)):
            await notify.enqueue(f"petition:{row['id']}:threshold:{staff_id}", "staff",
                                 staff_id, "petition.threshold_reached",
                                 {"title": row["title"], "link": link(row["id"]),
                                  "date": locale.format_date(due)})


async def answering_staff(area: Area) -> list[int]:
    """The officials of the addressee: the regional hokimiyat's for a regional petition,
    district-wide officials of the district otherwise."""
    grants = await RoleGrant.select(RoleGrant.staff, RoleGrant.role, RoleGrant.region,
                                    RoleGrant.district, RoleGrant.department_id).where(
        RoleGrant.revoked_at.is_null() & (RoleGrant.role == "official")
        & (RoleGrant.region == area.region_id))
    chosen = []
    for grant in grants:
        if grant["department_id"] is not None:
            continue
        if grant["district"] == area.district_id:
            chosen.append(grant["staff"])
    return sorted(set(chosen))


async def signed(petition_id: int, resident_id: int) -> bool:
    return await Signature.exists().where((Signature.petition == petition_id)
                                          & (Signature.resident == resident_id)
                                          & (Signature.valid == True))  # noqa: E712


async def withdraw_signature(petition_id: int, resident_id: int) -> None:
    """A signer may take their signature back while the petition collects."""
    async with transaction():
        row = await Petition.select(Petition.status).where(Petition.id == petition_id).first()
        if row is None:
            raise PetitionError("not_found")
        if row["status"] != OPEN:
            raise PetitionError("not_signable")
        removed = await Signature.delete().where(
            (Signature.petition == petition_id) & (Signature.resident == resident_id)
            & (Signature.valid == True)  # noqa: E712
        ).returning(Signature.id)
        if not removed:
            raise PetitionError("not_signed")
        await _add_to_count(petition_id, -1)


async def by_mahalla(petition_id: int) -> list[dict[str, Any]]:
    """Valid signatures per mahalla, most first, with the assisted ones counted apart."""
    rows = await Signature.select(
        Signature.mahalla, Signature.channel, Count(Signature.id).as_alias("signatures"),
    ).where((Signature.petition == petition_id) & (Signature.valid == True)  # noqa: E712
            ).group_by(Signature.mahalla, Signature.channel)
    totals: dict[int | None, dict[str, Any]] = {}
    for row in rows:
        entry = totals.setdefault(row["mahalla"], {"mahalla": row["mahalla"], "signatures": 0,
                                                   "assisted": 0})
        entry["signatures"] += row["signatures"]
        if row["channel"] == "assisted":
            entry["assisted"] += row["signatures"]
    return sorted(totals.values(), key=lambda e: -e["signatures"])


async def collecting() -> list[dict[str, Any]]:
    """Petitions taking signatures now, oldest first."""
    return await Petition.select().where(Petition.status.is_in(list(SIGNABLE))).order_by(
        Petition.opened_at).order_by(Petition.id)


async def anomalies(petition_id: int) -> list[dict[str, Any]]:
    """Addresses, devices and mahallas signing far above their share: more than five times
    the average of their kind and at least ANOMALY_MINIMUM signatures."""
    found = []
    for column, kind in ((Signature.address_digest, "address"),
                         (Signature.device_digest, "device"), (Signature.mahalla, "mahalla")):
        rows = await Signature.select(column.as_alias("key"),
                                      Count(Signature.id).as_alias("signatures")).where(
            (Signature.petition == petition_id) & (Signature.valid == True)  # noqa: E712
        ).group_by(column)
        found.extend({"kind": kind, "key": outlier.key, "signatures": outlier.count,
                      "average": outlier.average}
                     for outlier in far_above({r["key"]: r["signatures"] for r in rows},
                                              ANOMALY_MINIMUM))
    return found


async def invalidate(staff: StaffMember, petition_id: int, reason: str, *,
                     address_digest: str = "", device_digest: str = "",
                     mahalla_id: int | None = None) -> int:
    """Moderators strike out the signatures of one address, device or mahalla, with a reason
    on record; the count is corrected in the same transaction."""
    reason = _clean(reason)
    if not reason:
        raise PetitionError("note_required", "reason")
    if not (address_digest or device_digest or mahalla_id is not None):
        raise PetitionError("bad_invalidation")
    async with transaction():
        row = await _locked(petition_id)
        await _require(staff, Action.MODERATE, row)
        if row["status"] not in SIGNABLE:
            raise PetitionError("not_signable")
        condition: Any = (Signature.petition == petition_id) & (
            Signature.valid == True)  # noqa: E712
        if address_digest:
            condition &= Signature.address_digest == address_digest
        if device_digest:
            condition &= Signature.device_digest == device_digest
        if mahalla_id is not None:
            condition &= Signature.mahalla == mahalla_id
        created = await Invalidation.insert(Invalidation(
            petition=petition_id, staff=staff.id, reason=reason[:2000], at=now(),
        )).returning(Invalidation.id)
        struck = await Signature.update({Signature.valid: False,
                                         Signature.invalidation: created[0]["id"]}
                                        ).where(condition).returning(Signature.id)
        await Invalidation.update({Invalidation.count: len(struck)}).where(
            Invalidation.id == created[0]["id"])
        if struck:
            await _add_to_count(petition_id, -len(struck))
        await _record("signatures_invalidated", petition_id,
                      {"count": len(struck), "invalidation": created[0]["id"]})
        return len(struck)


# -- the answer -------------------------------------------------------------------------------

def attachment_path(name: str) -> Path:
    if not ATTACHMENT_NAME.match(name):
        raise ValueError("not an attachment name")
    return get_settings().upload_dir / "petitions" / name[:2] / name


def _stored_attachment(upload: Upload) -> dict[str, Any]:
    """Check one document and keep it by the digest of what is stored."""
    limit = get_settings().max_upload_mb * 1024 * 1024
    if len(upload.data) > limit:
        raise PetitionError("bad_attachment", "attachments")
    if upload.data.startswith(b"%PDF-"):
        data, media_type, suffix = upload.data, "application/pdf", ".pdf"
    else:
        try:
            data = process_photo(upload.data, limit).data
        except PhotoError:
            raise PetitionError("bad_attachment", "attachments") from None
        media_type, suffix = "image/jpeg", ".jpg"
    name = hashlib.sha256(data).hexdigest()[:32] + suffix
    write_once(attachment_path(name), data)
    shown = " ".join(upload.filename.replace("/", " ").replace("\\", " ").split())[-160:]
    return {"name": name, "filename": shown or name, "media_type": media_type,
            "size": len(data)}


async def attachments(petition_id: int) -> list[dict[str, Any]]:
    return await Attachment.select(Attachment.name, Attachment.filename,
                                   Attachment.media_type, Attachment.size).where(
        Attachment.response.petition == petition_id).order_by(Attachment.id)


async def respond(staff: StaffMember, petition_id: int, decision: str, text: str,
                  official_name: str, official_post: str,
                  documents: Sequence[Upload] = ()) -> None:
    """Publish the addressee's answer, with its documents, and tell every signer."""
    text, official_name, official_post = (_clean(text), " ".join(official_name.split()),
                                          " ".join(official_post.split()))
    if decision not in DECISIONS:
        raise PetitionError("bad_decision", "decision")
    if len(text) < 20:
        raise PetitionError("bad_response", "text")
    if not official_name:
        raise PetitionError("bad_response", "official_name")
    if not official_post:
        raise PetitionError("bad_response", "official_post")
    if len(documents) > MAX_ATTACHMENTS:
        raise PetitionError("bad_attachment", "attachments")
    stored = [_stored_attachment(document) for document in documents]
    at = now()
    async with transaction():
        row = await _locked(petition_id)
        await _require(staff, Action.ANSWER, row)
        if row["status"] != THRESHOLD_REACHED:
            raise PetitionError("not_answerable")
        created = await Response.insert(Response(
            petition=petition_id, decision=decision, text=text, staff=staff.id,
            official_name=official_name[:120], official_post=official_post[:160],
            published_at=at)).returning(Response.id)
        for document in stored:
            await Attachment.insert(Attachment(response=created[0]["id"], **document))
        await Petition.update({Petition.status: RESPONDED, Petition.responded_at: at,
                               Petition.updated_at: at}).where(Petition.id == petition_id)
        await accountability.resolve(accountability.PETITION, petition_id, at)
        await _record("responded", petition_id, {"decision": decision})
        await _tell_followers(row, "petition.responded", "responded")


# The Law on Appeals lets a body extend its term once, by up to a month, saying why.
MAX_EXTENSION_DAYS = 30


async def extend_response(staff: StaffMember, petition_id: int, days: int, reason: str) -> None:
    """The one extension of the answer's due date, with a public reason; signers are told."""
    reason = _clean(reason)
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        raise PetitionError("bad_extension", "days")
    if len(reason) < 10:
        raise PetitionError("bad_reason", "reason")
    at = now()
    async with transaction():
        row = await _locked(petition_id)
        await _require(staff, Action.ANSWER, row)
        if row["status"] != THRESHOLD_REACHED:
            raise PetitionError("not_answerable")
        due = clock.extended(row["response_due_at"], days)
        if not await accountability.extend(accountability.PETITION, petition_id, due, reason,
                                           at):
            raise PetitionError("already_extended")
        await Petition.update({Petition.response_due_at: due, Petition.updated_at: at}).where(
            Petition.id == petition_id)
        await _record("extended", petition_id, {
            "response_due_at": due.isoformat(),
            "reason_sha256": hashlib.sha256(reason.encode()).hexdigest()})
        for resident_id in await notify.followers(subject(petition_id)):
            await notify.enqueue(
                f"petition:{petition_id}:extended:{resident_id}", "resident", resident_id,
                "obligation.extended",
                {"title": row["title"], "reason": reason[:300], "link": link(petition_id),
                 "date_day": clock.last_day(due).isoformat()})


def answer_overdue(row: Mapping[str, Any], at: datetime | None = None) -> bool:
    """Waiting for the addressee's answer past its due date."""
    due = row.get("response_due_at")
    return row.get("status") == THRESHOLD_REACHED and due is not None and due <= (at or now())


async def response(petition_id: int) -> dict[str, Any] | None:
    return await Response.select().where(Response.petition == petition_id).first()


# -- lists ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Filters:
    status: str | None = None
    level: str | None = None
    district_id: int | None = None
    topic: str | None = None
    search: str | None = None


def _where(filters: Filters) -> Any:
    condition: Any = Petition.status.is_in(list(PUBLIC_STATUSES))
    if filters.status in PUBLIC_STATUSES:
        condition &= Petition.status == filters.status
    if filters.level in PETITION_LEVELS:
        condition &= Petition.level == filters.level
    if filters.district_id is not None:
        condition &= Petition.district == filters.district_id
    if filters.topic in TOPICS:
        condition &= Petition.topic == filters.topic
    if filters.search:
        either: Any = None
        for key in dict.fromkeys(geo.search_keys(filters.search)):
            words = key.split()
            if not words:
                continue
            all_words: Any = Petition.search_text.like(f"%{words[0]}%")
            for word in words[1:]:
                all_words &= Petition.search_text.like(f"%{word}%")
            either = all_words if either is None else either | all_words
        if either is not None:
            condition &= either
    return condition


async def search(filters: Filters, number: int, per_page: int) -> Page:
    condition = _where(filters)
    page = await paginate(
        Petition.select().where(condition).order_by(Petition.opened_at, ascending=False)
        .order_by(Petition.id, ascending=False),
        Petition.count().where(condition), number, per_page)
    totals = await counts([row["id"] for row in page.items])
    for row in page.items:
        row["signature_count"] = totals.get(row["id"], 0)
    return page


async def mine(resident_id: int) -> list[dict[str, Any]]:
    return await Petition.select().where(Petition.author == resident_id).order_by(
        Petition.created_at, ascending=False)


# -- scheduled --------------------------------------------------------------------------------

async def close_due(at: datetime | None = None) -> dict[str, int]:
    """Lapse drafts without sponsors, expire petitions short of signatures when the window
    ends, close answered ones then, and anonymise signers after the retention period."""
    at = at or now()
    done = {"lapsed": 0, "expired": 0, "closed": 0, "anonymised": 0}
    moves = (
        ("lapsed", SEEKING_SPONSORS, LAPSED, Petition.sponsors_until),
        ("expired", OPEN, EXPIRED, Petition.closes_at),
        ("closed", RESPONDED, CLOSED, Petition.closes_at),
    )
    for key, source, target, deadline in moves:
        rows = await Petition.select(Petition.id).where(
            (Petition.status == source) & deadline.is_not_null() & (deadline <= at))
        for row in rows:
            async with transaction():
                moved = await Petition.update({Petition.status: target, Petition.closed_at: at,
                                               Petition.updated_at: at}).where(
                    (Petition.id == row["id"]) & (Petition.status == source)
                ).returning(Petition.id)
                if moved:
                    done[key] += 1
                    await _record(target, row["id"])
    retention = at - timedelta(days=get_settings().petition_anonymise_days)
    finished = await Petition.select(Petition.id).where(
        Petition.status.is_in([CLOSED, EXPIRED, REJECTED, WITHDRAWN, LAPSED])
        & Petition.anonymised_at.is_null() & Petition.closed_at.is_not_null()
        & (Petition.closed_at <= retention))
    for row in finished:
        async with transaction():
            await Signature.update({
                Signature.resident: None, Signature.address_digest: "",
                Signature.device_digest: "", Signature.paper_form: "",
            }).where(Signature.petition == row["id"])
            await Sponsor.delete().where(Sponsor.petition == row["id"])
            await notify.drop_follows(subject(row["id"]))
            await Petition.update({Petition.anonymised_at: at}).where(Petition.id == row["id"])
            done["anonymised"] += 1
    return done


def answerable_here(staff: StaffMember, row: dict[str, Any]) -> bool:
    try:
        require(staff, Action.ANSWER, petition_area(row).place)
    except PermissionDenied:
        return False
    return True


def moderates_somewhere(staff: StaffMember) -> bool:
    return bool(scopes(staff, Action.MODERATE))


async def assisted_counts(since: datetime, until: datetime) -> dict[int, int]:
    """Signatures recorded at a mahalla desk in [since, until), by the staff member."""
    rows = await Signature.select(Signature.assisted_by, Count(Signature.id).as_alias("n")).where(
        (Signature.channel == "assisted") & Signature.assisted_by.is_not_null()
        & (Signature.at >= since) & (Signature.at < until)).group_by(Signature.assisted_by)
    return {row["assisted_by"]: int(row["n"]) for row in rows}


# -- moderation -------------------------------------------------------------------------------

MODERATED_FIELDS: Final = {"title": locale.lazy("Title"), "text": locale.lazy("Text")}


async def moderated(petition_id: int) -> dict[str, Any] | None:
    """What moderation needs of a public petition: its author, area and texts."""
    row = await petition(petition_id)
    if row is None or row["status"] not in PUBLIC_STATUSES:
        return None
    return {"author": row["author"], "place": petition_area(row).place, "title": row["title"],
            "fields": {name: row[name] for name in MODERATED_FIELDS}}


async def set_moderated_text(petition_id: int, field: str, text: str) -> None:
    """A moderator's change to a petition's text, inside the moderation's transaction; the
    search follows what the public now reads."""
    assert field in MODERATED_FIELDS
    row = await petition(petition_id)
    assert row is not None
    texts = {name: row[name] for name in MODERATED_FIELDS} | {field: text}
    await Petition.update({getattr(Petition, field): text, Petition.updated_at: now(),
                           Petition.search_text: search_text(texts["title"], texts["text"])}
                          ).where(Petition.id == petition_id)


async def pending_of(resident_id: int) -> list[int]:
    """The resident's petitions still collecting signatures: what a block hides."""
    rows = await Petition.select(Petition.id).where((Petition.author == resident_id)
                                                    & (Petition.status == OPEN))
    return [row["id"] for row in rows]
