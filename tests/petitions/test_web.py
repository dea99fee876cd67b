"""The residents' petition pages, without JavaScript: starting a petition, sponsors through the
shared link, signing and its refusals, the answer, the list with its filters and search, the
poster, and the author's page."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from ovoz.accounts import sessions
from ovoz.accounts.permissions import StaffMember
from ovoz.accounts.tables import Resident
from ovoz.geo.tables import Mahalla
from ovoz.petitions import services
from ovoz.petitions.tables import Petition, Signature
from tests.petitions.helpers import (
    district_petition,
    mahalla_petition,
    make_district_official,
    make_moderator,
    make_residents,
    make_verified,
    open_petition,
    petition_row,
    set_petition,
)
from tests.reports.helpers import BERUNIY, CHORTOQ

TEXT = ("Bizning qishloqda maktab yo‘q, bolalar har kuni besh kilometr yurib boradi. "
        "Tuman hokimligidan yangi maktab qurishni so‘raymiz.")


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    """The assertions read the English pages, as a reader who chose English would see them."""
    client.cookies.set("lang", "en")


async def as_resident(client: httpx.AsyncClient, resident_id: int) -> None:
    """The browser signed in as this resident, with a CSRF cookie from a first page."""
    client.cookies.set(sessions.COOKIE, await sessions.start(sessions.RESIDENT, resident_id, 0))
    await client.get("/petitions")


async def submit(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    return await client.post(path, data={"_csrf_token": client.cookies["csrftoken"], **fields})


def petition_id_of(location: str) -> int:
    found = re.fullmatch(r"/petitions/(\d+)/manage", location)
    assert found, location
    return int(found[1])


async def chortoq_mahalla() -> int:
    row = await Mahalla.select(Mahalla.id).where(Mahalla.district == CHORTOQ).first()
    return row["id"]


async def test_a_petition_goes_from_draft_to_answer_in_the_browser(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    author = await make_verified(1, mahallas[0])
    await as_resident(client, author)
    form = await client.get("/petitions/new")
    assert form.status_code == 200
    assert "District hokimiyat: Beruni district" in form.text
    created = await submit(client, "/petitions/new", title="Qishloqqa yangi maktab qurilsin",
                           text=TEXT, topic="education", level="district_hokimiyat")
    assert created.status_code == 302, created.text
    petition_id = petition_id_of(created.headers["location"])
    draft = await client.get(created.headers["location"])
    assert "Look for sponsors" in draft.text
    assert f'action="/petitions/{petition_id}/edit"' in draft.text
    # Until it opens, only its author sees it.
    assert (await client.get(f"/petitions/{petition_id}")).status_code == 200
    assert (await submit(client, f"/petitions/{petition_id}/seek-sponsors")).status_code == 302
    seeking = await client.get(f"/petitions/{petition_id}/manage")
    assert "0 of 5 sponsors so far" in seeking.text and "Change the text" not in seeking.text
    code = re.search(r"/petitions/sponsor/([A-Za-z0-9_-]+)", seeking.text)
    assert code is not None
    sponsor_path = f"/petitions/sponsor/{code[1]}"
    own = await client.get(sponsor_path)
    assert "This is your own petition" in own.text and "Sponsor this petition" not in own.text

    neighbours = await make_residents(5, mahallas[1], first=10)
    for number, neighbour in enumerate(neighbours):
        await as_resident(client, neighbour)
        if number == 0:
            assert (await client.get(f"/petitions/{petition_id}")).status_code == 404
            assert (await client.get(f"/petitions/{petition_id}/manage")).status_code == 404
            assert (await submit(client, f"/petitions/{petition_id}/sign")).status_code == 404
        shown = await client.get(sponsor_path)
        assert shown.status_code == 200 and "Sponsor this petition" in shown.text
        assert "Qishloqqa yangi maktab qurilsin" in shown.text
        sponsored = await submit(client, sponsor_path)
        assert sponsored.status_code == 302
        if number == 0:
            again = await submit(client, sponsor_path)
            assert again.status_code == 409
            assert "You have already sponsored this petition." in again.text
    assert sponsored.headers["location"] == f"{sponsor_path}?done=moderation"
    thanked = await client.get(sponsored.headers["location"])
    assert "goes to the moderators" in thanked.text
    assert (await petition_row(petition_id))["status"] == "in_moderation"

    await services.moderate(await make_moderator(), petition_id, True)
    listing = await client.get("/petitions")
    assert f'href="/petitions/{petition_id}"' in listing.text
    assert "0 / 1,000 signatures, 90 days left" in listing.text

    signer = await make_verified(20, mahallas[2], residence=False)
    await as_resident(client, signer)
    page = await client.get(f"/petitions/{petition_id}")
    assert f'action="/petitions/{petition_id}/sign"' in page.text
    # The browser keeps a device id from its first petition page, for spotting mass signing.
    device = client.cookies["ovoz_device"]
    signed = await submit(client, f"/petitions/{petition_id}/sign")
    assert signed.status_code == 302
    assert signed.headers["location"] == f"/petitions/{petition_id}?signed=1"
    thanked = await client.get(signed.headers["location"])
    assert "Thank you, your signature is counted" in thanked.text
    assert "1 / 1,000 signatures" in thanked.text and "Withdraw my signature" in thanked.text
    stored = await Signature.select().where(Signature.resident == signer).first()
    assert stored["device_digest"] == services.digest(device) and stored["address_digest"]

    twice = await submit(client, f"/petitions/{petition_id}/sign")
    assert twice.status_code == 409
    assert "You have already signed" in twice.text
    assert f'href="/petitions/{petition_id}"' in twice.text
    assert await services.count(petition_id) == 1

    outsider = await make_verified(30, await chortoq_mahalla())
    await as_resident(client, outsider)
    offered = await client.get(f"/petitions/{petition_id}")
    assert "This petition is for residents of Beruni district" in offered.text
    assert f'action="/petitions/{petition_id}/sign"' not in offered.text
    refused = await submit(client, f"/petitions/{petition_id}/sign")
    assert refused.status_code == 403
    assert "This petition is for residents of Beruni district." in refused.text

    await Petition.update({Petition.threshold: 2}).where(Petition.id == petition_id)
    last = await make_verified(21, mahallas[0])
    await as_resident(client, last)
    assert (await submit(client, f"/petitions/{petition_id}/sign")).status_code == 302
    reached = await client.get(f"/petitions/{petition_id}")
    assert "Waiting for the answer" in reached.text and "2 / 2 signatures" in reached.text
    assert "Answer due by" in reached.text
    # Once the threshold is reached a signature stays.
    assert "Withdraw my signature" not in reached.text
    kept = await submit(client, f"/petitions/{petition_id}/unsign")
    assert kept.status_code == 409
    assert "can be withdrawn only until the petition has enough signatures" in kept.text

    await services.respond(await make_district_official(), petition_id, "partly_accepted",
                           "Maktab loyihasi 2027-yil byudjetiga kiritildi.", "Aziz Karimov",
                           "Beruniy tumani hokimining o‘rinbosari",
                           [services.Upload("qaror.pdf", b"%PDF-1.4\n% the decision\n")])
    answered = await client.get(f"/petitions/{petition_id}")
    assert "The answer" in answered.text and "Partly accepted" in answered.text
    assert "Maktab loyihasi 2027-yil byudjetiga kiritildi." in answered.text
    assert "Aziz Karimov, Beruniy tumani hokimining o‘rinbosari" in answered.text
    document = re.search(r'<a href="(/petitions/documents/[0-9a-f]{32}\.pdf)">qaror\.pdf</a>',
                         answered.text)
    assert document is not None
    assert (await client.get(document[1])).content.startswith(b"%PDF-1.4")
    assert "Signatures by mahalla" in answered.text
    names = await Mahalla.select(Mahalla.name_uz).where(
        Mahalla.id.is_in([mahallas[0], mahallas[2]])).output(as_list=True)
    for name in names:
        assert f'<th scope="row">{name}</th>' in answered.text
    # The same tally drawn on the map: a point per mahalla with a known centre.
    points = re.search(r'id="signature-map"[^>]* data-points="([^"]+)"', answered.text)
    assert points is not None and "leaflet.js" in answered.text
    drawn = json.loads(html.unescape(points[1]))
    assert {p["name"] for p in drawn} == set(names)
    assert sum(p["signatures"] for p in drawn) == await services.count(petition_id)
    assert "+99890" not in answered.text and "Fuqaro" not in answered.text


async def test_the_list_filters_and_finds_either_script_and_any_apostrophe(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    author = await make_verified(1, mahallas[0])
    backers = await make_residents(5, mahallas[0], first=10)
    moderator = await make_moderator()
    school = await open_petition(author, backers, moderator)
    road = await open_petition(author, backers, moderator, replace(
        district_petition("Yo‘l ta’mirlansin, chuqurlar ko‘p"), topic="roads",
        text="Qishloq yo‘li buzilgan, mashinalar o‘tolmaydi. Tuman hokimligidan yo‘lni "
             "ta’mirlashni so‘raymiz."))
    light = await open_petition(author, backers, moderator, mahalla_petition(mahallas[0]))
    await set_petition(light, status="expired")
    for petition_id, hours in ((school, 5), (road, 5), (light, 3)):
        await set_petition(petition_id, moderated_at=services.now(),
                           moderation_requested_at=services.now() - timedelta(hours=hours))
    checking = await services.create_draft(author, district_petition("Ko‘prik quring, iltimos"))
    await set_petition(checking, status="in_moderation",
                       moderation_requested_at=services.now())

    async def titles(query: str, **headers: str) -> list[str]:
        found = await client.get(f"/petitions?{query}", headers=headers)
        assert found.status_code == 200
        return re.findall(r'<a href="/petitions/(\d+)">', found.text)

    everything = await client.get("/petitions")
    assert "1 petition is being checked by the moderators now." in everything.text
    assert "half of the petitions were checked within 5 hours" in everything.text
    assert "Ko‘prik" not in everything.text
    assert set(await titles("")) == {str(school), str(road), str(light)}
    assert await titles("q=мактаб") == [str(school)]
    assert await titles("q=МАКТАБ+қурилсин") == [str(school)]
    assert await titles("q=yo'l") == [str(road)]
    assert await titles("q=йўл") == [str(road)]
    assert await titles("q=ko%60p") == [str(road)]
    assert await titles("topic=roads") == [str(road)]
    assert await titles("level=mahalla") == [str(light)]
    assert await titles("status=expired") == [str(light)]
    assert await titles("status=draft") == await titles("")
    assert await titles(f"district={BERUNIY}") != []
    assert await titles(f"district={CHORTOQ}") == []
    mahalla_name = (await Mahalla.select(Mahalla.name_uz).where(Mahalla.id == mahallas[0])
                    .first())["name_uz"]
    assert f"Mahalla citizens&#39; assembly · {mahalla_name}, Beruni district" in \
        everything.text

    swapped = await client.get("/petitions?topic=roads",
                               headers={"HX-Request": "true", "HX-Target": "petitions"})
    assert swapped.text.lstrip().startswith('<div id="petitions"')
    assert "<html" not in swapped.text and f'href="/petitions/{road}"' in swapped.text
    assert "HX-Request" in swapped.headers["vary"]


async def test_the_poster_has_the_link_and_its_qr_code(
        client: httpx.AsyncClient, open_id: int, draft_id: int) -> None:
    poster = await client.get(f"/petitions/{open_id}/poster")
    assert poster.status_code == 200
    link = services.link(open_id)
    assert link in poster.text and "Qishloqqa yangi maktab qurilsin" in poster.text
    svg = re.search(r'<svg[^>]*class="poster-qr"[^>]*>.*?</svg>', poster.text, re.S)
    assert svg is not None and "<path" in svg[0]
    assert "District hokimiyat, Beruni district" in poster.text
    assert (await client.get(f"/petitions/{draft_id}/poster")).status_code == 404
    css = await client.get("/static/css/ovoz.css")
    assert "@page" in css.text and "A4" in css.text


async def test_a_signer_withdraws_their_signature_while_it_collects(
        client: httpx.AsyncClient, mahallas: list[int], open_id: int) -> None:
    signer = await make_verified(40, mahallas[0])
    await as_resident(client, signer)
    not_yet = await submit(client, f"/petitions/{open_id}/unsign")
    assert not_yet.status_code == 409 and "You have not signed this petition." in not_yet.text
    signed = await submit(client, f"/petitions/{open_id}/sign")
    assert signed.status_code == 302
    # Signing without a device id yet gives the browser one.
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", signed.cookies["ovoz_device"])
    withdrawn = await submit(client, f"/petitions/{open_id}/unsign")
    assert withdrawn.headers["location"] == f"/petitions/{open_id}?withdrawn=1"
    page = await client.get(withdrawn.headers["location"])
    assert "Your signature has been withdrawn." in page.text
    assert "0 / 1,000 signatures" in page.text
    assert f'action="/petitions/{open_id}/sign"' in page.text
    assert await services.count(open_id) == 0


async def test_signing_refusals_are_explained(
        client: httpx.AsyncClient, mahallas: list[int], open_id: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    await client.get("/petitions")
    signed_out = await submit(client, f"/petitions/{open_id}/sign")
    assert signed_out.headers["location"] == f"/signin?next=/petitions/{open_id}"
    homeless = await make_verified(41, mahallas[0])
    await Resident.update({Resident.mahalla: None}).where(Resident.id == homeless)
    await as_resident(client, homeless)
    refused = await submit(client, f"/petitions/{open_id}/sign")
    assert refused.status_code == 403
    assert "Your profile has no home mahalla." in refused.text and 'href="/profile"' in refused.text

    unconfirmed = await make_verified(42, mahallas[0])
    await Resident.update({Resident.phone_verified_at: None,
                           Resident.residence_confirmed_at: None}).where(
        Resident.id == unconfirmed)
    await as_resident(client, unconfirmed)
    refused = await submit(client, f"/petitions/{open_id}/sign")
    assert refused.status_code == 403 and "Your phone number is not confirmed." in refused.text

    monkeypatch.setattr(services, "SIGNATURES_PER_ACCOUNT", 0)
    busy = await make_verified(43, mahallas[0])
    await as_resident(client, busy)
    limited = await submit(client, f"/petitions/{open_id}/sign")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert "Please try again in" in limited.text
    assert (await submit(client, "/petitions/999999/sign")).status_code == 404


async def test_the_new_petition_form_keeps_what_was_typed(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    assert (await client.get("/petitions/new")).headers["location"] == \
        "/signin?next=/petitions/new"
    author = await make_verified(1, mahallas[0])
    await as_resident(client, author)
    refused = await submit(client, "/petitions/new", title="Maktab", text=TEXT, topic="",
                           level="mahalla")
    assert refused.status_code == 400
    assert 'href="#title"' in refused.text and 'href="#topic"' in refused.text
    assert 'href="#text"' not in refused.text
    assert 'value="Maktab"' in refused.text and "bolalar har kuni besh kilometr" in refused.text
    assert 'value="mahalla" checked' in refused.text
    assert "Give the petition a title of 10 to 150 letters." in refused.text
    assert await Petition.count() == 0

    typed = await submit(client, "/petitions/new", title="Guzarga chiroq o‘rnatilsin",
                         text=TEXT, topic="energy", level="mahalla")
    row = await petition_row(petition_id_of(typed.headers["location"]))
    assert (row["level"], row["mahalla"], row["district"]) == ("mahalla", mahallas[0], BERUNIY)


async def test_residents_who_may_not_start_one_are_told_what_to_do(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    unconfirmed = await make_verified(2, mahallas[0], residence=False)
    await as_resident(client, unconfirmed)
    page = await client.get("/petitions/new")
    assert "Ask your mahalla office to confirm your residence" in page.text
    assert 'href="/profile"' in page.text and 'name="title"' not in page.text
    refused = await submit(client, "/petitions/new", title="Qishloqqa yangi maktab qurilsin",
                           text=TEXT, topic="education", level="district_hokimiyat")
    assert refused.status_code == 400 and "Your residence is not confirmed yet." in refused.text

    homeless = await make_verified(3, mahallas[0])
    await Resident.update({Resident.mahalla: None}).where(Resident.id == homeless)
    await as_resident(client, homeless)
    page = await client.get("/petitions/new")
    assert "Choose your home mahalla" in page.text and 'name="title"' not in page.text


async def test_the_author_reads_the_rejection_edits_resubmits_and_withdraws(
        client: httpx.AsyncClient, author: int, backers: list[int], draft_id: int,
        moderator: StaffMember) -> None:
    await services.seek_sponsors(author, draft_id)
    for backer in backers:
        await services.sponsor(draft_id, backer)
    await services.moderate(moderator, draft_id, False, "competence",
                            "Maktab qurish viloyat vakolatida.")
    await as_resident(client, author)
    mine = await client.get("/petitions/mine")
    assert f'href="/petitions/{draft_id}/manage"' in mine.text and "Rejected" in mine.text
    page = await client.get(f"/petitions/{draft_id}/manage")
    assert "Outside the addressee&#39;s competence" in page.text
    assert "Maktab qurish viloyat vakolatida." in page.text
    assert "Send it back for checking" in page.text

    bad = await submit(client, f"/petitions/{draft_id}/edit", title="Maktab qurilsin, iltimos",
                       text="Juda qisqa", topic="education", level="regional_hokimiyat")
    assert bad.status_code == 400 and 'href="#text"' in bad.text
    assert 'value="Maktab qurilsin, iltimos"' in bad.text
    edited = await submit(client, f"/petitions/{draft_id}/edit",
                          title="Maktab qurilsin, iltimos", text=TEXT, topic="education",
                          level="regional_hokimiyat")
    assert edited.headers["location"] == f"/petitions/{draft_id}/manage?saved=1"
    row = await petition_row(draft_id)
    assert (row["level"], row["district"], row["region"]) == ("regional_hokimiyat", None, 1)
    assert (await submit(client, f"/petitions/{draft_id}/resubmit")).status_code == 302
    assert (await petition_row(draft_id))["status"] == "in_moderation"
    again = await submit(client, f"/petitions/{draft_id}/resubmit")
    assert again.status_code == 409 and "can no longer be changed" in again.text

    withdrawn = await submit(client, f"/petitions/{draft_id}/withdraw")
    assert withdrawn.status_code == 302
    assert (await petition_row(draft_id))["status"] == "withdrawn"
    page = await client.get(f"/petitions/{draft_id}/manage")
    assert "Withdrawn" in page.text and "Withdraw the petition" not in page.text


async def test_sponsoring_refusals_are_explained(
        client: httpx.AsyncClient, mahallas: list[int], author: int, draft_id: int) -> None:
    await services.seek_sponsors(author, draft_id)
    row = await petition_row(draft_id)
    path = f"/petitions/sponsor/{row['sponsor_code']}"
    signed_out = await client.get(path)
    assert f'href="/signin?next={path}"' in signed_out.text
    unconfirmed = await make_verified(50, mahallas[0], residence=False)
    await as_resident(client, unconfirmed)
    refused = await submit(client, path)
    assert refused.status_code == 403 and "Your residence is not confirmed yet." in refused.text
    outsider = await make_verified(51, await chortoq_mahalla())
    await as_resident(client, outsider)
    refused = await submit(client, path)
    assert refused.status_code == 403
    assert "This petition is for residents of Beruni district." in refused.text
    await services.withdraw(author, draft_id)
    late = await client.get(path)
    assert "This petition is no longer looking for sponsors." in late.text
    assert "Sponsor this petition" not in late.text
    assert (await client.get("/petitions/sponsor/nothing-here")).status_code == 404


async def test_signed_out_visitors_are_sent_to_sign_in(
        client: httpx.AsyncClient, draft_id: int, open_id: int) -> None:
    await client.get("/petitions")
    for path in ("/petitions/mine", f"/petitions/{draft_id}/manage"):
        sent = await client.get(path)
        assert sent.headers["location"] == f"/signin?next={path}"
    create = await submit(client, "/petitions/new", title="Qishloqqa yangi maktab qurilsin")
    assert create.headers["location"] == "/signin?next=/petitions/new"
    unsign = await submit(client, f"/petitions/{open_id}/unsign")
    assert unsign.headers["location"] == f"/signin?next=/petitions/{open_id}"
    code = (await petition_row(draft_id))["sponsor_code"]
    sponsor = await submit(client, f"/petitions/sponsor/{code}")
    assert sponsor.headers["location"] == f"/signin?next=/petitions/sponsor/{code}"
    page = await client.get(f"/petitions/{open_id}")
    assert f'href="/signin?next=/petitions/{open_id}"' in page.text
    # The site's navigation links to the petitions now that the section exists.
    assert '<a href="/petitions" aria-current="page">Petitions</a>' in page.text
    for language in ("uz", "uz-Cyrl", "ru"):
        client.cookies.set("lang", language)
        assert (await client.get(f"/petitions/{open_id}")).status_code == 200
        assert (await client.get(f"/petitions/{open_id}/poster")).status_code == 200
        assert (await client.get("/petitions?q=maktab")).status_code == 200
    client.cookies.set("lang", "en")
    assert (await client.get(f"/petitions/{draft_id}")).status_code == 404
    assert (await client.get("/petitions/999999")).status_code == 404
    assert (await submit(client, f"/petitions/{draft_id}/withdraw")).status_code == 404
    assert (await petition_row(draft_id))["status"] == "draft"


async def test_the_text_cannot_change_once_sponsors_are_sought(
        client: httpx.AsyncClient, author: int, draft_id: int) -> None:
    await as_resident(client, author)
    unknown = await submit(client, "/petitions/new", title="Qishloqqa yangi maktab qurilsin",
                           text=TEXT, topic="education", level="national_parliament")
    assert unknown.status_code == 400 and 'href="#level"' in unknown.text
    await services.seek_sponsors(author, draft_id)
    late = await submit(client, f"/petitions/{draft_id}/edit", title="Boshqa sarlavha, yangi",
                        text=TEXT, topic="education", level="district_hokimiyat")
    assert late.status_code == 409 and "This petition can no longer be changed." in late.text
    assert 'href="#actions"' in late.text
    assert (await petition_row(draft_id))["title"] == "Qishloqqa yangi maktab qurilsin"


def test_the_moderation_wait_is_said_in_hours_or_days() -> None:
    from ovoz.i18n import locale
    from ovoz.petitions.controllers import moderation_wait

    token = locale.current_language.set("en")
    try:
        assert moderation_wait({"waiting": 0, "median_hours": None}) == (
            "No petitions were checked in the last 30 days.")
        assert moderation_wait({"waiting": 0, "median_hours": 0.2}).endswith("within 1 hour.")
        assert moderation_wait({"waiting": 2, "median_hours": 30.5}).endswith("31 hours.")
        assert moderation_wait({"waiting": 2, "median_hours": 71.0}).endswith("3 days.")
    finally:
        locale.current_language.reset(token)
