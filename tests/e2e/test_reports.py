"""A resident on a 360 px phone reports a pothole with a photo, with the map and without
JavaScript, then finds it on the map; the map page fits the phone."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import LiveSite, phone_page
from tests.reports.helpers import jpeg

PHONE_WIDTH = 360


async def sign_in(page: Any, site: LiveSite, phone: str) -> None:
    await page.goto(f"{site.url}/signin")
    await page.fill("input[name=phone]", phone)
    await page.click("form[action='/signin'] button[type=submit]")
    await page.fill("input[name=code]", site.last_code("+998" + phone.replace(" ", "")))
    await page.click("form[action='/signin/code'] button[type=submit] >> nth=0")
    await page.wait_for_load_state()


async def fits_the_phone(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"{page.url} is {width} px wide"


async def test_a_pothole_with_a_photo_at_a_map_point(live_site: LiveSite, browser: Any,
                                                     tmp_path: Path) -> None:
    photo = tmp_path / "pothole.jpg"
    photo.write_bytes(jpeg(1600, 1200))
    page = await phone_page(browser)
    started = time.monotonic()
    await sign_in(page, live_site, "90 555 11 22")
    await page.goto(f"{live_site.url}/reports/new")
    await fits_the_phone(page)
    await page.select_option("select[name=category]", "roads.pothole")
    # The browser here shares no position: the resident is told, in their language, what to do.
    await page.click("#use-my-location")
    await page.wait_for_function(
        "document.getElementById('location-status').textContent.length > 0")
    assert "xarita" in (await page.text_content("#location-status")).lower()
    picker = page.locator("#location-picker")
    await picker.click(position={"x": 160, "y": 90})
    assert re.fullmatch(r"4\d\.\d{6}", await page.input_value("input[name=lat]"))
    await page.fill("textarea[name=description]", "Maktab oldida katta chuqur, suv to‘ldi.")
    await page.set_input_files("input[name=photos]", str(photo))
    await page.click("form[action='/reports/new'] button[type=submit]")
    await page.wait_for_url(re.compile(r"/reports/\d+\?sent=1$"))
    assert time.monotonic() - started < 60
    report_url = page.url.split("?")[0]
    thumbnail = page.locator("img[src$='.thumb.jpg']").first
    assert await thumbnail.evaluate("image => image.complete && image.naturalWidth > 0")
    await fits_the_phone(page)

    await page.goto(f"{live_site.url}/reports")
    await page.wait_for_selector("#report-map .leaflet-marker-icon")
    await fits_the_phone(page)
    zoom_in = page.locator(".leaflet-control-zoom-in")
    box = await zoom_in.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44
    assert await page.locator(f"a[href='{report_url.removeprefix(live_site.url)}']").count()


async def test_without_javascript_the_mahalla_and_the_spot_in_words(
        live_site: LiveSite, browser: Any, tmp_path: Path) -> None:
    photo = tmp_path / "lamp.jpg"
    photo.write_bytes(jpeg(800, 600))
    page = await phone_page(browser, javascript=False)
    await sign_in(page, live_site, "90 555 33 44")
    await page.goto(f"{live_site.url}/reports/new")
    assert not await page.locator("#location-picker").is_visible()
    await fits_the_phone(page)
    await page.select_option("select[name=category]", "lighting")
    first_mahalla = page.locator("select[name=mahalla_id] option[value]:not([value=''])").first
    await page.select_option("select[name=mahalla_id]", await first_mahalla.get_attribute("value"))
    await page.fill("input[name=location_text]", "Navoiy ko‘chasi, tegirmon yonida")
    await page.fill("textarea[name=description]", "Ko‘cha chiroqlari kechasi yonmayapti.")
    await page.set_input_files("input[name=photos]", str(photo))
    await page.click("form[action='/reports/new'] button[type=submit]")
    await page.wait_for_url(re.compile(r"/reports/\d+\?sent=1$"))
    assert "Navoiy ko‘chasi, tegirmon yonida" in await page.content()
    await fits_the_phone(page)
    listing = await page.goto(f"{live_site.url}/reports?category=lighting")
    assert listing is not None and listing.status == 200
    assert "Ko‘cha chiroqlari kechasi yonmayapti." in await page.content()
