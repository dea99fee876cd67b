"""The mahalla desk: registering a resident without a smartphone, confirming residence, the
desk's page of what is open in the mahalla, and a resident without a phone signing and voting
on paper by their Ovoz number."""

from __future__ import annotations

import re

import httpx
import pytest

from ovoz.accounts import desk
from ovoz.accounts import staff as staff_accounts
from ovoz.accounts.permissions import Grant, PermissionDenied, Role
from ovoz.accounts.sessions import Identity
from ovoz.accounts.tables import Resident, StaffAudit
from ovoz.ledger.tables import LedgerEntry
from ovoz.petitions import services as petitions
from ovoz.petitions.tables import Signature
from ovoz.planning import services as planning
from ovoz.planning.tables import Ballot
from ovoz.reports import services as reports
from tests.petitions.helpers import (
    beruniy_mahallas,
    district_petition,
    make_moderator,
    make_residents,
    make_verified,
    open_petition,
)
from tests.petitions.test_staff_web import as_staff, mahalla_staff, submit
from tests.planning.test_services import ballot_cycle
from tests.reports.helpers import BERUNIY, CHORTOQ, REGION_OF, draft, load_demo_mahallas


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")


def clerk(mahalla_id: int) -> Identity:
    """The desk staff member as the services see the actor: grants are what count."""
    return Identity(staff={"id": None}, staff_stage="full", grants=(mahalla_staff(mahalla_id),))


async def test_a_resident_without_a_phone_is_registered_with_residence_confirmed(
        db: str) -> None:
    await load_demo_mahallas()
    home, other = (await beruniy_mahallas())[:2]
    resident_id = await staff_accounts.register_resident(
        clerk(home), home, "  Karima   Yusupova ", household_text="90 111 22 33",
        language="ru")
    row = await desk.resident_at_desk(f"№{resident_id}", "who")
    assert (row["display_name"], row["phone"], row["household_contact"], row["language"],
            row["mahalla"]) == ("Karima Yusupova", None, "+998901112233", "ru", home)
    assert row["residence_confirmed_at"] is not None and row["phone_verified_at"] is None
    assert (await desk.resident_at_desk(str(resident_id), "who"))["id"] == resident_id
    [audit] = await StaffAudit.select().where(StaffAudit.action == "resident.registered")
    assert audit["subject"] == f"resident:{resident_id}" and "+998" not in audit["detail"]
    [entry] = await LedgerEntry.select().where(
        LedgerEntry.kind == "accounts.resident_registered")
    assert entry["subject"] == f"mahalla:{home}"

    with_phone = await staff_accounts.register_resident(clerk(home), home, "Aziz", "901234567")
    assert (await desk.resident_at_desk("+998 90 123 45 67", "who"))["id"] == with_phone
    for kwargs, field, code in (
            ({"display_name": "A"}, "display_name", "required"),
            ({"display_name": "Ali", "phone_text": "12345"}, "phone", "invalid"),
            ({"display_name": "Ali", "phone_text": "+998901234567"}, "phone", "taken"),
            ({"display_name": "Ali", "household_text": "abc"}, "household_contact",
             "invalid")):
        with pytest.raises(staff_accounts.StaffError) as refused:
            await staff_accounts.register_resident(clerk(home), home, **kwargs)
        assert (refused.value.field, refused.value.code) == (field, code)
    # Only the desk of the resident's own mahalla registers them.
    with pytest.raises(PermissionDenied):
        await staff_accounts.register_resident(clerk(other), home, "Ali")
    with pytest.raises(desk.AssistError):
        await desk.resident_at_desk("№99999", "who")
    assert await Resident.count() == 2


async def test_the_desk_registers_confirms_and_shows_what_is_open(
        client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    home = (await beruniy_mahallas())[0]
    assert (await client.get("/staff/desk")).headers["location"] == "/staff/signin"
    await as_staff(client, "official", Grant(Role.OFFICIAL, REGION_OF[BERUNIY], BERUNIY))
    assert (await client.get("/staff/desk")).status_code == 403

    waiting = await make_verified(7, home, residence=False)
    await Resident.update({Resident.display_name: "Olim Qodirov"}).where(
        Resident.id == waiting)
    author = await make_verified(1, home)
    report_id = await reports.create_report(author, draft(mahalla_id=home))
    petition_id = await open_petition(author, await make_residents(5, home, first=100),
                                      await make_moderator(), district_petition())
    await as_staff(client, "kotiba", mahalla_staff(home))
    assert 'href="/staff/desk"' in (await client.get("/staff")).text
    page = await client.get("/staff/desk")
    assert page.status_code == 200
    assert "Olim Qodirov" in page.text and "+998 90 *** ** 07" in page.text
    assert "+998901100007" not in page.text
    assert f'href="/reports/{report_id}"' in page.text
    assert f'href="/staff/petitions/{petition_id}/assist"' in page.text
    assert f'href="/petitions/{petition_id}/poster"' in page.text
    assert 'href="/staff/reports/assist"' in page.text

    confirmed = await submit(client, f"/staff/desk/residents/{waiting}/confirm")
    assert confirmed.headers["location"] == f"/staff/desk?mahalla={home}&done=confirmed"
    after = await client.get(confirmed.headers["location"])
    assert "The residence is confirmed." in after.text and "Olim Qodirov" not in after.text

    blank = await submit(client, "/staff/desk/residents/new", mahalla=str(home),
                         display_name=" ", phone="90 12", household_contact="")
    assert blank.status_code == 400 and 'href="#display_name"' in blank.text
    assert 'value="90 12"' in blank.text
    bad_phone = await submit(client, "/staff/desk/residents/new", mahalla=str(home),
                             display_name="Karima Yusupova", phone="90 12")
    assert bad_phone.status_code == 400 and 'href="#phone"' in bad_phone.text
    registered = await submit(client, "/staff/desk/residents/new", mahalla=str(home),
                              display_name="Karima Yusupova", phone="",
                              household_contact="93 555 44 33", language="uz")
    assert registered.status_code == 302
    resident_id = int(re.search(r"/residents/(\d+)", registered.headers["location"])[1])
    card = await client.get(registered.headers["location"])
    assert f"№{resident_id}" in card.text and "Karima Yusupova" in card.text
    assert "+998 93 *** ** 33" in card.text and "+998935554433" not in card.text
    # Another mahalla's desk does not see the card.
    await as_staff(client, "boshqa", mahalla_staff((await beruniy_mahallas())[1]))
    assert (await client.get(f"/staff/desk/residents/{resident_id}")).status_code == 404
    assert (await submit(client, f"/staff/desk/residents/{resident_id}/confirm")
            ).status_code == 404


async def test_a_resident_without_a_phone_signs_and_votes_on_paper_by_ovoz_number(
        client: httpx.AsyncClient) -> None:
    setup = await ballot_cycle((100_000_000, 200_000_000))
    home = setup.mahallas[0]
    author = await make_verified(1, home)
    petition_id = await open_petition(author, await make_residents(5, home, first=100),
                                      await make_moderator(), district_petition())
    resident_id = await staff_accounts.register_resident(clerk(home), home, "Bibi Xolova")
    await as_staff(client, "kotiba", mahalla_staff(home))

    signed = await submit(client, f"/staff/petitions/{petition_id}/assist/paper",
                          paper_phone=f"№{resident_id}", paper_form="QF-12")
    assert signed.status_code == 302, signed.text
    signature = await Signature.select().where(Signature.resident == resident_id).first()
    assert (signature["channel"], signature["paper_form"]) == ("assisted", "QF-12")
    assert await petitions.count(petition_id) == 1

    path = f"/staff/cycles/{setup.cycle_id}/assisted-ballot"
    choices = await submit(client, f"{path}/paper", paper_phone=str(resident_id),
                           paper_form="B-7")
    assert choices.status_code == 200, choices.text
    assert f'name="phone" value="№{resident_id}"' in choices.text and "Bibi Xolova" in choices.text
    cast = await submit(client, f"{path}/cast", consent="paper", phone=f"№{resident_id}",
                        paper_form="B-7", proposal_ids=str(setup.proposals[0]))
    assert cast.status_code == 302, cast.text
    recorded = await planning.ballot_of(resident_id, setup.cycle_id)
    assert recorded is not None and recorded.channel == "assisted"
    assert recorded.proposal_ids == (setup.proposals[0],)
    assert (await Ballot.select(Ballot.consent).where(Ballot.resident == resident_id).first()
            )["consent"] == "paper:B-7"
    assert "Bibi Xolova" in (await client.get(cast.headers["location"])).text
    # An SMS code cannot be sent to a resident without a phone.
    by_code = await submit(client, f"/staff/petitions/{petition_id}/assist/code",
                           phone=f"№{resident_id}")
    assert by_code.status_code == 400 and "Enter an Uzbek mobile number" in by_code.text
    # Another district's desk may not sign for them.
    await as_staff(client, "chortoq", Grant(Role.MAHALLA_STAFF, REGION_OF[CHORTOQ], CHORTOQ,
                                            await _chortoq_mahalla()))
    elsewhere = await submit(client, f"/staff/petitions/{petition_id}/assist/paper",
                             paper_phone=f"№{resident_id}", paper_form="QF-13")
    assert elsewhere.status_code == 403
    assert await Signature.count().where(Signature.resident == resident_id) == 1


async def _chortoq_mahalla() -> int:
    from ovoz.geo.tables import Mahalla

    row = await Mahalla.select(Mahalla.id).where(Mahalla.district == CHORTOQ).first()
    assert row is not None
    return int(row["id"])
