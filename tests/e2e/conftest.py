"""Browser journeys: a live `ovoz serve` on a fresh SQLite database with the demo data, driven
by Debian's Chromium through Playwright at a phone's size.

No browser is downloaded: Chromium comes from the system (`apt-get install chromium`, which
.ci/run does). Where it is missing these tests are skipped, unless OVOZ_REQUIRE_BROWSER is set,
as CI sets it, so a CI run can never pass without them.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path(os.environ.get("OVOZ_CHROMIUM", "/usr/bin/chromium"))
PHONE = {"width": 360, "height": 640}
# A 1x1 transparent PNG for every map tile: tests never reach the tile server.
BLANK_TILE = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63600000000200010de221bc0000000049454e44ae426082")


@dataclass(frozen=True)
class LiveSite:
    url: str
    sms_outbox: Path

    def last_code(self, phone: str) -> str:
        texts = [json.loads(line)["text"] for line in
                 self.sms_outbox.read_text(encoding="utf-8").splitlines()
                 if json.loads(line)["to"] == phone]
        found = re.search(r"\b(\d{6})\b", texts[-1])
        assert found, texts[-1]
        return found.group(1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ovoz(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "ovoz", *args], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="session")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    if not CHROMIUM.exists():
        if os.environ.get("OVOZ_REQUIRE_BROWSER"):
            pytest.fail(f"no browser at {CHROMIUM}: apt-get install chromium")
        pytest.skip(f"no browser at {CHROMIUM}: apt-get install chromium")
    folder = tmp_path_factory.mktemp("live")
    port = _free_port()
    env = {**os.environ,
           "OVOZ_DATABASE_URL": f"sqlite:///{folder / 'ovoz.sqlite3'}",
           "OVOZ_UPLOAD_DIR": str(folder / "uploads"),
           "OVOZ_SMS_CONSOLE_OUTBOX": str(folder / "sms-outbox.jsonl"),
           "OVOZ_BASE_URL": f"http://127.0.0.1:{port}",
           "OVOZ_WORKER_IN_SERVER": "true"}
    _ovoz("migrate", env=env)
    _ovoz("seed", "--demo", env=env)
    log = folder / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "ovoz", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"], env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, log.read_text(encoding="utf-8", errors="replace")
            assert time.monotonic() < deadline, "the server did not start within a minute"
            time.sleep(0.2)
        yield LiveSite(url, folder / "sms-outbox.jsonl")
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="session")
async def browser(live_site: LiveSite) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                    args=["--no-sandbox"])
        yield chromium
        await chromium.close()


async def phone_page(browser: object, javascript: bool = True) -> object:
    """A fresh 360 x 640 phone in Uzbek, whose map tiles are answered locally."""
    context = await browser.new_context(  # type: ignore[attr-defined]
        viewport=PHONE, locale="uz-UZ", java_script_enabled=javascript, has_touch=True)
    await context.route(re.compile(r"https?://tile\.openstreetmap\.org/.*"),
                        lambda route: route.fulfill(body=BLANK_TILE, content_type="image/png"))
    return await context.new_page()
