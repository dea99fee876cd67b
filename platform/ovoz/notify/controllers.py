"""The bell: in-app messages of the signed-in resident or staff member."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect

from ovoz.accounts.sessions import identity_of
from ovoz.notify import services
from ovoz.web.templating import page


def recipient(request: Request) -> tuple[str, int] | None:
    identity = identity_of(request)
    if identity.resident is not None:
        return "resident", identity.resident["id"]
    if identity.staff_signed_in and identity.staff is not None:
        return "staff", identity.staff["id"]
    return None


class NotificationsController(Controller):
    path = "/notifications"
    include_in_schema = False

    @get("/", name="notify:inbox", cache=False)
    async def inbox(self, request: Request) -> Response[Any]:
        who = recipient(request)
        if who is None:
            return Redirect("/signin?next=/notifications")
        return await page(request, "notify/inbox.html", messages=await services.inbox(*who))

    @post("/read", name="notify:mark_read")
    async def mark_read(self, request: Request) -> Redirect:
        who = recipient(request)
        if who is not None:
            await services.mark_all_read(*who)
        return Redirect("/notifications")
