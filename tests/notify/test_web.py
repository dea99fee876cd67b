"""The bell on every page, the notifications page and the worker command."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx

from ovoz.accounts import sessions
from ovoz.accounts.tables import Resident
from ovoz.notify import services
from ovoz.notify.tables import OutboxMessage
from tests.conftest import sms_outbox

PAYLOAD = {"date": "1-dekabr", "title": "Ariq tozalash", "link": "/petitions/1"}


async def signed_in_resident(client: httpx.AsyncClient) -> int:
    rows = await Resident.insert(Resident(phone="+998901234567", created_at=services.now(),
                                          language="uz")).returning(Resident.id)
    token = await sessions.start(sessions.RESIDENT, rows[0]["id"], 0)
    client.cookies.set("ovoz_session", token)
    return rows[0]["id"]


async def test_the_bell_counts_unread_messages(client: httpx.AsyncClient) -> None:
    resident_id = await signed_in_resident(client)
    assert 'class="bell"' in (await client.get("/")).text
    for n in range(2):
        await services.enqueue(f"due:{n}", "resident", resident_id, "obligation.due_soon",
                               PAYLOAD, ["inapp"])
    await services.run_once({"inapp": services.InAppChannel()}, 3)
    home = await client.get("/")
    assert '<span class="bell-count">2</span>' in home.text
    inbox = await client.get("/notifications")
    assert inbox.status_code == 200
    assert inbox.text.count("Muddati 1-dekabr: Ariq tozalash.") == 2
    await client.get("/signin")
    read = await client.post("/notifications/read",
                             data={"_csrf_token": client.cookies["csrftoken"]})
    assert read.status_code in (302, 303)
    assert 'class="bell-count"' not in (await client.get("/")).text


async def test_visitors_have_no_bell(client: httpx.AsyncClient) -> None:
    assert 'class="bell"' not in (await client.get("/")).text
    assert (await client.get("/notifications")).headers["location"].startswith("/signin")


async def test_worker_command_delivers_what_is_due(db: str) -> None:
    rows = await Resident.insert(Resident(phone="+998907654321", created_at=services.now(),
                                          language="ru")).returning(Resident.id)
    await services.enqueue("due:cli", "resident", rows[0]["id"], "obligation.due_soon",
                           PAYLOAD, ["sms", "inapp"])
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ovoz", "worker", "--once", env={**os.environ,
                                                               "OVOZ_DATABASE_URL": db},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, errors = await asyncio.wait_for(worker.communicate(), 120)
    assert worker.returncode == 0, errors.decode()
    assert out.decode().strip() == "2 sent, 0 to retry, 0 dead."
    assert sms_outbox()[-1] == {**sms_outbox()[-1], "to": "+998907654321",
                                "text": "Срок 1-dekabr: Ariq tozalash. /petitions/1"}
    assert set(await OutboxMessage.select(OutboxMessage.status).output(as_list=True)) == {"sent"}


async def test_the_server_can_deliver_by_itself(db: str) -> None:
    from ovoz.app import create_app
    from ovoz.notify.tables import InAppMessage
    from ovoz.settings import ROOT, load_settings

    settings = load_settings({**os.environ, "OVOZ_CONFIG": str(ROOT / "litestar.toml"),
                              "OVOZ_DATABASE_URL": db, "OVOZ_WORKER_IN_SERVER": "true"})
    rows = await Resident.insert(Resident(phone="+998901230000", created_at=services.now())
                                 ).returning(Resident.id)
    await services.enqueue("due:server", "resident", rows[0]["id"], "obligation.due_soon",
                           PAYLOAD, ["inapp"])
    app = create_app(settings)
    stop = asyncio.Event()

    async def serve() -> None:
        async with app.lifespan():
            await stop.wait()

    server = asyncio.create_task(serve())
    try:
        for _ in range(100):
            if await InAppMessage.count():
                break
            await asyncio.sleep(0.05)
        assert await InAppMessage.count() == 1
    finally:
        stop.set()
        await server


async def test_residents_see_and_stop_what_they_follow(client: httpx.AsyncClient) -> None:
    resident_id = await signed_in_resident(client)
    assert (await client.get("/notifications/following")).status_code == 200
    await services.follow(resident_id, "report:12")
    await services.follow(resident_id, "area:41.69000,60.75200,5")
    await services.follow(resident_id, "something:else")
    page = await client.get("/notifications/following?lang=en")
    assert 'href="/reports/12"' in page.text and "Report №12" in page.text
    assert "within 5 km" in page.text and "something" not in page.text
    stopped = await client.post("/notifications/following/stop", data={
        "subject": "report:12", "_csrf_token": client.cookies["csrftoken"]})
    assert stopped.status_code == 302
    assert await services.followers("report:12") == []
    assert "Report №12" not in (await client.get("/notifications/following?lang=en")).text
