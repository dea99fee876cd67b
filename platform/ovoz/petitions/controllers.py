"""Residents' petition pages: the list and search, a petition's page with signing, the poster
for mahalla notice boards, and the author's path from draft through sponsors to moderation."""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import Annotated, Any

import segno
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from ovoz.accounts import sessions
from ovoz.geo import services as geo
from ovoz.geo.tables import District, Mahalla, Region
from ovoz.i18n import locale
from ovoz.moderation import services as moderation
from ovoz.petitions import services
from ovoz.petitions.services import PetitionError
from ovoz.settings import PETITION_LEVELS, get_settings
from ovoz.web.forms import Filter, FormErrors, chosen_id
from ovoz.web.templating import page

Form = URLEncodedBody[dict[str, str]]
PageNumber = Annotated[int, QueryParameter(name="page", ge=1, le=100_000)]
TEXT_FIELDS = ("title", "text", "topic", "level")
# A random id kept by the browser, so moderators can spot one device signing for many people.
DEVICE_COOKIE = "ovoz_device"
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
TWO_YEARS = 2 * 365 * 24 * 3600
POSTER_TEXT = 600
STATUS_CODES = {
    "not_found": 404, "not_author": 404, "too_many": 429,
    "not_verified": 403, "no_home": 403, "outside_area": 403, "own_petition": 403,
    "already_signed": 409, "already_sponsored": 409, "not_seeking": 409, "not_signable": 409,
    "not_signed": 409, "cannot_withdraw": 409, "not_editable": 409,
}


def error_message(error: PetitionError, area: str = "", action: str = "") -> str:
    """The resident-facing words for each broken rule; `area` names the addressee's area.
    `action` is "sign" or "unsign" on those pages: signing needs a confirmed phone, while
    starting and sponsoring need a confirmed residence."""
    if error.code == "not_signable" and action == "unsign":
        return locale.gettext(
            "A signature can be withdrawn only until the petition has enough signatures.")
    if error.code == "not_verified" and action == "sign":
        return locale.gettext(
            "Your phone number is not confirmed. Sign out and sign in again with the code we "
            "send by SMS.")
    if error.code == "outside_area":
        return locale.gettext(
            "This petition is for residents of %(area)s. The home mahalla in your profile is "
            "outside it.", area=area)
    if error.code == "too_many":
        minutes = max(1, math.ceil(error.retry_after / 60))
        return locale.ngettext(
            "You have signed many petitions in a short time. Please try again in %(num)s "
            "minute.",
            "You have signed many petitions in a short time. Please try again in %(num)s "
            "minutes.", minutes)
    messages = {
        "not_verified": locale.gettext(
            "Your residence is not confirmed yet. Ask your mahalla office to confirm it, or "
            "confirm who you are with OneID in your profile."),
        "no_home": locale.gettext(
            "Your profile has no home mahalla. Choose it in your profile first."),
        "bad_title": locale.gettext(
            "Give the petition a title of %(min)s to %(max)s letters.",
            min=services.TITLE_MIN, max=services.TITLE_MAX),
        "bad_text": locale.gettext(
            "Write what you ask for in %(min)s to %(max)s letters.",
            min=services.TEXT_MIN, max=services.TEXT_MAX),
        "bad_topic": locale.gettext("Choose the topic."),
        "bad_level": locale.gettext("Choose who the petition is addressed to."),
        "bad_place": locale.gettext("Choose who the petition is addressed to."),
        "not_editable": locale.gettext("This petition can no longer be changed."),
        "own_petition": locale.gettext(
            "This is your own petition. Share the link with neighbours so they can sponsor "
            "it."),
        "already_sponsored": locale.gettext("You have already sponsored this petition."),
        "not_seeking": locale.gettext("This petition is no longer looking for sponsors."),
        "not_signable": locale.gettext("This petition is not collecting signatures now."),
        "already_signed": locale.gettext(
            "You have already signed this petition. Each person signs once, and your "
            "signature is counted."),
        "not_signed": locale.gettext("You have not signed this petition."),
        "cannot_withdraw": locale.gettext(
            "A petition can no longer be withdrawn once it has enough signatures."),
    }
    return messages.get(error.code, locale.gettext("This could not be done."))


def text_problems(values: dict[str, str], levels: Iterable[str]) -> list[PetitionError]:
    """Every field's problem at once, against the services' limits, so the form shows them
    all together; services.create_draft and edit stay the authority."""
    problems = []
    if not services.TITLE_MIN <= len(" ".join(values["title"].split())) <= services.TITLE_MAX:
        problems.append(PetitionError("bad_title", "title"))
    if not services.TEXT_MIN <= len(" ".join(values["text"].split())) <= services.TEXT_MAX:
        problems.append(PetitionError("bad_text", "text"))
    if values["topic"] not in services.TOPICS:
        problems.append(PetitionError("bad_topic", "topic"))
    if values["level"] not in levels:
        problems.append(PetitionError("bad_level", "level"))
    return problems


async def typed_text(resident: dict[str, Any], data: dict[str, str]
                     ) -> tuple[dict[str, str], services.PetitionText | None, FormErrors]:
    """What the form sent, kept as typed; the text to save when every field is right, the
    addressee's place taken from the resident's home for the chosen level."""
    values = {key: str(data.get(key) or "").strip() for key in TEXT_FIELDS}
    choices = await addressees(resident)
    errors = FormErrors()
    for problem in text_problems(values, [choice["level"] for choice in choices]):
        errors.add(problem.field, error_message(problem))
    if errors:
        return values, None, errors
    place = next(choice["place_id"] for choice in choices if choice["level"] == values["level"])
    return values, services.PetitionText(
        title=values["title"], text=values["text"], topic=values["topic"],
        level=values["level"], place_id=place), errors


def form_field(error: PetitionError, default: str) -> str:
    """Where on the form a refusal belongs: the addressee question for the place."""
    return "level" if error.field == "place_id" else error.field or default


def label(labels: Mapping[str, str], code: str) -> str:
    """A code's label in the reader's language (the code itself if it has none)."""
    return locale.gettext(labels.get(code, code))


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _device(request: Request) -> tuple[str, bool]:
    """The browser's device id, and whether it is new (so the cookie must be set)."""
    known = request.cookies.get(DEVICE_COOKIE, "")
    if DEVICE_ID.fullmatch(known):
        return known, False
    return secrets.token_urlsafe(24), True


def _keep_device(response: Response[Any], device: str) -> None:
    settings = get_settings()
    response.set_cookie(Cookie(
        key=DEVICE_COOKIE, value=device, path="/", max_age=TWO_YEARS, httponly=True,
        samesite="lax", secure=settings.production or settings.base_url.startswith("https://")))


def _signin(path: str) -> Redirect:
    return Redirect(f"/signin?next={path}")


# -- places -----------------------------------------------------------------------------------

async def place_names(rows: Iterable[dict[str, Any]]) -> dict[int, str]:
    """Each petition's place in the reader's language ("mahalla, district", a district or a
    region), with one query per kind of place for a whole page of petitions."""
    rows = list(rows)
    wanted = {
        "mahalla": {row["mahalla"] for row in rows if row["mahalla"]},
        "district": {row["district"] for row in rows if row["district"]},
        "region": {row["region"] for row in rows},
    }
    names: dict[str, dict[int, str]] = {}
    for kind, table in (("mahalla", Mahalla), ("district", District), ("region", Region)):
        found = (await table.select().where(table.id.is_in(list(wanted[kind])))
                 if wanted[kind] else [])
        names[kind] = {place["id"]: locale.localised_name(place) for place in found}
    shown = {}
    for row in rows:
        if row["mahalla"]:
            parts = [names["mahalla"].get(row["mahalla"]), names["district"].get(row["district"])]
        elif row["district"]:
            parts = [names["district"].get(row["district"])]
        else:
            parts = [names["region"].get(row["region"])]
        shown[row["id"]] = ", ".join(part for part in parts if part)
    return shown


async def mahalla_names(ids: Iterable[int | None]) -> dict[int, str]:
    wanted = [mahalla_id for mahalla_id in set(ids) if mahalla_id]
    if not wanted:
        return {}
    rows = await Mahalla.select().where(Mahalla.id.is_in(wanted))
    return {row["id"]: locale.localised_name(row) for row in rows}


async def signature_points(tally: list[dict[str, Any]], names: dict[int, str]) -> str:
    """The tally by mahalla as points for the map (mahallas with a known centre), as JSON."""
    wanted = [entry["mahalla"] for entry in tally if entry["mahalla"]]
    centres = {row["id"]: row for row in await Mahalla.select(
        Mahalla.id, Mahalla.centre_lat, Mahalla.centre_lon).where(
        Mahalla.id.is_in(wanted or [-1]))}
    points = [{"lat": centres[e["mahalla"]]["centre_lat"],
               "lon": centres[e["mahalla"]]["centre_lon"],
               "name": names.get(e["mahalla"], ""), "signatures": e["signatures"]}
              for e in tally
              if e["mahalla"] in centres and centres[e["mahalla"]]["centre_lat"] is not None]
    return json.dumps(points, ensure_ascii=False) if points else ""


async def addressees(resident: dict[str, Any]) -> list[dict[str, Any]]:
    """The bodies a resident may petition, each with the place taken from their home: their
    mahalla's assembly, their district's hokimiyat and Kengash, their region's hokimiyat."""
    if not resident["mahalla"]:
        return []
    home = await Mahalla.select(
        Mahalla.all_columns(), Mahalla.district.all_columns(),
        Mahalla.district.region.all_columns(),
    ).where(Mahalla.id == resident["mahalla"]).output(nested=True).first()
    if home is None:
        return []
    district = home["district"]
    places = {"mahalla": home, "district_hokimiyat": district, "district_kengash": district,
              "regional_hokimiyat": district["region"]}
    return [{"level": level, "label": label(services.LEVEL_LABELS, level),
             "place_id": places[level]["id"], "place": locale.localised_name(places[level])}
            for level in PETITION_LEVELS]


# -- what pages show --------------------------------------------------------------------------

def days_left(row: dict[str, Any]) -> int | None:
    """Whole days until signing ends (a part of a day counts as one), while it collects."""
    if row["status"] not in services.SIGNABLE or row["closes_at"] is None:
        return None
    seconds = (row["closes_at"] - services.now()).total_seconds()
    return max(0, math.ceil(seconds / 86400))


def shown(row: dict[str, Any], count: int, place: str) -> dict[str, Any]:
    """A petition row with what every list and page shows."""
    return {**row, "count": count, "place": place, "days_left": days_left(row),
            "status_label": label(services.STATUS_LABELS, row["status"]),
            "level_label": label(services.LEVEL_LABELS, row["level"]),
            "topic_label": label(services.TOPICS, row["topic"]),
            "answer_overdue": services.answer_overdue(row)}


def moderation_wait(stats: dict[str, Any]) -> str:
    """The median wait for moderators, for the public: in hours, or in days beyond two."""
    if stats["median_hours"] is None:
        return locale.gettext("No petitions were checked in the last 30 days.")
    hours = max(1, math.ceil(stats["median_hours"]))
    if hours < 48:
        return locale.ngettext(
            "In the last 30 days half of the petitions were checked within %(num)s hour.",
            "In the last 30 days half of the petitions were checked within %(num)s hours.",
            hours)
    return locale.ngettext(
        "In the last 30 days half of the petitions were checked within %(num)s day.",
        "In the last 30 days half of the petitions were checked within %(num)s days.",
        math.ceil(hours / 24))


def qr_svg(link: str) -> str:
    return segno.make(link, error="m").svg_inline(
        scale=1, border=2, omitsize=True, dark="#000", light="#fff", svgclass="poster-qr")


class PetitionsController(Controller):
    path = "/petitions"
    include_in_schema = False

    # -- the public list ----------------------------------------------------------------------

    @get("/", name="petitions:index")
    async def index(
        self, request: Request, page_number: PageNumber = 1,
        status: Annotated[str | None, QueryParameter(name="status", max_length=20)] = None,
        level: Annotated[str | None, QueryParameter(name="level", max_length=24)] = None,
        district: Filter = None,
        topic: Annotated[str | None, QueryParameter(name="topic", max_length=20)] = None,
        search: Annotated[str | None, QueryParameter(name="q", max_length=100)] = None,
    ) -> Template:
        filters = services.Filters(
            status=status if status in services.PUBLIC_STATUSES else None,
            level=level if level in PETITION_LEVELS else None, district_id=chosen_id(district),
            topic=topic if topic in services.TOPICS else None,
            search=(search or "").strip() or None)
        found = await services.search(filters, page_number, get_settings().page_size)
        places = await place_names(found.items)
        found = replace(found, items=[shown(row, row["signature_count"], places[row["id"]])
                                      for row in found.items])
        template = "petitions/index.html"
        if request.headers.get("hx-request") and request.headers.get("hx-target") == "petitions":
            template = "petitions/_list.html"
        stats = await services.moderation_stats()
        response = await page(
            request, template, petitions=found, filters=filters,
            pilots=await geo.pilot_districts(), statuses=services.PUBLIC_STATUSES,
            status_labels=services.STATUS_LABELS, level_labels=services.LEVEL_LABELS,
            topics=services.TOPICS, waiting=stats["waiting"], wait=moderation_wait(stats))
        response.headers["Vary"] = "HX-Request, HX-Target"
        return response

    @get("/mine", name="petitions:mine")
    async def mine(self, request: Request) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return _signin("/petitions/mine")
        rows = await services.mine(resident["id"])
        places = await place_names(rows)
        totals = await services.counts([row["id"] for row in rows])
        return await page(request, "petitions/mine.html", public=services.PUBLIC_STATUSES,
                          petitions=[shown(row, totals.get(row["id"], 0), places[row["id"]])
                                     for row in rows])

    # -- one petition -------------------------------------------------------------------------

    async def _visible(self, request: Request, petition_id: int) -> dict[str, Any]:
        """A public petition, or any of the viewer's own; nothing else exists for them."""
        row = await services.petition(petition_id)
        if row is None:
            raise NotFoundException()
        resident = sessions.identity_of(request).resident
        if row["status"] not in services.PUBLIC_STATUSES and (
                resident is None or resident["id"] != row["author"]):
            raise NotFoundException()
        return row

    @get("/{petition_id:int}", name="petitions:detail")
    async def detail(self, request: Request, petition_id: FromPath[int]) -> Template:
        row = await self._visible(request, petition_id)
        resident = sessions.identity_of(request).resident
        petition = shown(row, await services.count(petition_id),
                         (await place_names([row]))[petition_id])
        signed = refusal = None
        if resident is not None and row["status"] in services.SIGNABLE:
            signed = await services.signed(petition_id, resident["id"])
            refusal = await services.eligibility(row, resident)
        tally = await services.by_mahalla(petition_id)
        names = await mahalla_names(entry["mahalla"] for entry in tally)
        answer = await services.response(petition_id)
        documents = await services.attachments(petition_id) if answer else []
        original = (await services.petition(row["duplicate_of"])
                    if row["duplicate_of"] else None)
        device, new_device = _device(request)
        response = await page(
            request, "petitions/detail.html", petition=petition, signed=signed,
            refusal=(error_message(PetitionError(refusal), petition["place"], "sign")
                     if refusal else ""),
            is_author=resident is not None and resident["id"] == row["author"],
            tally=tally, mahalla_names=names, answer=answer, documents=documents,
            signature_points=await signature_points(tally, names),
            decision=label(services.DECISIONS, answer["decision"]) if answer else "",
            original=original, link=services.link(petition_id),
            public=services.PUBLIC_STATUSES, signable=services.SIGNABLE,
            just_signed=request.query_params.get("signed") == "1",
            just_withdrawn=request.query_params.get("withdrawn") == "1",
            **await moderation.page_context("petition", petition_id))
        if new_device:
            _keep_device(response, device)
        return response

    async def _refused(self, request: Request, petition_id: int, error: PetitionError,
                       action: str) -> Template:
        """The page that says, in words, why signing (or un-signing) was not done."""
        row = await self._visible(request, petition_id)
        if error.code == "not_found":
            raise NotFoundException()
        place = (await place_names([row]))[petition_id]
        status = STATUS_CODES.get(error.code, 400)
        titles = {403: locale.gettext("You cannot sign this petition"),
                  409: locale.gettext("Nothing has changed"),
                  429: locale.gettext("Too many signatures in a short time")}
        if error.code == "already_signed":
            titles[409] = locale.gettext("You have already signed")
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
        return await page(
            request, "petitions/message.html", status_code=status, headers=headers,
            title=titles.get(status, locale.gettext("This could not be done")),
            message=error_message(error, place, action), petition=row,
            to_profile=error.code in ("not_verified", "no_home", "outside_area"))

    @post("/{petition_id:int}/sign", name="petitions:sign")
    async def sign(self, request: Request, petition_id: FromPath[int]) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return _signin(f"/petitions/{petition_id}")
        device, new_device = _device(request)
        response: Response[Any]
        try:
            await services.sign(petition_id, resident["id"], channel="web",
                                address=_address(request), device=device)
        except PetitionError as error:
            response = await self._refused(request, petition_id, error, "sign")
        else:
            response = Redirect(f"/petitions/{petition_id}?signed=1")
        if new_device:
            _keep_device(response, device)
        return response

    @post("/{petition_id:int}/unsign", name="petitions:unsign")
    async def unsign(self, request: Request, petition_id: FromPath[int]) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return _signin(f"/petitions/{petition_id}")
        try:
            await services.withdraw_signature(petition_id, resident["id"])
        except PetitionError as error:
            return await self._refused(request, petition_id, error, "unsign")
        return Redirect(f"/petitions/{petition_id}?withdrawn=1")

    @get("/{petition_id:int}/poster", name="petitions:poster")
    async def poster(self, request: Request, petition_id: FromPath[int]) -> Template:
        row = await services.petition(petition_id)
        if row is None or row["status"] not in services.PUBLIC_STATUSES:
            raise NotFoundException()
        link = services.link(petition_id)
        petition = shown(row, await services.count(petition_id),
                         (await place_names([row]))[petition_id])
        return await page(request, "petitions/poster.html", petition=petition, link=link,
                          qr=qr_svg(link), text_limit=POSTER_TEXT)

    # -- starting and managing one's own petition ---------------------------------------------

    async def _new_form(self, request: Request, resident: dict[str, Any], errors: FormErrors,
                        values: dict[str, str], status_code: int = 200) -> Template:
        return await page(
            request, "petitions/new.html", status_code=status_code, errors=errors,
            values=values, choices=await addressees(resident),
            verified=services.can_start(resident),
            topics=services.TOPICS, sponsors_needed=get_settings().petition_sponsors)

    @get("/new", name="petitions:new")
    async def new(self, request: Request) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return _signin("/petitions/new")
        values = dict.fromkeys(TEXT_FIELDS, "")
        return await self._new_form(request, resident, FormErrors(), values)

    @post("/new", name="petitions:create")
    async def create(self, request: Request, data: Form) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return _signin("/petitions/new")
        values, text, errors = await typed_text(resident, data)
        if text is not None:
            try:
                petition_id = await services.create_draft(resident["id"], text)
            except PetitionError as error:
                errors.add(form_field(error, "start"), error_message(error))
            else:
                return Redirect(f"/petitions/{petition_id}/manage")
        return await self._new_form(request, resident, errors, values, 400)

    async def _own(self, request: Request, petition_id: int
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The petition and its author, who is the one asking; to anyone else it is not
        there."""
        resident = sessions.identity_of(request).resident
        row = await services.petition(petition_id)
        if resident is None or row is None or row["author"] != resident["id"]:
            raise NotFoundException()
        return row, resident

    async def _manage(self, request: Request, row: dict[str, Any], errors: FormErrors,
                      values: dict[str, str] | None = None, status_code: int = 200
                      ) -> Template:
        resident = sessions.identity_of(request).resident
        settings = get_settings()
        petition = shown(row, await services.count(row["id"]),
                         (await place_names([row]))[row["id"]])
        return await page(
            request, "petitions/manage.html", status_code=status_code, errors=errors,
            petition=petition, values=values or {key: row[key] for key in TEXT_FIELDS},
            choices=await addressees(resident) if resident else [],
            can_edit=services.can_edit(row), topics=services.TOPICS,
            sponsors=await services.sponsors(row["id"]),
            sponsors_needed=settings.petition_sponsors,
            sponsor_days=settings.petition_sponsor_days,
            sponsor_link=f"{settings.base_url}/petitions/sponsor/{row['sponsor_code']}",
            reason=label(services.REJECTION_REASONS, row["rejection_reason"])
            if row["rejection_reason"] else "",
            can_resubmit=row["status"] == services.REJECTED and row["moderation_rounds"] == 1,
            can_withdraw=services.can_withdraw(row), public=services.PUBLIC_STATUSES,
            wait=moderation_wait(await services.moderation_stats()),
            saved=request.query_params.get("saved") == "1")

    @get("/{petition_id:int}/manage", name="petitions:manage")
    async def manage(self, request: Request, petition_id: FromPath[int]) -> Response[Any]:
        if sessions.identity_of(request).resident is None:
            return _signin(f"/petitions/{petition_id}/manage")
        row, _ = await self._own(request, petition_id)
        return await self._manage(request, row, FormErrors())

    @post("/{petition_id:int}/edit", name="petitions:edit")
    async def edit(self, request: Request, petition_id: FromPath[int], data: Form
                   ) -> Response[Any]:
        row, resident = await self._own(request, petition_id)
        values, text, errors = await typed_text(resident, data)
        status = 400
        if text is not None:
            try:
                await services.edit(resident["id"], petition_id, text)
            except PetitionError as error:
                errors.add(form_field(error, "actions"), error_message(error))
                status = STATUS_CODES.get(error.code, 400)
            else:
                return Redirect(f"/petitions/{petition_id}/manage?saved=1")
        return await self._manage(request, row, errors, values, status)

    async def _author_action(self, request: Request, petition_id: int,
                             work: Callable[[int], Awaitable[None]]) -> Response[Any]:
        row, resident = await self._own(request, petition_id)
        try:
            await work(resident["id"])
        except PetitionError as error:
            errors = FormErrors()
            errors.add("actions", error_message(error))
            return await self._manage(request, row, errors,
                                      status_code=STATUS_CODES.get(error.code, 400))
        return Redirect(f"/petitions/{petition_id}/manage")

    @post("/{petition_id:int}/seek-sponsors", name="petitions:seek_sponsors")
    async def seek_sponsors(self, request: Request, petition_id: FromPath[int]
                            ) -> Response[Any]:
        async def work(resident_id: int) -> None:
            await services.seek_sponsors(resident_id, petition_id)
        return await self._author_action(request, petition_id, work)

    @post("/{petition_id:int}/resubmit", name="petitions:resubmit")
    async def resubmit(self, request: Request, petition_id: FromPath[int]) -> Response[Any]:
        async def work(resident_id: int) -> None:
            await services.resubmit(resident_id, petition_id)
        return await self._author_action(request, petition_id, work)

    @post("/{petition_id:int}/withdraw", name="petitions:withdraw")
    async def withdraw(self, request: Request, petition_id: FromPath[int]) -> Response[Any]:
        async def work(resident_id: int) -> None:
            await services.withdraw(resident_id, petition_id)
        return await self._author_action(request, petition_id, work)

    # -- sponsoring ---------------------------------------------------------------------------

    async def _sponsor_page(self, request: Request, row: dict[str, Any], errors: FormErrors,
                            status_code: int = 200, done: str = "") -> Template:
        resident = sessions.identity_of(request).resident
        settings = get_settings()
        petition = shown(row, 0, (await place_names([row]))[row["id"]])
        return await page(
            request, "petitions/sponsor.html", status_code=status_code, errors=errors,
            petition=petition, sponsors=await services.sponsors(row["id"]),
            sponsors_needed=settings.petition_sponsors, done=done,
            is_author=resident is not None and resident["id"] == row["author"],
            seeking=row["status"] == services.SEEKING_SPONSORS,
            public=row["status"] in services.PUBLIC_STATUSES)

    async def _by_code(self, code: str) -> dict[str, Any]:
        row = await services.by_sponsor_code(code) if len(code) <= 32 else None
        if row is None:
            raise NotFoundException()
        return row

    @get("/sponsor/{code:str}", name="petitions:sponsor_page")
    async def sponsor_page(self, request: Request, code: FromPath[str]) -> Template:
        row = await self._by_code(code)
        done = request.query_params.get("done", "")
        return await self._sponsor_page(request, row, FormErrors(),
                                        done=done if done in ("sponsored", "moderation") else "")

    @post("/sponsor/{code:str}", name="petitions:sponsor")
    async def sponsor(self, request: Request, code: FromPath[str]) -> Response[Any]:
        row = await self._by_code(code)
        resident = sessions.identity_of(request).resident
        if resident is None:
            return _signin(f"/petitions/sponsor/{code}")
        try:
            moderation = await services.sponsor(row["id"], resident["id"])
        except PetitionError as error:
            errors = FormErrors()
            place = (await place_names([row]))[row["id"]]
            errors.add("sponsor", error_message(error, place))
            return await self._sponsor_page(request, row, errors,
                                            STATUS_CODES.get(error.code, 400))
        done = "moderation" if moderation else "sponsored"
        return Redirect(f"/petitions/sponsor/{code}?done={done}")

