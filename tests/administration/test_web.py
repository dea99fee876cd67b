"""Administration in the browser: the hub, the pilot districts and the petition thresholds, for
national administrators only."""

from __future__ import annotations

import httpx
import pytest

from ovoz.accounts.permissions import Grant, Role
from ovoz.administration import services as administration
from ovoz.settings import PetitionRules
from tests.petitions.test_staff_web import as_staff, submit
from tests.reports.helpers import BERUNIY, BOYSUN, CHORTOQ, REGION_OF

PAGES = ("/staff/admin/pilots", "/staff/admin/petition-rules")


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")


async def test_signed_out_people_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    for path in ("/staff/admin", *PAGES):
        response = await client.get(path)
        assert response.status_code in (302, 303)
        assert response.headers["location"] == "/staff/signin"


@pytest.mark.parametrize("grant", [
    Grant(Role.MODERATOR), Grant(Role.OFFICIAL, REGION_OF[BERUNIY], BERUNIY)])
async def test_other_staff_may_not_administer(client: httpx.AsyncClient, grant: Grant) -> None:
    await as_staff(client, "someone", grant)
    assert 'href="/staff/admin"' not in (await client.get("/staff")).text
    for path in ("/staff/admin", *PAGES):
        assert (await client.get(path)).status_code == 403
    refused = await client.post("/staff/admin/pilots", data={
        "_csrf_token": client.cookies["csrftoken"], "districts": [str(BERUNIY)]})
    assert refused.status_code == 403
    refused = await submit(client, "/staff/admin/petition-rules/mahalla", threshold="1",
                           population_percent="0", window_days="1", response_days="1")
    assert refused.status_code == 403
    assert await administration.changes() == {}


async def test_the_hub_links_what_an_administrator_sets_up(client: httpx.AsyncClient) -> None:
    await as_staff(client, "admin", Grant(Role.ADMINISTRATOR))
    assert 'href="/staff/admin"' in (await client.get("/staff")).text
    hub = await client.get("/staff/admin")
    assert hub.status_code == 200
    for href in ("/staff/admin/pilots", "/staff/admin/petition-rules",
                 "/staff/admin/categories", "/staff/people/new", "/staff/roles",
                 "/staff/cycles",
                 *(f"/staff/admin/districts/{d}/mahallas" for d in (BERUNIY, CHORTOQ, BOYSUN)),
                 *(f"/staff/districts/{d}/departments" for d in (BERUNIY, CHORTOQ, BOYSUN))):
        assert f'href="{href}"' in hub.text


async def test_an_administrator_chooses_the_pilot_districts(client: httpx.AsyncClient) -> None:
    await as_staff(client, "admin", Grant(Role.ADMINISTRATOR))
    form = await client.get("/staff/admin/pilots")
    assert form.status_code == 200
    assert "As configured in litestar.toml (the default)." in form.text
    for district_id in (BERUNIY, CHORTOQ, BOYSUN):
        assert f'name="districts" value="{district_id}" checked' in form.text
    # Only districts on the map are offered: Amudaryo, Beruniy's neighbour, is not.
    assert 'value="15"' not in form.text

    empty = await submit(client, "/staff/admin/pilots")
    assert empty.status_code == 400
    assert 'href="#districts"' in empty.text and "Choose at least one pilot district." in empty.text
    crafted = await client.post("/staff/admin/pilots", data={
        "_csrf_token": client.cookies["csrftoken"], "districts": [str(BERUNIY), "15"]})
    assert crafted.status_code == 400 and "Choose districts from the list." in crafted.text
    # What was ticked stays ticked.
    assert f'value="{BERUNIY}" checked' in crafted.text
    assert f'value="{CHORTOQ}" checked' not in crafted.text

    saved = await client.post("/staff/admin/pilots", data={
        "_csrf_token": client.cookies["csrftoken"], "districts": [str(BERUNIY), str(BOYSUN)]})
    assert saved.headers["location"] == "/staff/admin/pilots?done=pilots"
    after = await client.get(saved.headers["location"])
    assert "The pilot districts are saved." in after.text
    assert "Changed in the browser by Admin on" in after.text
    assert f'value="{CHORTOQ}" checked' not in after.text
    assert f'value="{BOYSUN}" checked' in after.text
    namangan = (await client.get(f"/api/v1/geo/districts?region_id={REGION_OF[CHORTOQ]}")
                ).json()["items"]
    assert [item["is_pilot"] for item in namangan if item["id"] == CHORTOQ] == [False]
    assert (await client.get(f"/places/districts/{BOYSUN}")).text.count("Pilot district") == 1


async def test_an_administrator_changes_a_levels_petition_rules(
        client: httpx.AsyncClient) -> None:
    await as_staff(client, "admin", Grant(Role.ADMINISTRATOR))
    form = await client.get("/staff/admin/petition-rules")
    assert form.status_code == 200
    for label in ("Mahalla citizens' assembly", "District hokimiyat",
                  "District Kengash of people's deputies", "Regional hokimiyat"):
        assert label.replace("'", "&#39;") in form.text
    assert 'id="mahalla-threshold" name="threshold"' in form.text
    assert form.text.count("As configured in litestar.toml (the default).") == 4

    wrong = await submit(client, "/staff/admin/petition-rules/mahalla", threshold="many",
                         population_percent="150", window_days="90", response_days="30")
    assert wrong.status_code == 400
    assert 'href="#mahalla-threshold"' in wrong.text
    assert 'aria-describedby="mahalla-threshold-hint mahalla-threshold-error"' in wrong.text
    assert "Enter a whole number from 1 to 10,000,000." in wrong.text
    assert 'href="#mahalla-population_percent"' in wrong.text
    assert "Enter a number from 0 to 100." in wrong.text
    assert 'value="many"' in wrong.text and 'value="150"' in wrong.text
    assert await administration.changes() == {}

    saved = await submit(client, "/staff/admin/petition-rules/mahalla", threshold="1 500",
                         population_percent="0,5", window_days="60", response_days="20")
    assert saved.headers["location"] == "/staff/admin/petition-rules?done=rules#mahalla"
    assert await administration.petition_rules("mahalla") == PetitionRules(1500, 0.5, 60, 20)
    after = await client.get(saved.headers["location"].split("#")[0])
    assert "The petition rules are saved." in after.text
    assert 'value="1500"' in after.text
    assert 'value="0.5"' in after.text
    assert "Changed in the browser by Admin on" in after.text
    assert ("Configured default: 100 signatures or 0% of the population, 90 days to collect, "
            "30 days to answer.") in after.text
    assert after.text.count("As configured in litestar.toml (the default).") == 3
    highest = await submit(client, "/staff/admin/petition-rules/regional_hokimiyat",
                           threshold="10 000 000", population_percent="100",
                           window_days="365", response_days="365")
    assert highest.status_code in (302, 303)
    shown = (await client.get("/staff/admin/petition-rules")).text
    assert 'id="regional_hokimiyat-threshold"' in shown and 'value="10000000"' in shown

    unknown = await submit(client, "/staff/admin/petition-rules/ministry", threshold="1",
                           population_percent="0", window_days="1", response_days="1")
    assert unknown.status_code == 404
