"""The staff pages of petitions: moderation, signatures far above their share and striking them
out, the official's answer, and signing for a resident at the mahalla office."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from ovoz.accounts import services as accounts
from ovoz.accounts import sessions
from ovoz.accounts.permissions import Grant, Role, StaffMember
from ovoz.accounts.tables import Resident, StaffAccount
from ovoz.i18n import locale
from ovoz.petitions import services
from ovoz.petitions.staff_controllers import waited
from ovoz.petitions.tables import Petition, Signature
from tests.conftest import last_code, sms_outbox
from tests.petitions.helpers import (
    district_petition,
    ledger_entries,
    make_residents,
    make_verified,
    petition_row,
    recipients,
    set_petition,
    to_moderation,
)
from tests.reports.helpers import BERUNIY, CHORTOQ, REGION_OF, jpeg, make_staff_account

KARAKALPAKSTAN = REGION_OF[BERUNIY]


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    """The assertions read the English pages, as a reader who chose English would see them."""
    client.cookies.set("lang", "en")


async def as_staff(client: httpx.AsyncClient, username: str, grant: Grant,
                   stage: str = sessions.STAFF_FULL) -> StaffMember:
    """The browser signed in as a new staff member holding one grant, with a CSRF cookie."""
    staff_id = await make_staff_account(username, grant)
    # A role grant ends the person's sessions, so the session starts at the current epoch.
    account = await StaffAccount.select(StaffAccount.session_epoch).where(
        StaffAccount.id == staff_id).first()
    client.cookies.set(sessions.COOKIE, await sessions.start(
        sessions.STAFF, staff_id, account["session_epoch"], stage))
    await client.get("/staff/signin")
    return StaffMember(staff_id, (grant,))


async def submit(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    return await client.post(path, data={"_csrf_token": client.cookies["csrftoken"], **fields})


async def answer(client: httpx.AsyncClient, path: str,
                 documents: list[tuple[str, bytes, str]] | None = None, **fields: str
                 ) -> httpx.Response:
    """The answer form is multipart (it carries documents); an empty file part keeps it so
    when none is attached, as a browser does."""
    files = [("attachments", document) for document in documents or []] or [
        ("attachments", ("", b"", "application/octet-stream"))]
    return await client.post(path, data={"_csrf_token": client.cookies["csrftoken"], **fields},
                             files=files)


async def in_moderation(author: int, backers: list[int]) -> int:
    petition_id = await services.create_draft(author, district_petition())
    await to_moderation(author, petition_id, backers)
    return petition_id


def mahalla_staff(mahalla_id: int) -> Grant:
    return Grant(Role.MAHALLA_STAFF, KARAKALPAKSTAN, BERUNIY, mahalla_id)


def phone_of(number: int) -> str:
    """The phone make_verified(number, ...) gives its resident."""
    return f"+9989011{number:05d}"


def test_the_wait_reads_in_hours_then_days() -> None:
    at = services.now()
    language = locale.current_language.set("en")
    try:
        assert waited(at - timedelta(minutes=59), at) == "less than an hour"
        assert waited(at - timedelta(hours=1), at) == "1 hour"
        assert waited(at - timedelta(hours=47, minutes=59), at) == "47 hours"
        assert waited(at - timedelta(hours=72), at) == "3 days"
        assert waited(None, at) == ""
    finally:
        locale.current_language.reset(language)


async def test_the_pages_need_staff_signed_in_with_a_role_for_petitions(
        client: httpx.AsyncClient, db: str) -> None:
    assert (await client.get("/staff/petitions")).headers["location"] == "/staff/signin"
    await as_staff(client, "halfway", Grant(Role.MODERATOR), stage=sessions.STAFF_PASSWORD_OK)
    halfway = await client.get("/staff/petitions/1")
    assert halfway.status_code == 302 and halfway.headers["location"] == "/staff/signin"
    await as_staff(client, "monitor", Grant(Role.NGO_MONITOR))
    assert (await client.get("/staff/petitions")).status_code == 403
    assert "/staff/petitions" not in (await client.get("/staff")).text
    await as_staff(client, "checker", Grant(Role.MODERATOR))
    assert 'href="/staff/petitions"' in (await client.get("/staff")).text
    assert (await client.get("/staff/petitions/999999")).status_code == 404


async def test_a_moderator_opens_a_petition_from_the_queue(
        client: httpx.AsyncClient, author: int, backers: list[int]) -> None:
    petition_id = await in_moderation(author, backers)
    await as_staff(client, "checker", Grant(Role.MODERATOR))
    queue = await client.get("/staff/petitions")
    assert queue.status_code == 200
    assert f'href="/staff/petitions/{petition_id}"' in queue.text
    assert "Waiting for less than an hour" in queue.text
    assert "1 petition is waiting to be checked." in queue.text
    page = await client.get(f"/staff/petitions/{petition_id}")
    assert page.status_code == 200
    assert "Open it for signatures" in page.text and "Insults to honour and dignity" in page.text
    assert "Sponsors</dt><dd>5" in page.text
    opened = await submit(client, f"/staff/petitions/{petition_id}/approve")
    assert opened.status_code == 302
    assert opened.headers["location"] == f"/staff/petitions/{petition_id}?done=opened"
    assert (await petition_row(petition_id))["status"] == services.OPEN
    assert author in await recipients("petition.opened")
    after = await client.get(opened.headers["location"])
    assert "The petition is open for signatures." in after.text
    # Once open it is no longer in the queue, and cannot be opened twice.
    assert "No petition in your area is waiting to be checked." in (
        await client.get("/staff/petitions")).text
    again = await submit(client, f"/staff/petitions/{petition_id}/approve")
    assert again.status_code == 400
    assert "This petition is no longer waiting to be checked." in again.text


async def test_a_moderator_refuses_a_petition_on_a_ground_in_law(
        client: httpx.AsyncClient, author: int, backers: list[int]) -> None:
    petition_id = await in_moderation(author, backers)
    await as_staff(client, "checker", Grant(Role.MODERATOR))
    path = f"/staff/petitions/{petition_id}/reject"
    no_reason = await submit(client, path, note="Matnda haqorat bor.")
    assert no_reason.status_code == 400
    assert 'href="#reason"' in no_reason.text
    assert "Choose the ground for refusing it." in no_reason.text
    assert "Matnda haqorat bor.</textarea>" in no_reason.text
    no_number = await submit(client, path, reason="duplicate", note="Xuddi shunday bor.")
    assert no_number.status_code == 400
    assert 'href="#duplicate_of"' in no_number.text
    assert 'value="duplicate" checked' in no_number.text
    itself = await submit(client, path, reason="duplicate", duplicate_of=f"№{petition_id}")
    assert itself.status_code == 400
    refused = await submit(client, path, reason="insult", note="Matnda haqorat bor.")
    assert refused.status_code == 302
    row = await petition_row(petition_id)
    assert row["status"] == services.REJECTED and row["rejection_reason"] == "insult"
    assert row["rejection_note"] == "Matnda haqorat bor."
    assert author in await recipients("petition.rejected")
    assert [e["payload"] for e in await ledger_entries("petitions.rejected", petition_id)] == [
        {"reason": "insult"}]
    page = await client.get(refused.headers["location"])
    assert "The petition was refused." in page.text
    assert "Refused because" in page.text and "Insults to honour and dignity" in page.text


async def test_a_moderator_of_another_region_cannot_see_or_decide_it(
        client: httpx.AsyncClient, author: int, backers: list[int]) -> None:
    petition_id = await in_moderation(author, backers)
    await as_staff(client, "namangan", Grant(Role.MODERATOR, REGION_OF[CHORTOQ]))
    queue = await client.get("/staff/petitions")
    assert queue.status_code == 200 and f"/staff/petitions/{petition_id}" not in queue.text
    assert (await client.get(f"/staff/petitions/{petition_id}")).status_code == 403
    assert (await submit(client, f"/staff/petitions/{petition_id}/approve")).status_code == 403
    refused = await submit(client, f"/staff/petitions/{petition_id}/reject", reason="insult")
    assert refused.status_code == 403
    assert (await petition_row(petition_id))["status"] == services.IN_MODERATION
    # The region's own moderator does see it.
    await as_staff(client, "nukus", Grant(Role.MODERATOR, KARAKALPAKSTAN))
    assert f"/staff/petitions/{petition_id}" in (await client.get("/staff/petitions")).text
    assert (await client.get(f"/staff/petitions/{petition_id}")).status_code == 200


async def test_signatures_far_above_their_share_are_struck_out_with_a_reason(
        client: httpx.AsyncClient, open_id: int, mahallas: list[int]) -> None:
    signers = await make_residents(31, mahallas[1], first=200)
    for n, signer in enumerate(signers):
        # Twenty-five from one address, the rest one each.
        address = "203.0.113.7" if n < 25 else f"198.51.100.{n}"
        await services.sign(open_id, signer, address=address)
    assert await services.count(open_id) == 31
    suspect = services.digest("203.0.113.7")
    await as_staff(client, "checker", Grant(Role.MODERATOR))
    listed = await client.get("/staff/petitions")
    assert f"/staff/petitions/{open_id}" in listed.text and "1 alert" in listed.text
    # With JavaScript, paging swaps only the list.
    swapped = await client.get("/staff/petitions", headers={"hx-request": "true",
                                                            "hx-target": "collecting"})
    assert swapped.text.startswith('<div id="collecting"') and "1 alert" in swapped.text
    page = await client.get(f"/staff/petitions/{open_id}")
    assert "One internet address" in page.text and f"{suspect[:8]}…" in page.text
    assert "25 signatures" in page.text and "Strike out 25 signatures" in page.text
    assert "203.0.113.7" not in page.text
    field = f"reason-address-{suspect}"
    path = f"/staff/petitions/{open_id}/invalidate"
    unexplained = await submit(client, path, kind="address", key=suspect, reason="  ")
    assert unexplained.status_code == 400
    assert f'href="#{field}"' in unexplained.text
    assert "Write the reason: it is kept on record." in unexplained.text
    struck = await submit(client, path, kind="address", key=suspect,
                          reason="25 signatures in four minutes from one address")
    assert struck.status_code == 302
    assert struck.headers["location"] == f"/staff/petitions/{open_id}?struck=25"
    assert await services.count(open_id) == 6
    assert await Signature.count().where((Signature.petition == open_id)
                                         & (Signature.valid == False)) == 25  # noqa: E712
    [entry] = await ledger_entries("petitions.signatures_invalidated", open_id)
    assert entry["payload"]["count"] == 25
    after = await client.get(struck.headers["location"])
    assert "25 signatures were struck out and the count corrected." in after.text
    assert "No address, device or mahalla is signing far above its share." in after.text
    assert "6 of 1,000 signatures" in after.text
    unknown = await submit(client, path, kind="phone", key="x", reason="why not")
    assert unknown.status_code == 400


async def test_an_official_answers_a_petition_that_reached_its_threshold(
        client: httpx.AsyncClient, open_id: int, mahallas: list[int]) -> None:
    await set_petition(open_id, threshold=2)
    signers = await make_residents(2, mahallas[0], first=300)
    for signer in signers:
        await services.sign(open_id, signer)
    row = await petition_row(open_id)
    assert row["status"] == services.THRESHOLD_REACHED
    await as_staff(client, "tumanchi", Grant(Role.OFFICIAL, REGION_OF[CHORTOQ], CHORTOQ))
    assert (await client.get(f"/staff/petitions/{open_id}")).status_code == 403
    official = await as_staff(client, "answerer",
                              Grant(Role.OFFICIAL, KARAKALPAKSTAN, BERUNIY))
    listed = await client.get("/staff/petitions")
    assert f"/staff/petitions/{open_id}" in listed.text
    assert "Answer by" in listed.text and ">Overdue<" not in listed.text
    await set_petition(open_id, response_due_at=services.now() - timedelta(days=1))
    assert ">Overdue<" in (await client.get("/staff/petitions")).text
    page = await client.get(f"/staff/petitions/{open_id}")
    assert page.status_code == 200 and "Publish the answer" in page.text
    assert 'name="official_name" maxlength="120" autocomplete="name" value="Answerer"' in page.text
    path = f"/staff/petitions/{open_id}/respond"
    undecided = await answer(client, path, text="Maktab 2027 yilda quriladi, joy ajratildi.",
                             official_name="Answerer", official_post="Hokim")
    assert undecided.status_code == 400 and 'href="#decision"' in undecided.text
    assert "Maktab 2027 yilda quriladi, joy ajratildi.</textarea>" in undecided.text
    unfinished = await answer(client, path, decision="accepted", text="Ha.",
                              official_name="Answerer", official_post=" ")
    assert unfinished.status_code == 400
    assert 'href="#text"' in unfinished.text and 'href="#official_post"' in unfinished.text
    assert 'value="accepted" checked' in unfinished.text
    not_a_document = await answer(client, path, [("notes.txt", b"hello", "text/plain")],
                                  decision="accepted",
                                  text="Maktab 2027 yilda quriladi, joy ajratildi.",
                                  official_name="Aziz Karimov", official_post="Tuman hokimi")
    assert not_a_document.status_code == 400 and 'href="#attachments"' in not_a_document.text
    decision_pdf = b"%PDF-1.4\n% the signed decision\n%%EOF\n"
    answered = await answer(client, path, [("qaror.pdf", decision_pdf, "application/pdf"),
                                           ("joy.jpg", jpeg(), "image/jpeg")],
                            decision="partly_accepted",
                            text="Maktab 2027 yilda quriladi, joy ajratildi.",
                            official_name="Aziz Karimov", official_post="Tuman hokimi")
    assert answered.status_code == 302
    response = await services.response(open_id)
    assert response is not None and response["decision"] == "partly_accepted"
    assert response["official_name"] == "Aziz Karimov"
    assert response["official_post"] == "Tuman hokimi" and response["staff"] == official.id
    assert (await petition_row(open_id))["status"] == services.RESPONDED
    assert set(signers) <= await recipients("petition.responded")
    shown = await client.get(answered.headers["location"])
    assert "The answer is published." in shown.text and "Partly accepted" in shown.text
    documents = await services.attachments(open_id)
    assert [d["filename"] for d in documents] == ["qaror.pdf", "joy.jpg"]
    assert f'href="/petitions/documents/{documents[0]["name"]}"' in shown.text
    published = await client.get(f"/petitions/documents/{documents[0]['name']}")
    assert published.status_code == 200 and published.content == decision_pdf
    assert published.headers["content-type"] == "application/pdf"
    photo = await client.get(f"/petitions/documents/{documents[1]['name']}")
    assert photo.headers["content-type"] == "image/jpeg"
    assert (await client.get("/petitions/documents/../../etc.pdf")).status_code == 404


async def test_a_resident_signs_at_the_mahalla_office_with_a_code_from_their_phone(
        client: httpx.AsyncClient, open_id: int, mahallas: list[int]) -> None:
    resident = await make_verified(400, mahallas[1], residence=False)
    phone = phone_of(400)
    staff = await as_staff(client, "oqsoqol", mahalla_staff(mahallas[1]))
    listed = await client.get("/staff/petitions")
    assert f'href="/staff/petitions/{open_id}/assist"' in listed.text
    form = await client.get(f"/staff/petitions/{open_id}/assist")
    assert form.status_code == 200 and "With a code sent to their phone" in form.text
    path = f"/staff/petitions/{open_id}/assist"
    nobody = await submit(client, f"{path}/code", phone="+998 90 999 88 77")
    assert nobody.status_code == 400 and "No resident has this phone or Ovoz number." in nobody.text
    assert "+998 90 999 88 77" in nobody.text
    malformed = await submit(client, f"{path}/code", phone="12")
    assert malformed.status_code == 400 and "Enter an Uzbek mobile number" in malformed.text
    sent = await submit(client, f"{path}/code", phone=phone)
    assert sent.status_code == 200, sent.text
    assert "+998 90 *** ** 00" in sent.text
    code = last_code(phone)
    text = sms_outbox()[-1]["text"]
    # In the resident's language (Uzbek here), naming the petition, and not a sign-in code.
    assert f"№{open_id} petitsiyani imzolash kodi {code}" in text
    assert "kirish" not in text.lower()
    # Read aloud at the desk, the code cannot sign anyone in to Ovoz.
    with pytest.raises(accounts.SignInError):
        await accounts.sign_in_with_code(phone, code, "198.51.100.1")
    wrong = await submit(client, f"{path}/confirm", phone=phone,
                         code=f"{(int(code) + 1) % 1_000_000:06d}")
    assert wrong.status_code == 400 and "The code is not right. 3 tries left." in wrong.text
    done = await submit(client, f"{path}/confirm", phone=phone, code=code)
    assert done.status_code == 302, done.text
    receipt_path = done.headers["location"]
    assert re.fullmatch(rf"/staff/petitions/{open_id}/receipts/\d+", receipt_path)
    receipt = await client.get(receipt_path)
    assert receipt.status_code == 200
    assert "Receipt for a signature" in receipt.text and "Assisted by" in receipt.text
    assert "Oqsoqol" in receipt.text and "+998 90 *** ** 00" in receipt.text
    assert phone not in receipt.text and "Paper form number" not in receipt.text
    assert "Qishloqqa yangi maktab qurilsin" in receipt.text
    signature = await Signature.select().where(Signature.resident == resident).first()
    assert signature["channel"] == "assisted" and signature["assisted_by"] == staff.id
    assert signature["mahalla"] == mahallas[1] and signature["paper_form"] == ""
    assert await services.count(open_id) == 1
    assert await services.by_mahalla(open_id) == [
        {"mahalla": mahallas[1], "signatures": 1, "assisted": 1}]
    # The code is used up, and the resident cannot be signed for twice.
    reused = await submit(client, f"{path}/confirm", phone=phone, code=code)
    assert reused.status_code == 400
    again = await submit(client, f"{path}/code", phone=phone)
    assert again.status_code == 400 and "already signed this petition" in again.text
    # Staff of another mahalla cannot print the receipt.
    await as_staff(client, "qoshni", mahalla_staff(mahallas[2]))
    assert (await client.get(receipt_path)).status_code == 403


async def test_a_resident_signs_on_a_paper_form_with_residence_confirmed_at_the_desk(
        client: httpx.AsyncClient, open_id: int, mahallas: list[int]) -> None:
    resident = await make_verified(401, mahallas[1], residence=False)
    web_signer = await make_verified(402, mahallas[1])
    await services.sign(open_id, web_signer)
    staff = await as_staff(client, "oqsoqol", mahalla_staff(mahallas[1]))
    path = f"/staff/petitions/{open_id}/assist/paper"
    numberless = await submit(client, path, paper_phone=phone_of(401), paper_form=" ")
    assert numberless.status_code == 400 and 'href="#paper_form"' in numberless.text
    unchecked = await submit(client, path, paper_phone=phone_of(401), paper_form="QF-0042")
    assert unchecked.status_code == 400 and 'href="#residence_checked"' in unchecked.text
    assert 'value="QF-0042"' in unchecked.text
    assert await Signature.count().where(Signature.resident == resident) == 0
    done = await submit(client, path, paper_phone=phone_of(401), paper_form="QF-0042",
                        residence_checked="yes")
    assert done.status_code == 302, done.text
    receipt = await client.get(done.headers["location"])
    assert "Paper form number" in receipt.text and "QF-0042" in receipt.text
    assert "Assisted by" in receipt.text and phone_of(401) not in receipt.text
    row = await Resident.select().where(Resident.id == resident).first()
    assert row["residence_confirmed_at"] is not None
    assert row["residence_confirmed_by"] == staff.id
    signature = await Signature.select().where(Signature.resident == resident).first()
    assert signature["channel"] == "assisted" and signature["paper_form"] == "QF-0042"
    # Counted like any other signature, and listed apart in the statistics.
    assert await services.count(open_id) == 2
    assert await services.by_mahalla(open_id) == [
        {"mahalla": mahallas[1], "signatures": 2, "assisted": 1}]
    # No SMS is sent for a paper form.
    assert not [m for m in sms_outbox() if m["to"] == phone_of(401)]


async def test_staff_cannot_sign_for_a_resident_of_another_mahalla(
        client: httpx.AsyncClient, open_id: int, mahallas: list[int]) -> None:
    neighbour = await make_verified(403, mahallas[2], residence=False)
    await as_staff(client, "oqsoqol", mahalla_staff(mahallas[1]))
    path = f"/staff/petitions/{open_id}/assist"
    by_code = await submit(client, f"{path}/code", phone=phone_of(403))
    assert by_code.status_code == 403
    assert "This resident lives in another mahalla." in by_code.text
    assert not [m for m in sms_outbox() if m["to"] == phone_of(403)]
    by_paper = await submit(client, f"{path}/paper", paper_phone=phone_of(403),
                            paper_form="QF-7", residence_checked="yes")
    assert by_paper.status_code == 403
    row = await Resident.select().where(Resident.id == neighbour).first()
    assert row["residence_confirmed_at"] is None
    assert await Signature.count().where(Signature.petition == open_id) == 0
    # Nor sign on a petition that is not collecting signatures.
    await Petition.update({Petition.status: services.EXPIRED}).where(Petition.id == open_id)
    closed = await client.get(path)
    assert closed.status_code == 200
    assert "This petition is not collecting signatures." in closed.text
    assert f'action="/staff/petitions/{open_id}/assist/code"' not in closed.text
