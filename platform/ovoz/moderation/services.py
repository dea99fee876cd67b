"""Moderation: residents flag content; moderators hide an item or redact part of it with a
public reason, or dismiss the flags; the author is told and may appeal once.

Hiding and redacting change the item's own texts (through its feature's services) to a mark
the public reads, so every page, feed, file and API that shows the item shows the change with
no rule of its own; the original stays in the decision, for staff only. Undoing a decision (a
restore, an appeal upheld) puts the original back.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from piccolo.query.functions.aggregate import Count, Min

from ovoz import ledger
from ovoz.accounts import services as accounts
from ovoz.accounts.permissions import NATIONAL, Action, Actor, Place, StaffMember, allowed, require
from ovoz.db import transaction
from ovoz.geo.tables import Mahalla
from ovoz.i18n import locale
from ovoz.moderation import items
from ovoz.moderation.items import Item
from ovoz.moderation.tables import Block, Decision, Flag
from ovoz.notify import services as notify
from ovoz.pagination import Page, paginate_items
from ovoz.reports import services as reports
from ovoz.settings import get_settings
from ovoz.store.services import hit

# What the public reads where a text was hidden or a passage redacted: a mark in no language.
REMOVED: Final = "[…]"
HIDE, REDACT, DISMISS = "hide", "redact", "dismiss"
UPHELD, REVERSED = "upheld", "reversed"
REASONS: Final = {
    "personal_data": locale.lazy("It shows someone's phone number, address or face"),
    "insult": locale.lazy("It insults someone"),
    "hatred": locale.lazy("It stirs up ethnic, racial or religious hatred"),
    "violence": locale.lazy("It calls for violence"),
    "spam": locale.lazy("It is advertising or spam"),
    "other": locale.lazy("Something else"),
}
NOTE_MAX = 500
REASON_MIN, REASON_MAX = 10, 500
APPEAL_MIN, APPEAL_MAX = 10, 2000
FLAGS_PER_HOUR = 20


class ModerationError(ValueError):
    """not_found, bad_reason, bad_note, already_flagged, rate_limited (flagging); no_flags,
    bad_public_reason, bad_field, passage_not_found, bad_photo, not_hidden, already_blocked,
    not_blocked (moderators); not_yours, not_appealable, already_appealed, bad_appeal,
    not_appealed (appeals)."""

    def __init__(self, code: str, field: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.field = field


def now() -> datetime:
    return datetime.now(UTC)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _subject(kind: str, ref: int) -> str:
    return f"{kind}:{ref}"


async def _item(kind: str, ref: int) -> Item:
    item = await items.load(kind, ref)
    if item is None:
        raise ModerationError("not_found")
    return item


# -- flags ------------------------------------------------------------------------------------

async def flag(resident_id: int, kind: str, ref: int, reason: str, note: str = "") -> None:
    """A resident flags a public item once, with a reason; ModerationError says why not."""
    note = " ".join(note.split())
    if reason not in REASONS:
        raise ModerationError("bad_reason", "reason")
    if len(note) > NOTE_MAX:
        raise ModerationError("bad_note", "note")
    await _item(kind, ref)
    decision = await hit(f"moderation:flags:{resident_id}", FLAGS_PER_HOUR, 3600)
    if not decision.allowed:
        raise ModerationError("rate_limited")
    added = await Flag.insert(Flag(kind=kind, ref=ref, resident=resident_id, reason=reason,
                                   note=note, at=now())
                              ).on_conflict(action="DO NOTHING").returning(Flag.id)
    if not added:
        raise ModerationError("already_flagged")


async def flagged_by(resident_id: int, kind: str, ref: int) -> bool:
    return await Flag.exists().where((Flag.kind == kind) & (Flag.ref == ref)
                                     & (Flag.resident == resident_id))


@dataclass(frozen=True, slots=True)
class QueueEntry:
    item: Item
    flags: int
    first_flagged_at: datetime
    reasons: dict[str, int]


def may_moderate(staff: Actor, item: Item) -> bool:
    return allowed(staff, Action.MODERATE, item.place)


async def queue(staff: Actor, kind: str | None, number: int, per_page: int) -> Page:
    """Items with flags no decision has settled, the most flagged first, then the oldest;
    only those in the moderator's area."""
    where = Flag.settled_by.is_null()
    if kind in items.KINDS:
        where &= Flag.kind == kind
    rows = await Flag.select(Flag.kind, Flag.ref, Flag.reason, Count(Flag.id).as_alias("n"),
                             Min(Flag.at).as_alias("first")).where(where).group_by(
        Flag.kind, Flag.ref, Flag.reason)
    grouped: dict[tuple[str, int], dict[str, Any]] = defaultdict(
        lambda: {"n": 0, "first": None, "reasons": {}})
    for row in rows:
        entry = grouped[(row["kind"], row["ref"])]
        entry["n"] += int(row["n"])
        entry["reasons"][row["reason"]] = int(row["n"])
        first = _moment(row["first"])
        entry["first"] = first if entry["first"] is None else min(entry["first"], first)
    found = []
    for (item_kind, ref), entry in grouped.items():
        item = await items.load(item_kind, ref)
        if item is not None and may_moderate(staff, item):
            found.append({"entry": QueueEntry(item, entry["n"], entry["first"],
                                              entry["reasons"])})
    found.sort(key=lambda row: (-row["entry"].flags, row["entry"].first_flagged_at))
    return paginate_items(found, number, per_page)


def _moment(value: Any) -> datetime:
    # SQLite hands back MIN() of a timestamp column as text.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def flags_of(kind: str, ref: int) -> list[dict[str, Any]]:
    """The item's flags, newest first: reasons and notes, never who flagged."""
    return await Flag.select(Flag.reason, Flag.note, Flag.at, Flag.settled_by).where(
        (Flag.kind == kind) & (Flag.ref == ref)).order_by(Flag.at, ascending=False)


async def decisions_of(kind: str, ref: int) -> list[dict[str, Any]]:
    """Every decision on the item, newest first, originals included: for staff only."""
    return await Decision.select(
        *Decision.all_columns(), Decision.staff.display_name.as_alias("staff_name"),
    ).where((Decision.kind == kind) & (Decision.ref == ref)).order_by(
        Decision.at, ascending=False).order_by(Decision.id, ascending=False)


async def notices(kind: str, ref: int) -> list[dict[str, Any]]:
    """What the item's public page says of moderators' decisions that stand: the action and
    its public reason."""
    return await Decision.select(Decision.id, Decision.action, Decision.field,
                                 Decision.public_reason, Decision.at).where(
        (Decision.kind == kind) & (Decision.ref == ref) & Decision.undone_at.is_null()
        & Decision.action.is_in([HIDE, REDACT])).order_by(Decision.at)


# -- decisions --------------------------------------------------------------------------------

def _public_reason(text: str) -> str:
    text = " ".join(text.split())
    if not REASON_MIN <= len(text) <= REASON_MAX:
        raise ModerationError("bad_public_reason", "public_reason")
    return text


async def _decide(staff: StaffMember, item: Item, action: str, field_name: str,
                  original: str, public_reason: str, tell_author: bool = True) -> int:
    """Record the decision, settle the item's waiting flags, enter it in the ledger and tell
    the author; inside the caller's transaction."""
    created = await Decision.insert(Decision(
        kind=item.kind, ref=item.ref, action=action, field=field_name, original=original,
        public_reason=public_reason, staff=staff.id, at=now(),
    )).returning(Decision.id)
    decision_id = int(created[0]["id"])
    await Flag.update({Flag.settled_by: decision_id}).where(
        (Flag.kind == item.kind) & (Flag.ref == item.ref) & Flag.settled_by.is_null())
    await ledger.record(f"moderation.{action}", _subject(item.kind, item.ref), {
        "field": field_name, "reason_sha256": _digest(public_reason)})
    if tell_author and action != DISMISS and item.author is not None:
        await notify.enqueue(
            f"moderation:{decision_id}:{item.author}", "resident", item.author,
            "moderation.decided", {
                "title": item.title, "reason": public_reason[:300],
                "link": f"{get_settings().base_url}/moderation/decisions/{decision_id}"})
    return decision_id


async def hide(staff: StaffMember, kind: str, ref: int, public_reason: str) -> int:
    """Hide every text of the item (and a report's photos) behind the mark, with a public
    reason; returns the decision's id."""
    public_reason = _public_reason(public_reason)
    async with transaction():
        item = await _item(kind, ref)
        require(staff, Action.MODERATE, item.place)
        return await _hide(staff, item, public_reason)


async def _hide(staff: StaffMember, item: Item, public_reason: str,
                tell_author: bool = True) -> int:
    for name in item.fields:
        await items.set_text(item, name, REMOVED)
    for photo in item.photos:
        await reports.set_photo_hidden(item.ref, photo["id"], True)
    # The originals of every text, and which photos were shown, to put back on undoing.
    original = json.dumps({"fields": dict(item.fields),
                           "photos": [photo["id"] for photo in item.photos
                                      if photo["hidden_at"] is None]},
                          ensure_ascii=False)
    return await _decide(staff, item, HIDE, "", original, public_reason, tell_author)


async def redact(staff: StaffMember, kind: str, ref: int, field_name: str, passage: str,
                 public_reason: str) -> int:
    """Replace each occurrence of a passage (a phone number, an insult) in one of the item's
    texts with the mark; returns the decision's id."""
    public_reason = _public_reason(public_reason)
    passage = passage.strip()
    async with transaction():
        item = await _item(kind, ref)
        require(staff, Action.MODERATE, item.place)
        if field_name not in item.fields:
            raise ModerationError("bad_field", "field")
        text = item.fields[field_name]
        if not passage or passage not in text:
            raise ModerationError("passage_not_found", "passage")
        await items.set_text(item, field_name, text.replace(passage, REMOVED))
        return await _decide(staff, item, REDACT, field_name, text, public_reason)


async def hide_photo(staff: StaffMember, report_id: int, photo_id: int,
                     public_reason: str) -> int:
    """Hide one photo of a report (a face, a number plate); returns the decision's id."""
    public_reason = _public_reason(public_reason)
    async with transaction():
        item = await _item(items.REPORT, report_id)
        require(staff, Action.MODERATE, item.place)
        if not any(photo["id"] == photo_id and photo["hidden_at"] is None
                   for photo in item.photos):
            raise ModerationError("bad_photo", "photo")
        await reports.set_photo_hidden(report_id, photo_id, True)
        return await _decide(staff, item, REDACT, f"photo:{photo_id}", "", public_reason)


async def dismiss(staff: StaffMember, kind: str, ref: int) -> int:
    """The flags were unfounded: they are settled and the item stays as it is."""
    async with transaction():
        item = await _item(kind, ref)
        require(staff, Action.MODERATE, item.place)
        if not await Flag.exists().where((Flag.kind == kind) & (Flag.ref == ref)
                                         & Flag.settled_by.is_null()):
            raise ModerationError("no_flags")
        return await _decide(staff, item, DISMISS, "", "", "")


async def _undo(decision: dict[str, Any], item: Item) -> None:
    """Put back what the decision took away; later changes to the same text are kept."""
    if decision["action"] == HIDE:
        kept = json.loads(decision["original"])
        for name, text in kept["fields"].items():
            if item.fields.get(name) == REMOVED:
                await items.set_text(item, name, text)
        for photo_id in kept["photos"]:
            await reports.set_photo_hidden(item.ref, photo_id, False)
    elif decision["field"].startswith("photo:"):
        await reports.set_photo_hidden(item.ref, int(decision["field"].split(":")[1]), False)
    elif decision["action"] == REDACT:
        await items.set_text(item, decision["field"], decision["original"])
    await Decision.update({Decision.undone_at: now()}).where(Decision.id == decision["id"])


async def _standing(decision_id: int) -> dict[str, Any]:
    row = await Decision.select().where(Decision.id == decision_id).first()
    if row is None:
        raise ModerationError("not_found")
    return row


async def restore(staff: StaffMember, decision_id: int) -> None:
    """A moderator undoes a hide or a redaction."""
    async with transaction():
        decision = await _standing(decision_id)
        item = await _item(decision["kind"], decision["ref"])
        require(staff, Action.MODERATE, item.place)
        if decision["action"] == DISMISS or decision["undone_at"] is not None:
            raise ModerationError("not_hidden")
        await _undo(decision, item)
        await ledger.record("moderation.restored", _subject(item.kind, item.ref),
                            {"decision": decision_id})


# -- blocks -----------------------------------------------------------------------------------

async def _home_place(resident: dict[str, Any]) -> Place:
    if resident["mahalla"] is None:
        return NATIONAL
    row = await Mahalla.select(Mahalla.district, Mahalla.district.region.as_alias("region")
                               ).where(Mahalla.id == resident["mahalla"]).first()
    assert row is not None
    return Place(row["region"], row["district"], resident["mahalla"])


def _hidden(item: Item) -> bool:
    return all(text == REMOVED for text in item.fields.values())


async def block(staff: StaffMember, resident_id: int, public_reason: str) -> int:
    """Block a resident for abuse: signed out everywhere and kept out, and their pending items
    (reports nobody took up, petitions collecting, proposals not reviewed, comments) hidden
    with the same public reason. Moderators of the resident's home area may; returns the
    block's id."""
    public_reason = _public_reason(public_reason)
    async with transaction():
        resident = await accounts.resident(resident_id)
        if resident is None:
            raise ModerationError("not_found")
        require(staff, Action.MODERATE, await _home_place(resident))
        if not await accounts.set_blocked(resident_id, True):
            raise ModerationError("already_blocked")
        decisions = [await _hide(staff, item, public_reason, tell_author=False)
                     for item in await items.pending_of(resident_id)
                     if may_moderate(staff, item) and not _hidden(item)]
        created = await Block.insert(Block(
            resident=resident_id, public_reason=public_reason, staff=staff.id, at=now(),
            decisions=json.dumps(decisions))).returning(Block.id)
        block_id = int(created[0]["id"])
        await ledger.record("moderation.blocked", f"block:{block_id}", {
            "items_hidden": len(decisions), "reason_sha256": _digest(public_reason)})
        # By SMS where there is a number: a blocked resident cannot open the bell.
        await notify.enqueue(f"moderation:block:{block_id}", "resident", resident_id,
                             "moderation.blocked", {"reason": public_reason[:300]},
                             channels=("sms",) if resident["phone"] else None,
                             hold_for_digest=False)
        return block_id


async def blocked(resident_id: int) -> dict[str, Any] | None:
    """The resident's block in force, if any."""
    return await Block.select().where((Block.resident == resident_id)
                                      & Block.lifted_at.is_null()).first()


async def lift_block(staff: StaffMember, block_id: int) -> None:
    """Let the resident back in and put back what the block hid, unless a moderator has
    decided on those items since."""
    async with transaction():
        row = await Block.select().where(Block.id == block_id).first()
        if row is None or row["lifted_at"] is not None:
            raise ModerationError("not_blocked")
        resident = await accounts.resident(row["resident"])
        require(staff, Action.MODERATE,
                NATIONAL if resident is None else await _home_place(resident))
        await accounts.set_blocked(row["resident"], False)
        for decision_id in json.loads(row["decisions"]):
            decision = await _standing(decision_id)
            item = await items.load(decision["kind"], decision["ref"])
            if decision["undone_at"] is None and item is not None:
                await _undo(decision, item)
        await Block.update({Block.lifted_at: now(), Block.lifted_by: staff.id}).where(
            Block.id == block_id)
        await ledger.record("moderation.block_lifted", f"block:{block_id}", {})


async def blocks(staff: Actor) -> list[dict[str, Any]]:
    """Blocks in force that the moderator may lift, the newest first."""
    rows = await Block.select(
        *Block.all_columns(), Block.staff.display_name.as_alias("staff_name"),
    ).where(Block.lifted_at.is_null()).order_by(Block.at, ascending=False)
    found = []
    for row in rows:
        resident = await accounts.resident(row["resident"])
        if resident is not None and allowed(staff, Action.MODERATE,
                                            await _home_place(resident)):
            found.append({**row, "name": accounts.public_name(resident),
                          "items_hidden": len(json.loads(row["decisions"]))})
    return found


# -- appeals ----------------------------------------------------------------------------------

async def decision_for_author(resident_id: int, decision_id: int) -> tuple[dict[str, Any], Item]:
    """A decision on one of the resident's own items, and the item."""
    decision = await _standing(decision_id)
    item = await items.load(decision["kind"], decision["ref"])
    if item is None or item.author != resident_id or decision["action"] == DISMISS:
        raise ModerationError("not_yours")
    return decision, item


async def appeal(resident_id: int, decision_id: int, text: str) -> None:
    """The author asks, once, for a decision to be looked at again."""
    text = " ".join(text.split())
    if not APPEAL_MIN <= len(text) <= APPEAL_MAX:
        raise ModerationError("bad_appeal", "appeal")
    async with transaction():
        decision, _ = await decision_for_author(resident_id, decision_id)
        if decision["undone_at"] is not None:
            raise ModerationError("not_appealable")
        appealed = await Decision.update({Decision.appeal_text: text,
                                          Decision.appealed_at: now()}).where(
            (Decision.id == decision_id) & Decision.appealed_at.is_null()
        ).returning(Decision.id)
        if not appealed:
            raise ModerationError("already_appealed")


async def appeals(staff: Actor) -> list[dict[str, Any]]:
    """Appeals waiting for a moderator of the item's area, the oldest first."""
    rows = await Decision.select().where(
        Decision.appealed_at.is_not_null() & Decision.appeal_decided_at.is_null()
    ).order_by(Decision.appealed_at)
    found = []
    for row in rows:
        item = await items.load(row["kind"], row["ref"])
        if item is not None and may_moderate(staff, item):
            found.append({**row, "item": item})
    return found


async def decide_appeal(staff: StaffMember, decision_id: int, reverse: bool) -> None:
    """Another look: the decision is reversed (the original comes back) or upheld; the author
    is told either way."""
    async with transaction():
        decision = await _standing(decision_id)
        item = await _item(decision["kind"], decision["ref"])
        require(staff, Action.MODERATE, item.place)
        if decision["appealed_at"] is None or decision["appeal_decided_at"] is not None:
            raise ModerationError("not_appealed")
        if reverse and decision["undone_at"] is None:
            await _undo(decision, item)
        outcome = REVERSED if reverse else UPHELD
        await Decision.update({Decision.appeal_outcome: outcome,
                               Decision.appeal_decided_by: staff.id,
                               Decision.appeal_decided_at: now()}).where(
            Decision.id == decision_id)
        await ledger.record("moderation.appeal_decided", _subject(item.kind, item.ref),
                            {"decision": decision_id, "outcome": outcome})
        if item.author is not None:
            await notify.enqueue(
                f"moderation:{decision_id}:appeal:{item.author}", "resident", item.author,
                "moderation.appeal_decided", {
                    "title": item.title,
                    "outcome_msgid": APPEAL_OUTCOMES[outcome],
                    "link": f"{get_settings().base_url}/moderation/decisions/{decision_id}"})


APPEAL_OUTCOMES: Final = {
    UPHELD: locale.lazy("the moderators' decision stands"),
    REVERSED: locale.lazy("the moderators' decision is reversed"),
}


def field_label(item: Item, name: str) -> str:
    if name.startswith("photo:"):
        return locale.gettext("A photo")
    label = item.field_labels.get(name)
    return locale.gettext(label) if label else ""



async def page_context(kind: str, ref: int) -> dict[str, Any]:
    """What an item's public page needs for the moderators' notices and the flag form
    (templates/moderation/_flag.html)."""
    return {"moderation_notices": await notices(kind, ref), "flag_reasons": REASONS,
            "flag_kind": kind, "flag_ref": ref}
