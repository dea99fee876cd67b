"""Moderation: flags, the queue, hiding and redacting with the original kept for staff, undoing,
and the author's one appeal."""

from __future__ import annotations

import json

import pytest

from ovoz.accounts.permissions import Grant, PermissionDenied, Role, StaffMember
from ovoz.ledger.tables import LedgerEntry
from ovoz.moderation import items
from ovoz.moderation import services as moderation
from ovoz.moderation.services import ModerationError
from ovoz.notify.tables import OutboxMessage
from ovoz.petitions import services as petitions
from ovoz.planning import services as planning
from ovoz.reports import services as reports
from tests.petitions.helpers import (
    beruniy_mahallas,
    district_petition,
    make_moderator,
    make_residents,
    make_verified,
    open_petition,
)
from tests.planning.test_services import ballot_cycle
from tests.reports.helpers import (
    CHORTOQ,
    REGION_OF,
    draft,
    load_demo_mahallas,
    make_resident,
    make_staff_account,
    photo,
)

PHONE_IN_TEXT = "A deep pothole. Call me on 90 123 45 67, the school gate."


async def regional_moderator(username: str, district_id: int) -> StaffMember:
    grant = Grant(Role.MODERATOR, REGION_OF[district_id])
    return StaffMember(await make_staff_account(username, grant), (grant,))


async def failure(call: object) -> ModerationError:
    with pytest.raises(ModerationError) as caught:
        await call  # type: ignore[misc]
    return caught.value


@pytest.fixture
async def report_id(db: str) -> int:
    await load_demo_mahallas()
    return await reports.create_report(await make_resident(),
                                       draft(description=PHONE_IN_TEXT, photos=[photo()]))


async def test_residents_flag_once_and_the_queue_puts_the_most_flagged_first(
        report_id: int) -> None:
    other = await reports.create_report(await make_resident("+998907770001"), draft())
    flaggers = [await make_resident(f"+99890555000{n}") for n in range(3)]
    await moderation.flag(flaggers[0], "report", report_id, "personal_data", " a  phone ")
    await moderation.flag(flaggers[1], "report", report_id, "personal_data")
    await moderation.flag(flaggers[2], "report", other, "spam")
    assert (await failure(moderation.flag(flaggers[0], "report", report_id, "insult"))
            ).code == "already_flagged"
    assert (await failure(moderation.flag(flaggers[0], "report", report_id, "rude"))
            ).code == "bad_reason"
    assert (await failure(moderation.flag(flaggers[0], "report", 999999, "spam"))).code == (
        "not_found")
    assert (await failure(moderation.flag(flaggers[0], "secret", report_id, "spam"))).code == (
        "not_found")
    assert await moderation.flagged_by(flaggers[0], "report", report_id)

    moderator = await make_moderator()
    queue = await moderation.queue(moderator, None, 1, 20)
    assert [(row["entry"].item.ref, row["entry"].flags, row["entry"].reasons)
            for row in queue.items] == [(report_id, 2, {"personal_data": 2}),
                                        (other, 1, {"spam": 1})]
    assert (await moderation.flags_of("report", report_id))[-1]["note"] == "a phone"
    # A moderator of another region sees none of Beruniy's.
    elsewhere = await regional_moderator("fergana", CHORTOQ)
    assert (await moderation.queue(elsewhere, None, 1, 20)).total == 0


async def test_a_phone_number_is_redacted_and_kept_for_staff_only(report_id: int) -> None:
    author = (await reports.report(report_id))["author"]
    await moderation.flag(await make_resident("+998905550001"), "report", report_id,
                          "personal_data")
    moderator = await make_moderator()
    assert (await failure(moderation.redact(moderator, "report", report_id, "description",
                                            "99 999 99 99", "Phone numbers are private."))
            ).code == "passage_not_found"
    assert (await failure(moderation.redact(moderator, "report", report_id, "description",
                                            "90 123 45 67", "No."))).code == (
        "bad_public_reason")
    decision_id = await moderation.redact(moderator, "report", report_id, "description",
                                          "90 123 45 67", "Phone numbers are kept private.")
    shown = await reports.report(report_id)
    assert shown["description"] == "A deep pothole. Call me on […], the school gate."
    [decision] = await moderation.decisions_of("report", report_id)
    assert decision["original"] == PHONE_IN_TEXT and decision["field"] == "description"
    # The flags are settled, the ledger has a digest of the reason and no text.
    assert (await moderation.queue(moderator, None, 1, 20)).total == 0
    [entry] = await LedgerEntry.select().where(LedgerEntry.kind == "moderation.redact")
    assert "90 123" not in json.dumps(entry["payload"]) and entry["subject"] == (
        f"report:{report_id}")
    [message] = await OutboxMessage.select().where(
        (OutboxMessage.template == "moderation.decided") & (OutboxMessage.channel == "inapp"))
    assert message["recipient_id"] == author
    assert [notice["action"] for notice in await moderation.notices("report", report_id)] == [
        "redact"]

    await moderation.restore(moderator, decision_id)
    assert (await reports.report(report_id))["description"] == PHONE_IN_TEXT
    assert await moderation.notices("report", report_id) == []
    assert (await failure(moderation.restore(moderator, decision_id))).code == "not_hidden"


async def test_hiding_takes_every_text_and_photo_away_until_undone(report_id: int) -> None:
    moderator = await make_moderator()
    assert len((await reports.report(report_id))["photos"]) == 1
    elsewhere = await regional_moderator("fergana", CHORTOQ)
    with pytest.raises(PermissionDenied):
        await moderation.hide(elsewhere, "report", report_id, "It insults a neighbour.")
    decision_id = await moderation.hide(moderator, "report", report_id,
                                        "It insults a neighbour by name.")
    hidden = await reports.report(report_id)
    assert (hidden["description"], hidden["location_text"]) == ("[…]", "[…]")
    assert hidden["photos"] == []
    item = await items.load("report", report_id)
    assert item is not None and item.photos[0]["hidden_at"] is not None
    await moderation.restore(moderator, decision_id)
    restored = await reports.report(report_id)
    assert restored["description"] == PHONE_IN_TEXT and len(restored["photos"]) == 1

    [photo_row] = restored["photos"]
    photo_decision = await moderation.hide_photo(moderator, report_id, photo_row["id"],
                                                 "A child's face is in the photo.")
    assert (await reports.report(report_id))["photos"] == []
    assert (await failure(moderation.hide_photo(moderator, report_id, photo_row["id"],
                                                "A child's face is in the photo."))).code == (
        "bad_photo")
    await moderation.restore(moderator, photo_decision)
    assert len((await reports.report(report_id))["photos"]) == 1


async def test_the_author_appeals_once_and_the_moderators_decide(report_id: int) -> None:
    author = (await reports.report(report_id))["author"]
    moderator = await make_moderator()
    decision_id = await moderation.redact(moderator, "report", report_id, "description",
                                          "90 123 45 67", "Phone numbers are kept private.")
    stranger = await make_resident("+998905550009")
    assert (await failure(moderation.appeal(stranger, decision_id, "Please look again."))
            ).code == "not_yours"
    assert (await failure(moderation.appeal(author, decision_id, "No"))).code == "bad_appeal"
    await moderation.appeal(author, decision_id, "It is the school's public number.")
    assert (await failure(moderation.appeal(author, decision_id, "Please look again now."))
            ).code == "already_appealed"
    [waiting] = await moderation.appeals(moderator)
    assert waiting["id"] == decision_id
    assert await moderation.appeals(await regional_moderator("fergana", CHORTOQ)) == []
    await moderation.decide_appeal(moderator, decision_id, reverse=True)
    assert (await reports.report(report_id))["description"] == PHONE_IN_TEXT
    assert await moderation.appeals(moderator) == []
    assert (await failure(moderation.decide_appeal(moderator, decision_id, reverse=False))
            ).code == "not_appealed"
    told = await OutboxMessage.select(OutboxMessage.template).where(
        OutboxMessage.recipient_id == author)
    assert "moderation.appeal_decided" in {row["template"] for row in told}


async def test_a_petition_is_redacted_and_unfounded_flags_dismissed(db: str) -> None:
    await load_demo_mahallas()
    home = (await beruniy_mahallas())[0]
    author = await make_verified(1, home)
    petition_id = await open_petition(author, await make_residents(5, home, first=100),
                                      await make_moderator("checker"), district_petition())
    moderator = await make_moderator()
    title = (await petitions.petition(petition_id))["title"]
    await moderation.redact(moderator, "petition", petition_id, "title", title.split()[0],
                            "The first word named a person.")
    changed = await petitions.petition(petition_id)
    assert changed["title"].startswith("[…] ") and "qishloqqa" not in changed["search_text"]
    # A petition not yet public is not anybody's to flag.
    draft_id = await petitions.create_draft(author, district_petition("Boshqa petitsiya matni"))
    assert (await failure(moderation.flag(author, "petition", draft_id, "spam"))).code == (
        "not_found")
    flagger = await make_resident("+998905550002")
    await moderation.flag(flagger, "petition", petition_id, "other", "Not sure.")
    await moderation.dismiss(moderator, "petition", petition_id)
    assert (await moderation.queue(moderator, None, 1, 20)).total == 0
    assert (await failure(moderation.dismiss(moderator, "petition", petition_id))).code == (
        "no_flags")
    # A dismissal is nothing to appeal against.
    dismissal = (await moderation.decisions_of("petition", petition_id))[0]
    assert (await failure(moderation.appeal(author, dismissal["id"], "Why was it kept?"))
            ).code == "not_yours"


async def test_a_proposal_is_hidden_and_its_search_follows(db: str) -> None:
    setup = await ballot_cycle((100_000_000,), phase="proposals")
    [proposal_id] = setup.proposals
    moderator = await make_moderator()
    await moderation.hide(moderator, "proposal", proposal_id, "It advertises a shop by name.")
    row = await planning.proposal(proposal_id)
    assert (row["title"], row["description"]) == ("[…]", "[…]")
    assert await planning.similar(setup.cycle_id, "Project number 0 of the district") == []
