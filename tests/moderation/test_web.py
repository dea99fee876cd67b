"""Moderation in the browser: a resident flags a report, a moderator redacts a phone number
from it, the author appeals, the moderator reverses it; a petition is hidden."""

from __future__ import annotations

import re

import httpx
import pytest

from ovoz.accounts.permissions import Grant, Role
from ovoz.moderation import services as moderation
from ovoz.moderation.tables import Decision, Flag
from ovoz.reports import services as reports
from tests.petitions.helpers import (
    beruniy_mahallas,
    district_petition,
    make_moderator,
    make_residents,
    make_verified,
    open_petition,
)
from tests.petitions.test_staff_web import as_staff, submit
from tests.petitions.test_web import as_resident
from tests.reports.helpers import BERUNIY, REGION_OF, draft, load_demo_mahallas
from tests.reports.test_web import signed_in_resident

PHONE_IN_TEXT = "A deep pothole. Call me on 90 123 45 67, by the school gate."


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")


async def test_a_flagged_phone_number_is_redacted_appealed_and_restored(
        client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    author = await signed_in_resident(client, "+998901110000", "Aziz")
    report_id = await reports.create_report(author, draft(description=PHONE_IN_TEXT))
    path = f"/reports/{report_id}"
    flagger = await signed_in_resident(client, "+998901110001", "Malika")
    page = await client.get(path)
    assert 'action="/moderation/flags"' in page.text
    assert f'name="ref" value="{report_id}"' in page.text
    refused = await submit(client, "/moderation/flags", kind="report", ref=str(report_id),
                           reason="rude", next=path)
    assert refused.status_code == 400 and "Choose what is wrong with it." in refused.text
    flagged = await submit(client, "/moderation/flags", kind="report", ref=str(report_id),
                           reason="personal_data", note="A phone number.", next=path)
    assert flagged.headers["location"] == f"{path}?flagged=report-{report_id}"
    assert "Thank you. The moderators will look at it." in (
        await client.get(flagged.headers["location"])).text
    again = await submit(client, "/moderation/flags", kind="report", ref=str(report_id),
                         reason="insult", next="https://example.com/")
    assert again.headers["location"] == f"/?flagged=report-{report_id}"
    assert await Flag.count() == 1
    missing = await submit(client, "/moderation/flags", kind="report", ref="999999",
                           reason="spam", next=path)
    assert missing.status_code == 404

    await as_staff(client, "official", Grant(Role.OFFICIAL, REGION_OF[BERUNIY], BERUNIY))
    assert (await client.get("/staff/moderation")).status_code == 403
    await as_staff(client, "moderator", Grant(Role.MODERATOR))
    assert 'href="/staff/moderation"' in (await client.get("/staff")).text
    queue = await client.get("/staff/moderation")
    assert f'href="/staff/moderation/report/{report_id}"' in queue.text
    assert "phone number, address or face (1)" in queue.text
    item_path = f"/staff/moderation/report/{report_id}"
    item = await client.get(item_path)
    assert item.status_code == 200 and "A phone number." in item.text
    wrong = await submit(client, f"{item_path}/redact", field="description",
                         passage="90 999 99 99", public_reason="Phone numbers are private.")
    assert wrong.status_code == 400 and 'href="#passage"' in wrong.text
    assert 'value="90 999 99 99"' in wrong.text
    redacted = await submit(client, f"{item_path}/redact", field="description",
                            passage="90 123 45 67", public_reason="Phone numbers are private.")
    assert redacted.headers["location"] == f"{item_path}?done=redact"
    staff_view = await client.get(redacted.headers["location"])
    assert "The passage is removed." in staff_view.text and PHONE_IN_TEXT in staff_view.text
    assert "No flagged item is waiting." in (await client.get("/staff/moderation")).text

    client.cookies.clear()
    client.cookies.set("lang", "en")
    public = await client.get(path)
    assert "90 123 45 67" not in public.text and "Call me on […]" in public.text
    assert ("Part of this was removed by the moderators. The reason: Phone numbers are "
            "private.") in public.text
    assert "90 123 45 67" not in (await client.get(f"/api/v1/reports/{report_id}")).text
    assert "90 123 45 67" not in (await client.get("/reports.csv")).text

    await as_resident(client, author)
    decision = await Decision.select(Decision.id).where(Decision.action == "redact").first()
    decision_path = f"/moderation/decisions/{decision['id']}"
    shown = await client.get(decision_path)
    assert shown.status_code == 200 and "Phone numbers are private." in shown.text
    short = await submit(client, f"{decision_path}/appeal", appeal="No.")
    assert short.status_code == 400 and 'href="#appeal"' in short.text
    appealed = await submit(client, f"{decision_path}/appeal",
                            appeal="It is the school's public number, on its gate.")
    assert appealed.headers["location"] == f"{decision_path}?done=appealed"
    assert "A moderator will look at it again." in (
        await client.get(appealed.headers["location"])).text
    await as_resident(client, flagger)
    assert (await client.get(decision_path)).status_code == 404

    await as_staff(client, "moderator2", Grant(Role.MODERATOR))
    queue = await client.get("/staff/moderation")
    assert f'href="{item_path}#decision-{decision["id"]}"' in queue.text
    reversed_ = await submit(client, f"{item_path}/decisions/{decision['id']}/appeal",
                             outcome="reverse")
    assert reversed_.headers["location"] == f"{item_path}?done=appeal"
    assert (await reports.report(report_id))["description"] == PHONE_IN_TEXT
    assert "No appeal is waiting." in (await client.get("/staff/moderation")).text
    assert flagger != author


async def test_a_petition_is_hidden_with_a_public_reason(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    home = (await beruniy_mahallas())[0]
    author = await make_verified(1, home)
    petition_id = await open_petition(author, await make_residents(5, home, first=100),
                                      await make_moderator("checker"), district_petition())
    await as_staff(client, "moderator", Grant(Role.MODERATOR))
    item_path = f"/staff/moderation/petition/{petition_id}"
    blank = await submit(client, f"{item_path}/hide", hide_reason=" ")
    assert blank.status_code == 400 and 'href="#hide_reason"' in blank.text
    hidden = await submit(client, f"{item_path}/hide",
                          hide_reason="It calls for violence against a neighbour.")
    assert hidden.headers["location"] == f"{item_path}?done=hide"
    public = await client.get(f"/petitions/{petition_id}")
    assert "Qishloqqa yangi maktab" not in public.text
    assert ("Hidden by the moderators. The reason: It calls for violence against a "
            "neighbour.") in public.text
    assert "Qishloqqa yangi maktab" not in (await client.get("/petitions")).text
    [decision] = await moderation.decisions_of("petition", petition_id)
    restored = await submit(client, f"{item_path}/decisions/{decision['id']}/restore")
    assert restored.status_code == 302
    assert "Qishloqqa yangi maktab" in (await client.get(f"/petitions/{petition_id}")).text
    assert re.search(r"Undone on", (await client.get(item_path)).text)
