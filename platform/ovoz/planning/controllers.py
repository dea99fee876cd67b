"""Residents' pages of participatory budgeting: the cycles and their proposals, proposing a
project, the ballot, the results with why each project won or lost, and the selected projects
being built. Every page works without JavaScript; htmx and the scripts only add to them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Annotated, Any

import geojson
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, QueryParameter
from litestar.response import Redirect, Template

from ovoz.accountability import clock
from ovoz.accounts import sessions
from ovoz.accounts.permissions import Action, allowed
from ovoz.accounts.services import public_name
from ovoz.accounts.services import resident as resident_row
from ovoz.geo import services as geo
from ovoz.geo.tables import Mahalla
from ovoz.i18n import locale
from ovoz.moderation import services as moderation
from ovoz.notify import services as notify
from ovoz.pagination import MAX_PER_PAGE
from ovoz.planning import services
from ovoz.planning.services import PlanningError
from ovoz.reports import storage
from ovoz.reports.controllers import photo_message
from ovoz.reports.photos import PhotoError, process_photo
from ovoz.settings import get_settings
from ovoz.web.forms import Filter, FormErrors, chosen_id
from ovoz.web.templating import page

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
MultipartForm = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
PageNumber = Annotated[int, QueryParameter(name="page", ge=1, le=100_000)]
# Filters come from <select>s whose "all" choice is empty, so they are read as text.
GEOJSON = "application/geo+json"
PROPOSAL_FIELDS = ("title", "description", "category", "mahalla_id", "estimated_cost", "lat",
                   "lon")
# At zoom 6 a phone shows the whole country, so every pilot district is on the first view.
UZBEKISTAN_CENTRE = (41.0, 64.5)
STATUS_CODES = {
    "not_found": 404, "not_author": 404, "too_many": 429, "not_verified": 403, "no_home": 403,
    "outside_district": 403, "wrong_phase": 409, "not_selected": 409,
}
# Refusals that concern the person or the moment rather than what they typed.
REFUSALS = ("not_verified", "no_home", "outside_district", "wrong_phase", "not_found")


# -- reading what was sent ---------------------------------------------------------------------

def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "").strip()


def _values(data: Mapping[str, Any], key: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    return [str(item) for item in (value if isinstance(value, list) else [value])]


def _soums(text: str) -> int | None:
    """A sum typed the way people write money: "200 000 000", "200,000,000" or "200000000"."""
    digits = "".join(ch for ch in text if ch not in " \u00a0\u202f,.'’")
    return int(digits) if digits.isdecimal() and len(digits) <= 16 else None


def _coordinate(text: str) -> float | None:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def label(labels: Mapping[str, str], code: str) -> str:
    """A code's label in the reader's language (the code itself if it has none)."""
    return locale.gettext(labels.get(code, code))


def _signin(path: str) -> Redirect:
    return Redirect(f"/signin?next={path}")


def _is_htmx(request: Request, target: str) -> bool:
    return bool(request.headers.get("hx-request")) and request.headers.get("hx-target") == target


# -- what pages show ---------------------------------------------------------------------------

def last_day(cycle: Mapping[str, Any], phase: str) -> date | None:
    """The last whole day of a phase in Tashkent (a phase ends at midnight before the next)."""
    ends = services.phase_ends(cycle, phase)
    return clock.last_day(ends) if ends else None


def phase_steps(cycle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each phase with its dates, and where the cycle is now."""
    current = services.PHASES.index(services.phase_of(cycle))
    steps = []
    for phase, column in services.PHASE_STARTS.items():
        index = services.PHASES.index(phase)
        start, last = cycle[column], last_day(cycle, phase)
        steps.append({"phase": phase, "label": label(services.PHASE_LABELS, phase),
                      "start": start, "last": last if last and last >= start else None,
                      "current": index == current, "past": index < current})
    return steps


def _district_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The district's columns of a cycle row joined with its district."""
    return {key.removeprefix("district."): value for key, value in row.items()
            if key.startswith("district.")}


def shown_cycle(row: Mapping[str, Any], district: Mapping[str, Any] | None) -> dict[str, Any]:
    phase = services.phase_of(row)
    return {**row, "phase": phase, "phase_label": label(services.PHASE_LABELS, phase),
            "district_name": locale.localised_name(district) if district else "",
            "phase_last": last_day(row, phase)}


async def mahalla_names(ids: Iterable[int | None]) -> dict[int, str]:
    wanted = [mahalla_id for mahalla_id in set(ids) if mahalla_id]
    if not wanted:
        return {}
    rows = await Mahalla.select().where(Mahalla.id.is_in(wanted))
    return {row["id"]: locale.localised_name(row) for row in rows}


def shown_proposal(row: Mapping[str, Any], names: Mapping[int, str],
                   totals: Mapping[int, int] | None = None) -> dict[str, Any]:
    """A proposal with what lists and pages show: labels in words, the cost the ballot uses
    (the estimate until reviewed), votes when they may be seen, and whether it is late."""
    votes = row["votes"] if row["votes"] is not None else (
        totals.get(row["id"], 0) if totals is not None else None)
    reviewed = row["reviewed_cost"] is not None
    return {
        **row,
        "status_label": label(services.PROPOSAL_STATUSES, row["status"]),
        "category_label": label(services.CATEGORIES, row["category"]),
        "mahalla_name": names.get(row["mahalla"] or 0, ""),
        "cost": row["reviewed_cost"] if reviewed else row["estimated_cost"],
        "cost_reviewed": reviewed,
        "shown_votes": votes,
        "delivery_label": (label(services.DELIVERY_STATUSES, row["delivery_status"])
                           if row["delivery_status"] else ""),
        "overdue": services.overdue(row),
        "explanation": services.explanation(row),
    }


def cycle_error(error: PlanningError, action: str, cycle: Mapping[str, Any] | None = None,
                district: str = "") -> str:
    """The resident-facing words for a rule that keeps them from proposing (action "propose"),
    voting ("vote"), withdrawing ("withdraw") or commenting ("comment")."""
    if error.code == "not_verified" and action in ("vote", "comment"):
        return locale.gettext(
            "Your phone number is not confirmed. Sign out and sign in again with the code we "
            "send by SMS.")
    if error.code == "not_verified":
        return locale.gettext(
            "Only residents whose residence is confirmed can propose projects. Ask your mahalla "
            "office to confirm it, or confirm who you are with OneID in your profile.")
    if error.code == "outside_district":
        return locale.gettext(
            "This cycle is for residents of %(district)s. The home mahalla in your profile is "
            "outside it.", district=district)
    if error.code == "too_many":
        minutes = max(1, math.ceil(error.retry_after / 60))
        if action == "comment":
            return locale.ngettext(
                "You have written many comments in a short time. Please try again in %(num)s "
                "minute.",
                "You have written many comments in a short time. Please try again in %(num)s "
                "minutes.", minutes)
        return locale.ngettext(
            "You have changed your vote many times in a short time. Please try again in "
            "%(num)s minute.",
            "You have changed your vote many times in a short time. Please try again in "
            "%(num)s minutes.", minutes)
    if error.code == "wrong_phase" and cycle is not None:
        return phase_message(cycle, action)
    messages = {
        "no_home": locale.gettext(
            "Your profile has no home mahalla. Choose it in your profile first."),
        "not_author": locale.gettext("Only the author can withdraw a proposal."),
        "not_selected": locale.gettext("Comments are open only on selected projects."),
        "bad_comment": locale.gettext(
            "Write a comment of %(min)s to %(max)s letters.", min=services.COMMENT_MIN,
            max=services.COMMENT_MAX),
        "wrong_phase": locale.gettext("This cannot be done in this phase of the cycle."),
        "not_found": locale.gettext("This cycle or proposal does not exist."),
    }
    return messages.get(error.code, locale.gettext("This could not be done."))


def phase_message(cycle: Mapping[str, Any], action: str) -> str:
    """Why it is not the time: when the phase for this action starts, or when it ended."""
    phase = services.phase_of(cycle)
    if action == "withdraw":
        return locale.gettext(
            "A proposal can be withdrawn only while proposals are accepted and before it is "
            "reviewed.")
    wanted = services.VOTING if action == "vote" else services.PROPOSALS
    before = services.PHASES.index(phase) < services.PHASES.index(wanted)
    start = locale.format_date(cycle[services.PHASE_STARTS[wanted]])
    end = locale.format_date(last_day(cycle, wanted))
    if action == "vote":
        return (locale.gettext("Voting starts on %(date)s.", date=start) if before else
                locale.gettext("Voting closed at the end of %(date)s.", date=end))
    return (locale.gettext("Proposals can be sent from %(date)s.", date=start) if before else
            locale.gettext("Proposals were accepted until the end of %(date)s.", date=end))


def proposal_problems(values: Mapping[str, str], limit: int, errors: FormErrors
                      ) -> services.ProposalText | None:
    """Every field's problem at once, against the services' limits, so the form shows them
    together; services.submit_proposal stays the authority (district, point, sub-budget)."""
    if not services.TITLE_MIN <= len(" ".join(values["title"].split())) <= services.TITLE_MAX:
        errors.add("title", locale.gettext(
            "Give the proposal a title of %(min)s to %(max)s letters.",
            min=services.TITLE_MIN, max=services.TITLE_MAX))
    if not services.TEXT_MIN <= len(" ".join(values["description"].split())
                                    ) <= services.TEXT_MAX:
        errors.add("description", locale.gettext(
            "Describe the project in %(min)s to %(max)s letters.",
            min=services.TEXT_MIN, max=services.TEXT_MAX))
    if values["category"] not in services.CATEGORIES:
        errors.add("category", locale.gettext("Choose what the project is about."))
    mahalla_id = chosen_id(values["mahalla_id"])
    if mahalla_id is None:
        errors.add("mahalla_id", locale.gettext("Choose the mahalla from the list."))
    cost = _soums(values["estimated_cost"])
    if cost is None or not 0 < cost <= limit:
        errors.add("estimated_cost", cost_message(limit))
    lat, lon = _coordinate(values["lat"]), _coordinate(values["lon"])
    typed = bool(values["lat"] or values["lon"])
    if typed and (lat is None or lon is None):
        errors.add("lat", point_message())
    if errors or mahalla_id is None or cost is None:
        return None
    return services.ProposalText(
        title=values["title"], description=values["description"], category=values["category"],
        mahalla_id=mahalla_id, estimated_cost=cost, lat=lat if typed else None,
        lon=lon if typed else None)


def cost_message(limit: int) -> str:
    return locale.gettext(
        "Write the estimated cost in whole soums, more than 0 and at most %(amount)s.",
        amount=locale.format_number(limit))


def point_message() -> str:
    return locale.gettext(
        "The place on the map must be inside the district. Place the pin again, or leave the "
        "position empty.")


def proposal_error(error: PlanningError, limit: int) -> str:
    """The words for what services.submit_proposal refused in the form's fields."""
    if error.code == "bad_cost":
        return cost_message(limit)
    if error.code == "bad_point":
        return point_message()
    messages = {
        "bad_title": locale.gettext(
            "Give the proposal a title of %(min)s to %(max)s letters.",
            min=services.TITLE_MIN, max=services.TITLE_MAX),
        "bad_description": locale.gettext(
            "Describe the project in %(min)s to %(max)s letters.",
            min=services.TEXT_MIN, max=services.TEXT_MAX),
        "bad_category": locale.gettext("Choose what the project is about."),
        "bad_mahalla": locale.gettext("Choose the mahalla from the list."),
        "bad_photos": locale.gettext("You can add at most %(count)s photos.",
                                     count=services.MAX_PHOTOS),
    }
    return messages.get(error.code, locale.gettext("This could not be done."))


def ballot_error(error: PlanningError, cycle: Mapping[str, Any], limit: int, total: int) -> str:
    """The words for a ballot the services refused, beside the list of projects."""
    if error.code == "too_many_choices":
        return locale.ngettext("Choose at most %(num)s project.",
                               "Choose at most %(num)s projects.", cycle["max_choices"] or 0)
    if error.code == "over_budget":
        return locale.gettext(
            "The projects you chose cost %(total)s soums together, more than the %(budget)s "
            "soums there are. Untick some of them.",
            total=locale.format_number(total), budget=locale.format_number(limit))
    if error.code == "no_choice":
        return locale.gettext("Choose at least one project.")
    if error.code == "bad_choice":
        return locale.gettext(
            "One of the projects you chose is not on your ballot. Choose again from the list.")
    return cycle_error(error, "vote", cycle)


async def uploaded_photos(data: Mapping[str, Any], errors: FormErrors
                          ) -> list[storage.StoredPhoto]:
    """Photos kept from an earlier attempt plus new uploads, each checked and stored, so a
    failed submit loses none of them."""
    photos = [photo for name in _values(data, "kept_photo")
              if (photo := storage.stored(name)) is not None]
    uploads = data.get("photos") or []
    limit = get_settings().max_upload_mb * 1024 * 1024
    for upload in uploads if isinstance(uploads, list) else [uploads]:
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        content = await upload.read()
        if not content:
            continue
        try:
            photos.append(storage.save(process_photo(content, limit)))
        except PhotoError as error:
            errors.add("photos", photo_message(error))
    if len(photos) > services.MAX_PHOTOS:
        errors.add("photos", locale.gettext("You can add at most %(count)s photos.",
                                            count=services.MAX_PHOTOS))
        photos = photos[:services.MAX_PHOTOS]
    return photos


def _features(rows: Iterable[Mapping[str, Any]]) -> geojson.FeatureCollection:
    """Proposals with a point, shaped as static/js/map.js draws report markers: a link named
    by the title, and the state in words."""
    features = []
    for row in rows:
        if row["lat"] is None or row["lon"] is None:
            continue
        status = (label(services.DELIVERY_STATUSES, row["delivery_status"])
                  if row["delivery_status"] else label(services.PROPOSAL_STATUSES, row["status"]))
        features.append(geojson.Feature(
            geometry=geojson.Point((row["lon"], row["lat"])),
            properties={"id": row["id"], "url": f"/proposals/{row['id']}",
                        "category_name": row["title"], "status_label": status}))
    return geojson.FeatureCollection(features)


def _map_centre(district_id: int | None, rows: Iterable[Mapping[str, Any]] = ()
                ) -> tuple[tuple[float, float], int]:
    """The chosen district, else the first project with a point, else the whole country."""
    bounds = geo.district_bounds().get(district_id or 0)
    if bounds is not None:
        return bounds.centre, 11
    point = next(((row["lat"], row["lon"]) for row in rows
                  if row["lat"] is not None and row["lon"] is not None), None)
    return (point, 11) if point is not None else (UZBEKISTAN_CENTRE, 6)


class PlanningController(Controller):
    include_in_schema = False

    # -- cycles -------------------------------------------------------------------------------

    @get("/cycles", name="planning:index")
    async def index(self, request: Request, page_number: PageNumber = 1,
                    district: Filter = None) -> Template:
        district_id = chosen_id(district)
        found = await services.cycles([district_id] if district_id else None, page_number,
                                      get_settings().page_size)
        found = replace(found, items=[shown_cycle(row, _district_of(row))
                                      for row in found.items])
        template = "planning/_cycles.html" if _is_htmx(request, "cycles") else \
            "planning/index.html"
        response = await page(request, template, cycles=found, district_id=district_id,
                              pilots=await geo.pilot_districts())
        response.headers["Vary"] = "HX-Request, HX-Target"
        return response

    async def _cycle(self, cycle_id: int) -> dict[str, Any]:
        row = await services.cycle(cycle_id)
        if row is None:
            raise NotFoundException()
        return row

    async def _shown_cycle(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return shown_cycle(row, await geo.district(row["district"]))

    @get("/cycles/{cycle_id:int}", name="planning:cycle")
    async def cycle(
        self, request: Request, cycle_id: FromPath[int], page_number: PageNumber = 1,
        mahalla: Filter = None, category: Filter = None, status: Filter = None,
    ) -> Template:
        row = await self._cycle(cycle_id)
        cycle = await self._shown_cycle(row)
        mahallas = await geo.mahallas_of(row["district"])
        names = {m["id"]: locale.localised_name(m) for m in mahallas}
        budgets = await services.mahalla_budgets(cycle_id)
        filters = {"mahalla": chosen_id(mahalla),
                   "category": category if category in services.CATEGORIES else None,
                   "status": status if status in services.PUBLIC_PROPOSAL_STATUSES else None}
        visible = services.totals_visible(row)
        totals = await services.running_totals(cycle_id) if visible else None
        found = await services.proposals(
            cycle_id, [filters["status"]] if filters["status"] else
            services.PUBLIC_PROPOSAL_STATUSES, filters["mahalla"], filters["category"],
            page_number, get_settings().page_size)
        found = replace(found, items=[shown_proposal(p, names, totals) for p in found.items])
        if _is_htmx(request, "proposals"):
            response = await page(request, "planning/_proposals.html", cycle=cycle,
                                  proposals=found, totals_visible=visible)
            response.headers["Vary"] = "HX-Request, HX-Target"
            return response
        identity = sessions.identity_of(request)
        resident = identity.resident
        following, receipt, propose_refusal, vote_refusal = False, None, "", ""
        if resident is not None:
            following = services.cycle_subject(cycle_id) in await notify.follows_of(
                resident["id"])
            receipt = await services.ballot_of(resident["id"], cycle_id)
            if cycle["phase"] == services.PROPOSALS:
                code = await services.proposer_eligibility(row, resident)
                propose_refusal = cycle_error(PlanningError(code), "propose", row,
                                              cycle["district_name"]) if code else ""
            if cycle["phase"] == services.VOTING:
                code = await services.voter_eligibility(row, resident)
                vote_refusal = cycle_error(PlanningError(code), "vote", row,
                                           cycle["district_name"]) if code else ""
        response = await page(
            request, "planning/cycle.html", cycle=cycle, steps=phase_steps(row),
            budgets=sorted(((names.get(m, ""), amount) for m, amount in budgets.items())),
            proposals=found, filters=filters, totals_visible=visible,
            turnout=await services.turnout(cycle_id) if visible else None,
            mahallas=[m for m in mahallas if not budgets or m["id"] in budgets],
            categories=services.CATEGORIES, statuses=services.PUBLIC_PROPOSAL_STATUSES,
            status_labels=services.PROPOSAL_STATUSES, following=following, receipt=receipt,
            propose_refusal=propose_refusal, vote_refusal=vote_refusal,
            selection_rules=services.SELECTION_RULES,
            voting_last=last_day(row, services.VOTING),
            can_manage=identity.staff_signed_in and allowed(
                identity, Action.MANAGE_CYCLES, await services.cycle_place(row)))
        response.headers["Vary"] = "HX-Request, HX-Target"
        return response

    @post("/cycles/{cycle_id:int}/follow", name="planning:follow_cycle")
    async def follow_cycle(self, request: Request, cycle_id: FromPath[int], data: Form
                           ) -> Redirect:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return _signin(f"/cycles/{cycle_id}")
        await self._cycle(cycle_id)
        subject = services.cycle_subject(cycle_id)
        if _text(data, "follow") == "no":
            await notify.unfollow(resident["id"], subject)
        else:
            await notify.follow(resident["id"], subject)
        return Redirect(f"/cycles/{cycle_id}#follow")

    async def _cannot_propose(self, request: Request, row: Mapping[str, Any],
                              code: services.ErrorCode, status_code: int = 200) -> Template:
        """A page that says in words why the resident cannot propose in this cycle now."""
        cycle = await self._shown_cycle(row)
        return await page(
            request, "planning/message.html", status_code=status_code, cycle=cycle,
            title=locale.gettext("You cannot propose a project now"),
            message=cycle_error(PlanningError(code), "propose", row, cycle["district_name"]),
            to_profile=code in ("not_verified", "no_home", "outside_district"))

    # -- proposing ----------------------------------------------------------------------------

    async def _proposal_form(self, request: Request, row: Mapping[str, Any],
                             errors: FormErrors, values: Mapping[str, Any],
                             photos: Sequence[storage.StoredPhoto],
                             similar: Sequence[Mapping[str, Any]], status_code: int = 200
                             ) -> Template:
        budgets = await services.mahalla_budgets(row["id"])
        mahallas = [m for m in await geo.mahallas_of(row["district"])
                    if not budgets or m["id"] in budgets]
        lat, lon = _coordinate(str(values.get("lat", ""))), _coordinate(
            str(values.get("lon", "")))
        centre = (lat, lon) if lat is not None and lon is not None else \
            _map_centre(row["district"])[0]
        return await page(
            request, "planning/propose.html", status_code=status_code,
            cycle=await self._shown_cycle(row), errors=errors, values=values, photos=photos,
            similar=similar, mahallas=mahallas, categories=services.CATEGORIES,
            budgets=budgets, centre=centre, max_photos=services.MAX_PHOTOS,
            max_upload_mb=get_settings().max_upload_mb,
            proposals_last=last_day(row, services.PROPOSALS))

    @get("/cycles/{cycle_id:int}/propose", name="planning:propose")
    async def propose(self, request: Request, cycle_id: FromPath[int]) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return _signin(f"/cycles/{cycle_id}/propose")
        row = await self._cycle(cycle_id)
        refusal = await services.proposer_eligibility(row, resident)
        if refusal is not None:
            return await self._cannot_propose(request, row, refusal)
        values = dict.fromkeys(PROPOSAL_FIELDS, "")
        values["mahalla_id"] = str(resident["mahalla"] or "")
        return await self._proposal_form(request, row, FormErrors(), values, [], [])

    @post("/cycles/{cycle_id:int}/propose", name="planning:submit")
    async def submit(self, request: Request, cycle_id: FromPath[int], data: MultipartForm
                     ) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return _signin(f"/cycles/{cycle_id}/propose")
        row = await self._cycle(cycle_id)
        refusal = await services.proposer_eligibility(row, resident)
        if refusal is not None:
            return await self._cannot_propose(request, row, refusal,
                                              STATUS_CODES.get(refusal, 403))
        errors = FormErrors()
        values: dict[str, Any] = {key: _text(data, key) for key in PROPOSAL_FIELDS}
        values["different"] = bool(_text(data, "different"))
        photos = await uploaded_photos(data, errors)
        budgets = await services.mahalla_budgets(cycle_id)
        limit = budgets.get(chosen_id(values["mahalla_id"]) or 0, row["budget"])
        text = proposal_problems(values, limit, errors)
        similar = await services.similar(cycle_id, values["title"], values["description"])
        if text is not None and not errors:
            if similar and not values["different"]:
                # Shown before sending: the same idea may already be proposed.
                if _text(data, "similar_shown"):
                    errors.add("different", locale.gettext(
                        "Tick “My proposal is different” to send it, or open a similar "
                        "proposal above instead."))
                return await self._proposal_form(request, row, errors, values, photos,
                                                 similar, 400 if errors else 200)
            try:
                proposal_id = await services.submit_proposal(resident["id"], cycle_id, text,
                                                             photos)
            except PlanningError as error:
                if error.code in REFUSALS:
                    return await self._cannot_propose(request, row, error.code,
                                                      STATUS_CODES.get(error.code, 403))
                errors.add(error.field or "title", proposal_error(error, limit))
            else:
                return Redirect(f"/proposals/{proposal_id}?sent=1")
        return await self._proposal_form(request, row, errors, values, photos, similar, 400)

    @get("/cycles/{cycle_id:int}/similar", name="planning:similar")
    async def similar(
        self, request: Request, cycle_id: FromPath[int],
        title: Annotated[str, QueryParameter(max_length=1000)] = "",
        description: Annotated[str, QueryParameter(max_length=8000)] = "",
        different: Annotated[str, QueryParameter(max_length=1)] = "",
    ) -> Template:
        """The similar proposals while the person types (htmx swaps this in, keeping the tick
        of "my proposal is different")."""
        await self._cycle(cycle_id)
        found = await services.similar(cycle_id, title[:services.TITLE_MAX],
                                       description[:services.TEXT_MAX])
        return await page(request, "planning/_similar.html", similar=found,
                          values={"different": bool(different)}, errors=FormErrors())

    # -- one proposal -------------------------------------------------------------------------

    async def _visible(self, request: Request, proposal_id: int) -> dict[str, Any]:
        """A proposal anyone may see; a withdrawn one only its author sees."""
        row = await services.proposal(proposal_id)
        if row is None:
            raise NotFoundException()
        resident = sessions.identity_of(request).resident
        if row["status"] == services.WITHDRAWN and (
                resident is None or resident["id"] != row["author"]):
            raise NotFoundException()
        return row

    async def _proposal_page(self, request: Request, proposal_id: int, errors: FormErrors,
                             comment_text: str = "", status_code: int = 200,
                             headers: dict[str, str] | None = None) -> Template:
        row = await self._visible(request, proposal_id)
        cycle_row = await self._cycle(row["cycle"])
        names = await mahalla_names([row["mahalla"]])
        proposal = shown_proposal(row, names)
        resident = sessions.identity_of(request).resident
        is_author = resident is not None and resident["id"] == row["author"]
        following = resident is not None and services.proposal_subject(
            proposal_id) in await notify.follows_of(resident["id"])
        author = await resident_row(row["author"]) if row["author"] else None
        selected = row["status"] == services.SELECTED
        merged = await services.proposal(row["merged_into"]) if row["merged_into"] else None
        comments = await services.comments(proposal_id) if selected else []
        return await page(
            request, "planning/proposal.html", status_code=status_code, headers=headers,
            proposal=proposal, cycle=await self._shown_cycle(cycle_row), errors=errors,
            photos=[p["name"] for p in await services.photos(proposal_id) if not p["update"]],
            author_name=public_name(author) if author else "", is_author=is_author,
            can_withdraw=is_author and row["status"] == services.SUBMITTED
            and services.phase_of(cycle_row) == services.PROPOSALS,
            merged=merged, following=following, selected=selected,
            timeline=await services.timeline(proposal_id) if selected else [],
            comments=comments, comment_text=comment_text,
            counted=row["status"] in (services.SELECTED, services.NOT_SELECTED),
            review_overdue=proposal["overdue"] and not selected,
            delivery_labels=services.DELIVERY_STATUSES,
            sent=request.query_params.get("sent") == "1",
            withdrawn=request.query_params.get("withdrawn") == "1",
            **await moderation.page_context("proposal", proposal_id))

    @get("/proposals/{proposal_id:int}", name="planning:proposal")
    async def proposal(self, request: Request, proposal_id: FromPath[int]) -> Template:
        return await self._proposal_page(request, proposal_id, FormErrors())

    @get("/proposals/{proposal_id:int}/point.geojson", name="planning:proposal_point",
         media_type=GEOJSON)
    async def proposal_point(self, request: Request, proposal_id: FromPath[int]
                             ) -> dict[str, Any]:
        return _features([await self._visible(request, proposal_id)])

    @post("/proposals/{proposal_id:int}/withdraw", name="planning:withdraw")
    async def withdraw(self, request: Request, proposal_id: FromPath[int]) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return _signin(f"/proposals/{proposal_id}")
        row = await self._visible(request, proposal_id)
        try:
            await services.withdraw_proposal(resident["id"], proposal_id)
        except PlanningError as error:
            if error.code in ("not_found", "not_author"):
                raise NotFoundException() from None
            errors = FormErrors()
            errors.add("actions", cycle_error(error, "withdraw", await self._cycle(
                row["cycle"])))
            return await self._proposal_page(request, proposal_id, errors,
                                             status_code=STATUS_CODES.get(error.code, 400))
        return Redirect(f"/proposals/{proposal_id}?withdrawn=1")

    @post("/proposals/{proposal_id:int}/comments", name="planning:comment")
    async def comment(self, request: Request, proposal_id: FromPath[int], data: Form
                      ) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return _signin(f"/proposals/{proposal_id}")
        await self._visible(request, proposal_id)
        text = _text(data, "text")
        try:
            await services.comment(resident["id"], proposal_id, text)
        except PlanningError as error:
            if error.code == "not_found":
                raise NotFoundException() from None
            errors = FormErrors()
            errors.add("text", cycle_error(error, "comment"))
            headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
            return await self._proposal_page(request, proposal_id, errors, text,
                                             STATUS_CODES.get(error.code, 400), headers)
        return Redirect(f"/proposals/{proposal_id}#comments")

    @post("/proposals/{proposal_id:int}/follow", name="planning:follow_proposal")
    async def follow_proposal(self, request: Request, proposal_id: FromPath[int], data: Form
                              ) -> Redirect:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return _signin(f"/proposals/{proposal_id}")
        await self._visible(request, proposal_id)
        subject = services.proposal_subject(proposal_id)
        if _text(data, "follow") == "no":
            await notify.unfollow(resident["id"], subject)
        else:
            await notify.follow(resident["id"], subject)
        return Redirect(f"/proposals/{proposal_id}#follow")

    # -- the ballot ---------------------------------------------------------------------------

    async def _ballot_context(self, row: Mapping[str, Any], resident: Mapping[str, Any]
                              ) -> dict[str, Any]:
        """The voter's choices (their mahalla's when the cycle has sub-budgets), the money they
        choose within, and what is recorded for them."""
        budgets = await services.mahalla_budgets(row["id"])
        limit = budgets.get(resident["mahalla"], 0) if budgets else row["budget"]
        every = await services.ballot_proposals(row["id"])
        names = await mahalla_names(p["mahalla"] for p in every)
        by_id = {p["id"]: shown_proposal(p, names) for p in every}
        options = [by_id[p["id"]] for p in every
                   if not budgets or p["mahalla"] == resident["mahalla"]]
        receipt = await services.ballot_of(resident["id"], row["id"])
        recorded = [by_id[i] for i in receipt.proposal_ids if i in by_id] if receipt else []
        return {"limit": limit, "options": options, "by_id": by_id, "receipt": receipt,
                "recorded": recorded, "sub_budgets": bool(budgets)}

    async def _ballot_page(self, request: Request, row: Mapping[str, Any],
                           resident: Mapping[str, Any], errors: FormErrors,
                           chosen: Iterable[int] | None = None, status_code: int = 200,
                           headers: dict[str, str] | None = None) -> Template:
        cycle = await self._shown_cycle(row)
        context = await self._ballot_context(row, resident)
        refusal = ""
        if cycle["phase"] != services.VOTING:
            refusal = phase_message(row, "vote")
        elif (code := await services.voter_eligibility(row, resident)) is not None:
            refusal = cycle_error(PlanningError(code), "vote", row, cycle["district_name"])
        receipt = context["receipt"]
        ticked = set(chosen if chosen is not None else
                     (receipt.proposal_ids if receipt else ()))
        return await page(
            request, "planning/ballot.html", status_code=status_code, headers=headers,
            cycle=cycle, errors=errors, refusal=refusal, ticked=ticked,
            to_profile=bool(refusal) and cycle["phase"] == services.VOTING,
            voting_last=last_day(row, services.VOTING), **context)

    @get("/cycles/{cycle_id:int}/ballot", name="planning:ballot")
    async def ballot(self, request: Request, cycle_id: FromPath[int]) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return _signin(f"/cycles/{cycle_id}/ballot")
        row = await self._cycle(cycle_id)
        return await self._ballot_page(request, row, resident, FormErrors())

    @post("/cycles/{cycle_id:int}/ballot", name="planning:cast")
    async def cast(self, request: Request, cycle_id: FromPath[int], data: Form
                   ) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return _signin(f"/cycles/{cycle_id}/ballot")
        row = await self._cycle(cycle_id)
        picked = _values(data, "proposal_ids")
        chosen = [int(text) for text in picked if text.isdecimal() and len(text) <= 12]
        try:
            if len(chosen) != len(picked):
                raise PlanningError("bad_choice", "proposal_ids")
            await services.cast_ballot(resident["id"], cycle_id, chosen)
        except PlanningError as error:
            context = await self._ballot_context(row, resident)
            total = sum(context["by_id"][i]["cost"] for i in set(chosen)
                        if i in context["by_id"])
            errors = FormErrors()
            # A refusal of the person or the moment is said in place of the list.
            if error.code not in REFUSALS:
                errors.add("proposal_ids", ballot_error(error, row, context["limit"], total))
            headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
            return await self._ballot_page(request, row, resident, errors, chosen,
                                           STATUS_CODES.get(error.code, 400), headers)
        return Redirect(f"/cycles/{cycle_id}/ballot/recorded")

    @get("/cycles/{cycle_id:int}/ballot/recorded", name="planning:recorded")
    async def recorded(self, request: Request, cycle_id: FromPath[int]) -> Response[Any]:
        """The confirmation: exactly what is recorded and will be counted."""
        resident = sessions.identity_of(request).resident
        if resident is None:
            return _signin(f"/cycles/{cycle_id}/ballot")
        row = await self._cycle(cycle_id)
        context = await self._ballot_context(row, resident)
        if context["receipt"] is None:
            return Redirect(f"/cycles/{cycle_id}/ballot")
        return await page(request, "planning/ballot_recorded.html",
                          cycle=await self._shown_cycle(row),
                          voting_last=last_day(row, services.VOTING), **context)

    # -- results ------------------------------------------------------------------------------

    @get("/cycles/{cycle_id:int}/results", name="planning:results")
    async def results(self, request: Request, cycle_id: FromPath[int]) -> Template:
        row = await self._cycle(cycle_id)
        published = await services.results(cycle_id)
        every = await services.ballot_proposals(cycle_id)
        names = await mahalla_names([p["mahalla"] for p in every]
                                    + [r["mahalla"] for r in published])
        projects = sorted((shown_proposal(p, names) for p in every),
                          key=lambda p: (-(p["votes"] or 0), p["id"]))
        parts = [{**result, "mahalla_name": names.get(result["mahalla"] or 0, ""),
                  "projects": [p for p in projects
                               if result["mahalla"] is None or p["mahalla"] == result["mahalla"]]}
                 for result in published]
        return await page(request, "planning/results.html", cycle=await self._shown_cycle(row),
                          parts=parts, selection_rules=services.SELECTION_RULES,
                          voting_last=last_day(row, services.VOTING))

    @get("/cycles/{cycle_id:int}/ballots.pb", name="planning:ballots_pb")
    async def ballots_pb(self, cycle_id: FromPath[int], mahalla: Filter = None
                         ) -> Response[Any]:
        """The anonymised ballots in the pabulib format, for anyone to count again."""
        mahalla_id = chosen_id(mahalla)
        try:
            text = await services.export_pb(cycle_id, mahalla_id)
        except PlanningError as error:
            if error.code == "choose_mahalla":
                return Redirect(f"/cycles/{cycle_id}/results")
            raise NotFoundException() from None
        name = f"ovoz-cycle-{cycle_id}" + (f"-mahalla-{mahalla_id}" if mahalla_id else "")
        return Response(text, media_type="text/plain; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{name}.pb"'})

    # -- selected projects across cycles ------------------------------------------------------

    @get("/projects", name="planning:projects")
    async def projects(self, request: Request, page_number: PageNumber = 1,
                       district: Filter = None, status: Filter = None) -> Template:
        district_id = chosen_id(district)
        status = status if status in services.DELIVERY_STATUSES else None
        found = await services.winners(district_id, status, page_number,
                                       get_settings().page_size)
        names = await mahalla_names(p["mahalla"] for p in found.items)
        found = replace(found, items=[shown_proposal(p, names) for p in found.items])
        template = "planning/_projects.html" if _is_htmx(request, "projects") else \
            "planning/projects.html"
        centre, zoom = _map_centre(district_id, found.items)
        response = await page(
            request, template, projects=found, district_id=district_id, status=status,
            pilots=await geo.pilot_districts(), delivery_labels=services.DELIVERY_STATUSES,
            centre=centre, zoom=zoom,
            map_query="&".join(f"{key}={value}" for key, value in (
                ("district", district_id), ("status", status)) if value))
        response.headers["Vary"] = "HX-Request, HX-Target"
        return response

    @get("/projects.geojson", name="planning:projects_geojson", media_type=GEOJSON)
    async def projects_geojson(self, district: Filter = None, status: Filter = None
                               ) -> dict[str, Any]:
        """The selected projects with a point, for the map (the first page's worth)."""
        found = await services.winners(
            chosen_id(district), status if status in services.DELIVERY_STATUSES else None, 1,
            MAX_PER_PAGE)
        return _features(found.items)


