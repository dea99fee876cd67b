"""The bell (in-app messages of residents and staff) and what residents follow."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect

from ovoz.accounts.sessions import identity_of
from ovoz.i18n import locale
from ovoz.notify import services
from ovoz.web.templating import page

Form = URLEncodedBody[dict[str, str]]


def recipient(request: Request) -> tuple[str, int] | None:
    identity = identity_of(request)
    if identity.resident is not None:
        return "resident", identity.resident["id"]
    if identity.staff_signed_in and identity.staff is not None:
        return "staff", identity.staff["id"]
    return None


# How each kind of followed subject reads in the list, and where it leads.
SUBJECT_PAGES: dict[str, tuple[str, str]] = {
    "report": ("/reports/{id}", locale.lazy("Report №%(id)s")),
    "petition": ("/petitions/{id}", locale.lazy("Petition №%(id)s")),
    "cycle": ("/cycles/{id}", locale.lazy("Budget cycle №%(id)s")),
    "proposal": ("/proposals/{id}", locale.lazy("Proposal №%(id)s")),
    "mahalla": ("/reports", locale.lazy("New reports in your mahalla")),
    "area": ("/reports", locale.lazy("New reports within %(km)s km of a place you chose")),
}


def describe(subject: str) -> dict[str, str] | None:
    kind, _, rest = subject.partition(":")
    if kind not in SUBJECT_PAGES:
        return None
    url, label = SUBJECT_PAGES[kind]
    values = {"id": rest, "km": rest.rsplit(",", 1)[-1]}
    return {"subject": subject, "url": url.format(**values),
            "label": locale.gettext(label, **values)}


class NotificationsController(Controller):
    path = "/notifications"
    include_in_schema = False

    @get("/", name="notify:inbox", cache=False)
    async def inbox(self, request: Request) -> Response[Any]:
        who = recipient(request)
        if who is None:
            return Redirect("/signin?next=/notifications")
        return await page(request, "notify/inbox.html", messages=await services.inbox(*who))

    @get("/following", name="notify:following", cache=False)
    async def following(self, request: Request) -> Response[Any]:
        resident = identity_of(request).resident
        if resident is None:
            return Redirect("/signin?next=/notifications/following")
        follows = [shown for subject in await services.follows_of(resident["id"])
                   if (shown := describe(subject)) is not None]
        return await page(request, "notify/following.html", follows=follows)

    @post("/following/stop", name="notify:stop_following")
    async def stop_following(self, request: Request, data: Form) -> Redirect:
        resident = identity_of(request).resident
        if resident is not None and data.get("subject"):
            await services.unfollow(resident["id"], data["subject"])
        return Redirect("/notifications/following")

    @post("/read", name="notify:mark_read")
    async def mark_read(self, request: Request) -> Redirect:
        who = recipient(request)
        if who is not None:
            await services.mark_all_read(*who)
        return Redirect("/notifications")
