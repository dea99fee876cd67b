"""Blocking a resident for abuse: signed out and kept out, their pending items hidden with the
block's reason, everything put back when the block is lifted."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from ovoz.accounts import services as accounts
from ovoz.accounts import sessions
from ovoz.accounts.permissions import Grant, PermissionDenied, Role, StaffMember
from ovoz.accounts.sms import ConsoleGateway
from ovoz.accounts.tables import Resident
from ovoz.ledger.tables import LedgerEntry
from ovoz.moderation import services as moderation
from ovoz.moderation.services import REMOVED
from ovoz.moderation.tables import Block
from ovoz.notify.tables import OutboxMessage
from ovoz.planning import services as planning
from ovoz.reports import services as reports
from tests.moderation.test_services import failure
from tests.petitions.helpers import make_moderator, make_residents, open_petition
from tests.petitions.test_staff_web import as_staff, submit
from tests.planning.helpers import make_voter
from tests.planning.test_results import voted
from tests.planning.test_services import ballot_cycle, phone
from tests.reports.helpers import BERUNIY, CHORTOQ, REGION_OF, draft, make_official
from tests.reports.test_web import signed_in_resident

REASON = "Posting the same advertisement again and again."


async def texts(kind: str, ref: int) -> dict[str, str]:
    item = await moderation.items.load(kind, ref)
    assert item is not None
    return dict(item.fields)


async def test_a_block_hides_pending_items_keeps_the_author_out_and_is_lifted(
        db: str, tmp_path: Path) -> None:
    setup = await ballot_cycle((100_000_000,), phase="proposals")
    [proposal_id] = setup.proposals
    troll = setup.author
    moderator = await make_moderator()
    waiting = await reports.create_report(troll, draft(description="Cheap cement at my shop"))
    taken_up = await reports.create_report(troll, draft(description="The road is broken."))
    await reports.acknowledge_many(await make_official(), [taken_up], "We have it.")
    petition_id = await open_petition(
        troll, await make_residents(5, setup.mahallas[0], 900), moderator)
    token, _ = await accounts.issue_api_token(troll)
    session = await sessions.start(sessions.RESIDENT, troll,
                                   (await accounts.resident(troll) or {})["session_epoch"])
    before = {kind: await texts(kind, ref) for kind, ref in (
        ("report", waiting), ("petition", petition_id), ("proposal", proposal_id))}

    block_id = await moderation.block(moderator, troll, REASON)

    for kind, ref in (("report", waiting), ("petition", petition_id),
                      ("proposal", proposal_id)):
        assert set((await texts(kind, ref)).values()) == {REMOVED}, kind
    assert (await texts("report", taken_up))["description"] == "The road is broken."
    assert (await sessions.identify(session)).resident is None
    assert await accounts.resident_for_token(token) is None
    resident = await accounts.resident(troll)
    assert resident is not None and resident["blocked_at"] is not None
    gateway = ConsoleGateway(tmp_path / "sms.jsonl")
    with pytest.raises(accounts.SignInError) as refused:
        await accounts.send_sign_in_code(resident["phone"], "10.0.0.1", gateway)
    assert refused.value.code == "blocked"
    [message] = await OutboxMessage.select().where(
        OutboxMessage.template == "moderation.blocked")
    assert (message["channel"], message["recipient_id"]) == ("sms", troll)
    # One message for the block, none for each hidden item.
    assert await OutboxMessage.count().where(
        OutboxMessage.template == "moderation.decided") == 0
    [entry] = await LedgerEntry.select().where(LedgerEntry.kind == "moderation.blocked")
    assert entry["subject"] == f"block:{block_id}"
    assert json.loads(entry["payload"])["items_hidden"] == 3
    assert [row["id"] for row in await moderation.blocks(moderator)] == [block_id]
    assert (await failure(moderation.block(moderator, troll, REASON))).code == "already_blocked"

    await moderation.lift_block(moderator, block_id)

    for kind, ref in (("report", waiting), ("petition", petition_id),
                      ("proposal", proposal_id)):
        assert await texts(kind, ref) == before[kind], kind
    lifted = await accounts.resident(troll)
    assert lifted is not None and lifted["blocked_at"] is None
    await accounts.send_sign_in_code(lifted["phone"], "10.0.0.1", gateway)
    assert await moderation.blocks(moderator) == []
    assert (await failure(moderation.lift_block(moderator, block_id))).code == "not_blocked"
    assert await LedgerEntry.count().where(LedgerEntry.kind == "moderation.block_lifted") == 1


async def test_a_block_hides_every_comment_but_not_another_moderators_later_decision(
        db: str) -> None:
    setup = await voted()
    dear = setup.proposals[0]
    troll = await make_voter(phone(60), setup.mahallas[2])
    await planning.comment(troll, dear, "Visit my shop for the best prices in town.")
    [comment_id] = await planning.comments_of(troll)
    moderator = await make_moderator()
    block_id = await moderation.block(moderator, troll, REASON)
    assert (await texts("comment", comment_id))["text"] == REMOVED
    # Restored by hand before the block is lifted: lifting it changes nothing more.
    [decision] = await moderation.decisions_of("comment", comment_id)
    await moderation.restore(moderator, decision["id"])
    await moderation.lift_block(moderator, block_id)
    assert (await texts("comment", comment_id))["text"] == (
        "Visit my shop for the best prices in town.")


async def test_only_moderators_of_the_residents_home_region_block(db: str) -> None:
    setup = await ballot_cycle((100_000_000,), phase="proposals")
    elsewhere_grant = Grant(Role.MODERATOR, REGION_OF[CHORTOQ])
    elsewhere = StaffMember(
        (await make_moderator("elsewhere")).id, (elsewhere_grant,))
    with pytest.raises(PermissionDenied):
        await moderation.block(elsewhere, setup.author, REASON)
    here = StaffMember((await make_moderator("here")).id,
                       (Grant(Role.MODERATOR, REGION_OF[BERUNIY]),))
    await moderation.block(here, setup.author, REASON)
    assert await moderation.blocks(elsewhere) == []
    assert (await failure(moderation.block(here, setup.author, "short"))).code == (
        "bad_public_reason")
    assert (await failure(moderation.block(here, 999_999, REASON))).code == "not_found"


async def test_a_moderator_blocks_the_author_from_the_item_page_and_lifts_it(
        client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")
    author = await signed_in_resident(client, "+998901110000", "Aziz")
    report_id = await reports.create_report(author, draft(description="Cheap cement, call me."))
    await as_staff(client, "moderator", Grant(Role.MODERATOR))
    item_path = f"/staff/moderation/report/{report_id}"
    page = await client.get(item_path)
    assert f'action="{item_path}/block"' in page.text
    refused = await submit(client, f"{item_path}/block", block_reason="spam")
    assert refused.status_code == 400 and 'href="#block_reason"' in refused.text
    done = await submit(client, f"{item_path}/block", block_reason=REASON)
    assert done.headers["location"] == f"{item_path}?done=block"
    shown = await client.get(done.headers["location"])
    assert "The author is blocked and their pending items are hidden." in shown.text
    assert "The author has been blocked since" in shown.text
    assert (await reports.report(report_id) or {})["description"] == REMOVED
    listing = await client.get("/staff/moderation/blocks")
    assert "Aziz" in listing.text and REASON in listing.text
    [block] = await Block.select()
    lifted = await submit(client, f"/staff/moderation/blocks/{block['id']}/lift")
    assert lifted.headers["location"] == "/staff/moderation/blocks?done=lifted"
    assert "Nobody is blocked." in (await client.get(lifted.headers["location"])).text
    assert (await reports.report(report_id) or {})["description"] == "Cheap cement, call me."
    assert (await Resident.select(Resident.blocked_at).where(Resident.id == author).first()
            ) == {"blocked_at": None}
    missing = await submit(client, f"/staff/moderation/blocks/{block['id']}/lift")
    assert missing.status_code == 404


async def test_a_blocked_resident_is_told_why_at_sign_in(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")
    author = await signed_in_resident(client, "+998901110000", "Aziz")
    await moderation.block(await make_moderator(), author, REASON)
    assert (await client.get("/profile")).status_code in (302, 303)
    refused = await submit(client, "/signin", phone="90 111 00 00")
    assert refused.status_code == 400
    assert "This account is blocked by the moderators." in refused.text
