"""The honeypot: public forms carry a field people never see; a form sent with it filled in is
refused before anything is done."""

from __future__ import annotations

import re

import httpx

from ovoz.accounts.tables import SignInCode
from ovoz.moderation.tables import Flag
from ovoz.reports import services as reports
from ovoz.reports.tables import Report
from tests.reports.helpers import draft, load_demo_mahallas
from tests.reports.test_web import signed_in_resident

HONEYPOT = re.compile(r'<div class="honeypot" aria-hidden="true"><label for="([\w-]+)">'
                      r'[^<]+</label><input type="text" id="\1" name="website" value="" '
                      r'tabindex="-1" autocomplete="off"></div>')


async def token(client: httpx.AsyncClient, path: str = "/signin") -> str:
    await client.get(path)
    return client.cookies["csrftoken"]


async def test_the_public_forms_carry_the_hidden_field(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    assert HONEYPOT.search((await client.get("/signin")).text)
    author = await signed_in_resident(client)
    report_id = await reports.create_report(author, draft())
    assert HONEYPOT.search((await client.get("/reports/new")).text)
    # The flag form beside the report: one per item, so each has its own id.
    assert f'id="flag-website-report-{report_id}"' in (
        await client.get(f"/reports/{report_id}")).text


async def test_a_filled_in_honeypot_sends_no_code(client: httpx.AsyncClient) -> None:
    csrf = await token(client)
    refused = await client.post("/signin", data={"phone": "90 123 45 67",
                                                 "website": "http://cheap.example",
                                                 "_csrf_token": csrf})
    assert refused.status_code == 400
    assert await SignInCode.count() == 0
    sent = await client.post("/signin", data={"phone": "90 123 45 67", "website": "",
                                              "_csrf_token": csrf})
    assert sent.status_code == 200 and await SignInCode.count() == 1


async def test_a_filled_in_honeypot_stops_a_report_and_a_flag(client: httpx.AsyncClient
                                                             ) -> None:
    await load_demo_mahallas()
    author = await signed_in_resident(client)
    report_id = await reports.create_report(author, draft())
    csrf = await token(client, "/reports/new")
    refused = await client.post(
        "/reports/new", data={"category": "roads.pothole", "description": "A deep hole.",
                              "lat": "42.0", "lon": "60.9", "website": "spam",
                              "_csrf_token": csrf},
        files={"photos": ("", b"", "application/octet-stream")})
    assert refused.status_code == 400 and await Report.count() == 1
    flagged = await client.post("/moderation/flags", data={
        "kind": "report", "ref": str(report_id), "reason": "spam", "website": "x",
        "_csrf_token": csrf})
    assert flagged.status_code == 400 and await Flag.count() == 0
