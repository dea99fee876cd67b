"""A resident on a 360 px phone without JavaScript sets their home mahalla, casts a ballot in the
demo cycle that is voting, sees exactly what is recorded, and changes it."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.conftest import LiveSite, phone_page
from tests.e2e.test_reports import fits_the_phone, sign_in
from tests.reports.helpers import BERUNIY, REGION_OF


async def set_home(page: Any, site: LiveSite) -> None:
    """The profile's mahalla chooser, step by step as it works without JavaScript."""
    await page.goto(f"{site.url}/profile")
    await page.fill("input[name=display_name]", "Nodira Saidova")
    await page.select_option("select[name=region_id]", str(REGION_OF[BERUNIY]))
    await page.click("button[name=step][value=choose] >> nth=0")
    await page.select_option("select[name=district_id]", str(BERUNIY))
    await page.click("button[name=step][value=choose] >> nth=1")
    first = page.locator("select[name=mahalla_id] option[value]:not([value=''])").first
    await page.select_option("select[name=mahalla_id]", await first.get_attribute("value"))
    await page.click("form[action='/profile'] button[type=submit]:not([name=step])")
    await page.wait_for_load_state()


async def test_casting_and_changing_a_ballot_without_javascript(live_site: LiveSite,
                                                                browser: Any) -> None:
    page = await phone_page(browser, javascript=False)
    await sign_in(page, live_site, "90 555 77 88")
    await set_home(page, live_site)

    await page.goto(f"{live_site.url}/cycles?district={BERUNIY}")
    await fits_the_phone(page)
    await page.click("a:has-text('joriy mavsum')")
    await fits_the_phone(page)
    cycle_url = page.url.split("?")[0]
    await page.goto(f"{cycle_url}/ballot")
    await fits_the_phone(page)
    choices = page.locator("input[name=proposal_ids]")
    assert await choices.count() >= 3
    first, second, third = [await choices.nth(n).get_attribute("value") for n in range(3)]
    await page.check(f"#choice-{first}")
    await page.check(f"#choice-{second}")
    await page.click(f"form[action='{cycle_url.removeprefix(live_site.url)}/ballot'] "
                     "button[type=submit]")
    await page.wait_for_url(re.compile(r"/ballot/recorded"))
    recorded = page.locator("#recorded")
    assert re.search(r"[0-9A-F]{8}", await recorded.inner_text())
    for proposal_id in (first, second):
        assert await recorded.locator(f"a[href='/proposals/{proposal_id}']").count()
    await fits_the_phone(page)

    await page.goto(f"{cycle_url}/ballot")
    assert await page.is_checked(f"#choice-{first}")
    await page.uncheck(f"#choice-{first}")
    await page.check(f"#choice-{third}")
    await page.click(f"form[action='{cycle_url.removeprefix(live_site.url)}/ballot'] "
                     "button[type=submit]")
    await page.wait_for_url(re.compile(r"/ballot/recorded"))
    recorded = page.locator("#recorded")
    assert not await recorded.locator(f"a[href='/proposals/{first}']").count()
    for proposal_id in (second, third):
        assert await recorded.locator(f"a[href='/proposals/{proposal_id}']").count()
