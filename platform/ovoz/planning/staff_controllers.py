"""Staff pages of participatory budgeting: the cycles an official runs, creating one, the review
queue, one proposal's review, merge and delivery, and ballots recorded at the mahalla desk.
Every rule is the services' (and assisted's); these pages parse, authorise and render."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from ovoz.accountability import clock, inbox
from ovoz.accountability import services as obligations
from ovoz.accounts import desk, sessions
from ovoz.accounts.controllers import sign_in_message
from ovoz.accounts.permissions import (
    NATIONAL,
    Action,
    PermissionDenied,
    Place,
    StaffMember,
    require,
)
from ovoz.accounts.phones import InvalidPhone
from ovoz.accounts.services import SignInError
from ovoz.accounts.services import resident as resident_row
from ovoz.accounts.sms import SmsError, mask_phone
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.pagination import MAX_PER_PAGE, Page
from ovoz.planning import assisted, services
from ovoz.reports import storage
from ovoz.reports.controllers import MultipartForm, PageNumber, uploaded_photos
from ovoz.settings import get_settings
from ovoz.web.forms import Filter, FormErrors, chosen_id
from ovoz.web.templating import page

Form = URLEncodedBody[dict[str, Any]]
Signed = tuple[sessions.Identity, StaffMember]
SIGN_IN = "/staff/signin"
PHASE_FIELDS = tuple(services.PHASE_STARTS.values())
WAITING = (services.SUBMITTED, services.IN_REVIEW)
SATISFACTIONS = {
    "cost": (locale.lazy("Money: the cost of the chosen projects that are built"),
             locale.lazy("A voter counts as satisfied by the money spent on the projects they "
                         "chose. The usual choice.")),
    "cardinality": (locale.lazy("Number: how many of the chosen projects are built"),
                    locale.lazy("A voter counts as satisfied by the number of their projects "
                                "that are built, whatever they cost.")),
}
COMPLETIONS = {
    "none": (locale.lazy("None"),
             locale.lazy("Money the equal shares leave unspent stays unspent.")),
    "add1": (locale.lazy("Raise the shares, then most votes first"),
             locale.lazy("Every voter's share is raised while that buys more projects; what is "
                         "still left goes to the projects with the most votes.")),
}
BALLOT_HINTS = {
    services.APPROVAL: locale.lazy("Each voter ticks up to the number of projects set below."),
    services.KNAPSACK: locale.lazy("Each voter ticks projects whose costs together fit in the "
                                   "budget."),
}
SELECTION_HINTS = {
    services.GREEDY: locale.lazy("Projects are taken in order of votes, each if it still fits "
                                 "in the money left."),
    services.EQUAL_SHARES: locale.lazy(
        "Every voter holds an equal share of the budget; a project is bought when its "
        "supporters can pay for it together. Smaller mahallas and groups get their share."),
}
NOTICES = {
    "created": locale.lazy("The cycle is created. Its rules are fixed and shown to voters."),
    "rescheduled": locale.lazy("The new dates are saved."),
    "reviewed": locale.lazy("The review is saved. The author is told."),
    "merged": locale.lazy("The proposal is merged. Both authors are told."),
    "delivery": locale.lazy("The update is added to the project's timeline. Its followers "
                            "are told."),
}


def planning_message(error: services.PlanningError, max_choices: int | None = None) -> str:
    """The staff-facing words for each broken rule."""
    messages = {
        "bad_title": locale.gettext("Write a title of %(min)s to %(max)s characters.",
                                    min=services.TITLE_MIN, max=services.TITLE_MAX),
        "bad_budget": locale.gettext("Give the budget in whole soums, more than zero."),
        "bad_ballot_rule": locale.gettext("Choose how residents vote."),
        "bad_max_choices": locale.gettext(
            "Give how many projects each voter may choose: 1 to %(max)s.",
            max=services.MAX_CHOICES),
        "bad_selection_rule": locale.gettext("Choose how the winners are counted."),
        "bad_satisfaction": locale.gettext("Choose what a voter's satisfaction is measured by."),
        "bad_completion": locale.gettext("Choose what happens to money left over."),
        "bad_dates": locale.gettext(
            "Each phase must start at least a day after the one before it (implementation may "
            "start the day results are published), and no date may be in the past."),
        "bad_mahalla_budgets": locale.gettext(
            "Give each mahalla's budget in whole soums, more than zero, or leave it empty."),
        "bad_cost": locale.gettext(
            "Give the reviewed cost in whole soums: more than zero and within the budget."),
        "bad_reason": locale.gettext("Write the reason: at least 10 characters. It is public."),
        "bad_merge": locale.gettext(
            "Choose another proposal of the same cycle that is not merged or withdrawn."),
        "wrong_phase": locale.gettext("This can no longer be done: the cycle has moved on."),
        "bad_status": locale.gettext("Choose the status."),
        "bad_progress": locale.gettext(
            "Give the progress as a whole number from 0 to 100; a completed project is at 100."),
        "bad_spent": locale.gettext("Give the money spent in whole soums."),
        "bad_photos": locale.gettext("You can add at most %(count)s photos.",
                                     count=services.MAX_PHOTOS),
        "finished": locale.gettext("This project is completed or cancelled: its record is "
                                   "closed."),
        "not_selected": locale.gettext("Only a selected project is tracked."),
        "not_verified": locale.gettext("This resident's phone number is not verified."),
        "no_home": locale.gettext("This resident has not chosen a home mahalla in Ovoz."),
        "outside_district": locale.gettext(
            "This resident lives outside the cycle's district and cannot vote in it."),
        "no_choice": locale.gettext("Tick at least one project."),
        "too_many_choices": locale.ngettext(
            "Tick at most %(num)s project.", "Tick at most %(num)s projects.",
            max_choices or 0),
        "over_budget": locale.gettext(
            "The ticked projects cost more than the budget. Untick some of them."),
        "bad_choice": locale.gettext("A ticked project is not on this ballot. Tick them again "
                                     "from the list."),
    }
    return messages.get(error.code, locale.gettext("This could not be done."))


def assist_message(error: assisted.AssistError) -> str:
    return desk.message(error, assisted.PAPER_FORM_MAX)


def _staff(request: Request) -> Signed | None:
    identity = sessions.identity_of(request)
    if not identity.staff_signed_in or identity.staff is None:
        return None
    return identity, StaffMember(identity.staff["id"], identity.grants)


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key) or ""
    return str(value[-1] if isinstance(value, list) else value).strip()


def _values(data: Mapping[str, Any], key: str) -> list[Any]:
    values = data.get(key) or []
    return values if isinstance(values, list) else [values]


def _integer(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _soums(text: str) -> int | None:
    """Whole soums, as people type them: "1 200 000 000" or "1,200,000,000"."""
    digits = "".join(ch for ch in text if not (ch.isspace() or ch in ",'’_"))
    return int(digits) if digits.isascii() and digits.isdigit() else None


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _last_day(moment: datetime | None) -> date | None:
    return clock.last_day(moment) if moment else None


async def _managed_cycle(staff: StaffMember, cycle_id: int) -> dict[str, Any]:
    row = await services.cycle(cycle_id)
    if row is None:
        raise NotFoundException()
    require(staff, Action.MANAGE_CYCLES, await services.cycle_place(row))
    return row


async def _mahalla_names(district_id: int) -> dict[int, str]:
    return {row["id"]: locale.localised_name(row) for row in await geo.mahallas_of(district_id)}


async def _cycles_of(districts: list[dict[str, Any]], number: int) -> Page:
    names = {row["id"]: locale.localised_name(row) for row in districts}
    found = await services.cycles(list(names), number, get_settings().page_size)
    if found.items:
        waiting, late = await services.review_counts([row["id"] for row in found.items])
        for row in found.items:
            row["phase"] = services.phase_of(row)
            row["district_name"] = names[row["district"]]
            row["waiting"] = waiting.get(row["id"], 0)
            row["late"] = late.get(row["id"], 0)
    return found


async def _voting_at_desk(staff: StaffMember) -> list[dict[str, Any]]:
    """Cycles now voting in the districts of the staff member's mahallas."""
    districts = assisted.desk_districts(staff)
    if not districts:
        return []
    return [{**row, "voting_until": _last_day(services.phase_ends(row, services.VOTING))}
            for row in await services.voting_cycles(districts)]


def _with_review_state(rows: Iterable[dict[str, Any]], names: Mapping[int, str]
                       ) -> list[dict[str, Any]]:
    return [{**row, "mahalla_name": names.get(row["mahalla"], ""),
             "review_by": _last_day(row["review_due_at"]), "overdue": services.overdue(row)}
            for row in rows]


def _labels() -> dict[str, Any]:
    return {"phase_labels": services.PHASE_LABELS, "ballot_rules": services.BALLOT_RULES,
            "selection_rules": services.SELECTION_RULES,
            "proposal_statuses": services.PROPOSAL_STATUSES,
            "delivery_statuses": services.DELIVERY_STATUSES,
            "categories": services.CATEGORIES, "satisfactions": SATISFACTIONS,
            "completions": COMPLETIONS, "notices": NOTICES}


def _swaps(request: Request, target: str) -> bool:
    """Whether htmx asks for just this region of the page."""
    return bool(request.headers.get("hx-request")) and request.headers.get("hx-target") == target


def _notice(done: str | None) -> str | None:
    return done if done in NOTICES else None


class PlanningStaffController(Controller):
    path = "/staff"
    include_in_schema = False

    # -- the cycles -------------------------------------------------------------------------

    @get("/cycles", name="planning:staff")
    async def cycles(self, request: Request, page_number: PageNumber = 1) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        staff = found[1]
        managed = await services.managed_districts(staff)
        assisting = bool(assisted.desk_districts(staff))
        if not managed and not assisting:
            raise PermissionDenied(Action.MANAGE_CYCLES, NATIONAL)
        cycles = await _cycles_of(managed, page_number) if managed else None
        if cycles is not None and _swaps(request, "cycles"):
            response = await page(request, "planning/staff/_cycles.html", **_labels(),
                                  cycles=cycles)
        else:
            response = await page(
                request, "planning/staff/index.html", **_labels(), cycles=cycles,
                district_names=[locale.localised_name(row) for row in managed],
                assisting=assisting, at_desk=await _voting_at_desk(staff) if assisting else [])
        response.headers["Vary"] = "HX-Request, HX-Target"
        return response

    @get("/cycles/new", name="planning:staff_new")
    async def new(self, request: Request,
                  district: Filter = None) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        managed = await services.managed_districts(found[1])
        if not managed:
            raise PermissionDenied(Action.MANAGE_CYCLES, NATIONAL)
        chosen = next((row for row in managed if row["id"] == chosen_id(district)), managed[0])
        values = {"district_id": str(chosen["id"]), "ballot_rule": services.APPROVAL,
                  "selection_rule": services.GREEDY, "satisfaction": "cost",
                  "completion": "none"}
        return await self._new_form(request, managed, chosen, FormErrors(), values)

    async def _new_form(self, request: Request, managed: list[dict[str, Any]],
                        chosen: dict[str, Any], errors: FormErrors, values: dict[str, str],
                        status_code: int = 200) -> Template:
        return await page(
            request, "planning/staff/new.html", status_code=status_code, **_labels(),
            managed=managed, district=chosen, mahallas=await geo.mahallas_of(chosen["id"]),
            errors=errors, values=values, ballot_hints=BALLOT_HINTS,
            selection_hints=SELECTION_HINTS, phase_fields=PHASE_FIELDS,
            max_choices_limit=services.MAX_CHOICES,
            budgets_open=any(key.startswith("mahalla_budget")
                             and (values.get(key) or key in errors)
                             for key in {*values, "mahalla_budgets"}))

    @post("/cycles/new", name="planning:staff_create")
    async def create(self, request: Request, data: Form) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        staff = found[1]
        managed = await services.managed_districts(staff)
        if not managed:
            raise PermissionDenied(Action.MANAGE_CYCLES, NATIONAL)
        keys = ("district_id", "title", "description", "budget", "ballot_rule", "max_choices",
                "selection_rule", "satisfaction", "completion", *PHASE_FIELDS)
        values = {key: _text(data, key) for key in keys}
        values["show_running_totals"] = "yes" if _text(data, "show_running_totals") else ""
        errors = FormErrors()
        district_id = _integer(values["district_id"])
        chosen = next((row for row in managed if row["id"] == district_id), None)
        if chosen is None:
            district = await geo.district(district_id) if district_id else None
            if district is not None:
                raise PermissionDenied(Action.MANAGE_CYCLES,
                                       Place(district["region"], district["id"]))
            errors.add("district_id", locale.gettext("Choose the district."))
            chosen = managed[0]
            values["district_id"] = str(chosen["id"])
        budgets: dict[int, int] = {}
        for mahalla in await geo.mahallas_of(chosen["id"]):
            key = f"mahalla_budget_{mahalla['id']}"
            values[key] = _text(data, key)
            if not values[key]:
                continue
            amount = _soums(values[key])
            if amount is None:
                errors.add(key, locale.gettext(
                    "Give this mahalla's budget in whole soums, or leave it empty."))
            else:
                budgets[mahalla["id"]] = amount
        budget = _soums(values["budget"])
        if budget is None and not budgets:
            errors.add("budget", locale.gettext("Give the budget in whole soums, more than "
                                                "zero."))
        max_choices = _integer(values["max_choices"])
        if values["ballot_rule"] == services.APPROVAL and max_choices is None:
            errors.add("max_choices", locale.gettext(
                "Give how many projects each voter may choose: 1 to %(max)s.",
                max=services.MAX_CHOICES))
        days = {field: _day(values[field]) for field in PHASE_FIELDS}
        for field, day in days.items():
            if day is None:
                errors.add(field, locale.gettext("Give the date: day, month and year."))
        if not errors:
            form = services.CycleForm(
                district_id=chosen["id"], title=values["title"],
                description=values["description"], budget=budget or 0,
                ballot_rule=values["ballot_rule"], max_choices=max_choices,
                selection_rule=values["selection_rule"], satisfaction=values["satisfaction"],
                completion=values["completion"],
                show_running_totals=bool(values["show_running_totals"]),
                proposals_from=days["proposals_from"], review_from=days["review_from"],
                voting_from=days["voting_from"], results_from=days["results_from"],
                implementation_from=days["implementation_from"], mahalla_budgets=budgets)
            try:
                cycle_id = await services.create_cycle(staff, form)
            except services.PlanningError as error:
                errors.add(error.field or "title", planning_message(error))
            else:
                return Redirect(f"/staff/cycles/{cycle_id}?done=created")
        return await self._new_form(request, managed, chosen, errors, values, 400)

    @get("/cycles/{cycle_id:int}", name="planning:staff_cycle")
    async def cycle(
        self, request: Request, cycle_id: FromPath[int], page_number: PageNumber = 1,
        status: Annotated[str | None, QueryParameter(name="status", max_length=20)] = None,
        mahalla: Filter = None,
        done: Annotated[str | None, QueryParameter(name="done", max_length=20)] = None,
    ) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        row = await _managed_cycle(found[1], cycle_id)
        if _swaps(request, "queue"):
            response = await page(request, "planning/staff/_queue.html", **_labels(),
                                  cycle=row, **await self._queue(row, status,
                                                                 chosen_id(mahalla),
                                                                 page_number))
        else:
            response = await self._cycle_page(request, found[1], row, FormErrors(), {},
                                              status=status, mahalla=chosen_id(mahalla),
                                              page_number=page_number, done=done)
        response.headers["Vary"] = "HX-Request, HX-Target"
        return response

    async def _queue(self, cycle: Mapping[str, Any], status: str | None, mahalla: int | None,
                     number: int) -> dict[str, Any]:
        names = await _mahalla_names(cycle["district"])
        statuses: tuple[str, ...] = tuple(services.PROPOSAL_STATUSES)
        if status == "waiting":
            statuses = WAITING
        elif status in services.PROPOSAL_STATUSES:
            statuses = (status,)
        else:
            status = ""
        mahalla = mahalla if mahalla in names else None
        found = await services.proposals(cycle["id"], statuses, mahalla, number=number,
                                         per_page=get_settings().page_size)
        queue = Page(_with_review_state(found.items, names), found.number, found.per_page,
                     found.total)
        return {"queue": queue, "status": status, "mahalla": mahalla, "mahalla_names": names}

    async def _cycle_page(self, request: Request, staff: StaffMember, row: dict[str, Any],
                          errors: FormErrors, values: dict[str, str], status_code: int = 200,
                          status: str | None = None, mahalla: int | None = None,
                          page_number: int = 1, done: str | None = None) -> Template:
        at = services.now()
        phase = services.phase_of(row, at)
        started = {field: services.starts_at(row[field]) <= at for field in PHASE_FIELDS}
        for field in PHASE_FIELDS:
            values.setdefault(field, row[field].isoformat())
        queue = await self._queue(row, status, mahalla, page_number)
        names = queue["mahalla_names"]
        selected = []
        if phase in (services.RESULTS, services.IMPLEMENTATION):
            found = await services.proposals(row["id"], [services.SELECTED],
                                             per_page=MAX_PER_PAGE)
            selected = _with_review_state(found.items, names)
        district = await geo.district(row["district"])
        budgets = await services.mahalla_budgets(row["id"])
        return await page(
            request, "planning/staff/cycle.html", status_code=status_code, **_labels(),
            **queue, cycle=row, phase=phase, started=started, phase_fields=PHASE_FIELDS,
            district_name=locale.localised_name(district) if district else "",
            budgets=[(names.get(mahalla_id, str(mahalla_id)), amount)
                     for mahalla_id, amount in sorted(budgets.items())],
            turnout=await services.turnout(row["id"]), selected=selected, errors=errors,
            values=values, notice=_notice(done),
            can_assist=bool(assisted.desk_mahallas(staff, row)))

    @post("/cycles/{cycle_id:int}/reschedule", name="planning:staff_reschedule")
    async def reschedule(self, request: Request, cycle_id: FromPath[int], data: Form
                         ) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        staff = found[1]
        row = await _managed_cycle(staff, cycle_id)
        values = {field: _text(data, field) for field in PHASE_FIELDS}
        days = [_day(values[field]) for field in PHASE_FIELDS]
        errors = FormErrors()
        for field, day in zip(PHASE_FIELDS, days, strict=True):
            if day is None:
                errors.add(field, locale.gettext("Give the date: day, month and year."))
        if not errors:
            try:
                await services.reschedule(staff, cycle_id, [day for day in days if day])
            except services.PlanningError as error:
                at = services.now()
                # The message goes beside the first date that can still move.
                field = next((f for f in PHASE_FIELDS if services.starts_at(row[f]) > at),
                             PHASE_FIELDS[0])
                errors.add(field, planning_message(error))
        if errors:
            return await self._cycle_page(request, staff, row, errors, values, 400)
        return Redirect(f"/staff/cycles/{cycle_id}?done=rescheduled")

    # -- one proposal -----------------------------------------------------------------------

    @get("/proposals/{proposal_id:int}", name="planning:staff_proposal")
    async def proposal(
        self, request: Request, proposal_id: FromPath[int],
        done: Annotated[str | None, QueryParameter(name="done", max_length=20)] = None,
    ) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        return await self._proposal_page(request, found[1], proposal_id, FormErrors(), {},
                                         done=done)

    async def _proposal_page(self, request: Request, staff: StaffMember, proposal_id: int,
                             errors: FormErrors, values: dict[str, Any],
                             status_code: int = 200, done: str | None = None,
                             photos: list[storage.StoredPhoto] | None = None) -> Template:
        row = await services.proposal(proposal_id)
        if row is None:
            raise NotFoundException()
        cycle = await _managed_cycle(staff, row["cycle"])
        phase = services.phase_of(cycle)
        names = await _mahalla_names(cycle["district"])
        reviewing = phase in (services.PROPOSALS, services.REVIEW)
        can_review = reviewing and row["status"] in (
            *WAITING, services.FEASIBLE, services.INFEASIBLE)
        can_deliver = row["status"] == services.SELECTED and row["delivery_status"] not in (
            services.COMPLETED, services.CANCELLED)
        if can_review:
            values.setdefault("reviewed_cost", str(row["reviewed_cost"] or row["estimated_cost"]))
            values.setdefault("reason", row["review_reason"])
        if can_deliver:
            values.setdefault("status", row["delivery_status"])
            values.setdefault("progress", str(row["progress"]))
            values.setdefault("spent", str(row["spent"]))
            values.setdefault("due_on", row["due_on"].isoformat() if row["due_on"] else "")
        author = await resident_row(row["author"]) if row["author"] else None
        pictures = await services.photos(proposal_id)
        merged_into = (await services.proposal(row["merged_into"])
                       if row["merged_into"] else None)
        return await page(
            request, "planning/staff/proposal.html", status_code=status_code, **_labels(),
            proposal={**row, "overdue": services.overdue(row),
                      "review_by": _last_day(row["review_due_at"])},
            cycle=cycle, phase=phase, mahalla_name=names.get(row["mahalla"], ""),
            author_name=author["display_name"] if author else "",
            photos=[p["name"] for p in pictures if p["update"] is None],
            similar=await services.similar(row["cycle"], row["title"], row["description"],
                                           exclude=proposal_id) if can_review else [],
            can_review=can_review, can_merge=can_review, can_deliver=can_deliver,
            merged_into=merged_into, explanation=services.explanation(row),
            timeline=await services.timeline(proposal_id), errors=errors, values=values,
            kept_photos=photos or [], max_photos=services.MAX_PHOTOS,
            max_upload_mb=get_settings().max_upload_mb, notice=_notice(done))

    async def _act(self, request: Request, proposal_id: int, values: dict[str, Any],
                   work: Callable[[StaffMember, FormErrors], Awaitable[None]], field: str,
                   done: str, photos: list[storage.StoredPhoto] | None = None,
                   errors: FormErrors | None = None, return_to: str = "") -> Response[Any]:
        """Do the work; on a broken rule, show the proposal again with the message beside the
        field and what was typed kept; else back to it with a notice (or to the inbox, when
        the form came from there)."""
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        staff = found[1]
        errors = errors or FormErrors()
        try:
            await work(staff, errors)
        except services.PlanningError as error:
            if error.code == "not_found":
                raise NotFoundException() from None
            errors.add(error.field or field, planning_message(error))
        if errors:
            return await self._proposal_page(request, staff, proposal_id, errors, values, 400,
                                             photos=photos)
        return Redirect(inbox.after_answer(return_to, obligations.PROPOSAL_REVIEW, proposal_id,
                                           f"/staff/proposals/{proposal_id}?done={done}"))

    @post("/proposals/{proposal_id:int}/review", name="planning:staff_review")
    async def review(self, request: Request, proposal_id: FromPath[int], data: Form
                     ) -> Response[Any]:
        values = {key: _text(data, key)
                  for key in ("decision", "reviewed_cost", "reason", "return_to")}

        async def work(staff: StaffMember, errors: FormErrors) -> None:
            if values["decision"] not in ("feasible", "infeasible"):
                errors.add("decision", locale.gettext("Choose whether it can be done."))
                return
            feasible = values["decision"] == "feasible"
            await services.review(staff, proposal_id, feasible,
                                  _soums(values["reviewed_cost"]) if feasible else None,
                                  values["reason"])
        return await self._act(request, proposal_id, values, work, "decision", "reviewed",
                               return_to=values["return_to"])

    @post("/proposals/{proposal_id:int}/merge", name="planning:staff_merge")
    async def merge(self, request: Request, proposal_id: FromPath[int], data: Form
                    ) -> Response[Any]:
        values = {key: _text(data, key) for key in ("into", "into_number")}

        async def work(staff: StaffMember, errors: FormErrors) -> None:
            into = _integer(values["into_number"].lstrip("№#")) or _integer(values["into"])
            if into is None:
                errors.add("into", locale.gettext(
                    "Choose the proposal to merge it into, or give its number."))
                return
            try:
                await services.merge(staff, proposal_id, into)
            except services.PlanningError as error:
                # An unknown number is the form's mistake, not a missing page.
                if error.code != "not_found" or await services.proposal(proposal_id) is None:
                    raise
                raise services.PlanningError("bad_merge", "into") from None
        return await self._act(request, proposal_id, values, work, "into", "merged")

    @post("/proposals/{proposal_id:int}/delivery", name="planning:staff_delivery")
    async def delivery(self, request: Request, proposal_id: FromPath[int],
                       data: MultipartForm) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        row = await services.proposal(proposal_id)
        if row is None:
            raise NotFoundException()
        # Photos are stored only for someone who may add them.
        await _managed_cycle(found[1], row["cycle"])
        values = {key: _text(data, key) for key in ("status", "progress", "spent", "due_on",
                                                    "note")}
        errors = FormErrors()
        photos = await uploaded_photos(data, errors)

        async def work(staff: StaffMember, errors: FormErrors) -> None:
            progress, spent = _integer(values["progress"]), _soums(values["spent"])
            due_on = _day(values["due_on"]) if values["due_on"] else None
            if progress is None:
                errors.add("progress", planning_message(services.PlanningError("bad_progress")))
            if spent is None:
                errors.add("spent", planning_message(services.PlanningError("bad_spent")))
            if values["due_on"] and due_on is None:
                errors.add("due_on", locale.gettext("Give the date: day, month and year."))
            if errors or progress is None or spent is None:
                return
            await services.record_delivery(staff, proposal_id, services.DeliveryText(
                values["status"], progress, spent, values["note"], due_on), photos)
        return await self._act(request, proposal_id, values, work, "status", "delivery",
                               photos, errors)

    # -- ballots at the mahalla desk -------------------------------------------------------

    async def _desk(self, staff: StaffMember, cycle_id: int
                    ) -> tuple[dict[str, Any], list[int]]:
        row = await services.cycle(cycle_id)
        if row is None:
            raise NotFoundException()
        desk = assisted.desk_mahallas(staff, row)
        if not desk or row["imported"]:
            raise PermissionDenied(Action.ASSIST_RESIDENT, await services.cycle_place(row))
        return row, desk

    async def _assist_page(self, request: Request, staff: StaffMember, cycle_id: int,
                           errors: FormErrors, values: dict[str, str], status_code: int = 200,
                           headers: dict[str, str] | None = None) -> Template:
        row, desk = await self._desk(staff, cycle_id)
        names = await _mahalla_names(row["district"])
        return await page(
            request, "planning/staff/assist.html", status_code=status_code, headers=headers,
            **_labels(), cycle=row, errors=errors, values=values,
            voting=services.phase_of(row) == services.VOTING,
            voting_ends=_last_day(services.phase_ends(row, services.VOTING)),
            desk=[names.get(mahalla_id, str(mahalla_id)) for mahalla_id in desk],
            paper_form_max=assisted.PAPER_FORM_MAX)

    async def _ballot_page(self, request: Request, cycle: dict[str, Any],
                           resident: dict[str, Any], values: dict[str, Any],
                           errors: FormErrors, status_code: int = 200,
                           headers: dict[str, str] | None = None) -> Template:
        """The choices, the resident's current ballot ticked unless the form says otherwise."""
        current = await services.ballot_of(resident["id"], cycle["id"])
        if "ticked" not in values:
            values["ticked"] = set(current.proposal_ids) if current else set()
        budgets = await services.mahalla_budgets(cycle["id"])
        names = await _mahalla_names(cycle["district"])
        return await page(
            request, "planning/staff/ballot.html", status_code=status_code, headers=headers,
            **_labels(), cycle=cycle, errors=errors, values=values,
            choices=await assisted.on_ballot(cycle["id"], resident),
            limit=budgets.get(resident["mahalla"], cycle["budget"]),
            resident_name=resident["display_name"],
            masked_phone=mask_phone(resident["phone"]) if resident["phone"] else "",
            mahalla_name=names.get(resident["mahalla"], ""), mahalla_names=names,
            has_ballot=current is not None, paper_form_max=assisted.PAPER_FORM_MAX)

    @get("/cycles/{cycle_id:int}/assisted-ballot", name="planning:staff_assist")
    async def assist(self, request: Request, cycle_id: FromPath[int]) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        return await self._assist_page(request, found[1], cycle_id, FormErrors(), {})

    @post("/cycles/{cycle_id:int}/assisted-ballot/code", name="planning:staff_assist_code")
    async def send_code(self, request: Request, cycle_id: FromPath[int], data: Form
                        ) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        staff = found[1]
        row, _ = await self._desk(staff, cycle_id)
        values = {"phone": _text(data, "phone")}
        errors = FormErrors()
        status, headers = 400, None
        try:
            resident = await assisted.resident_by_phone(values["phone"], "phone")
            await assisted.check_desk(staff, resident, "phone")
            await assisted.precheck(row, resident)
            await assisted.send_code(staff, row, resident, request.app.state.sms_gateway)
        except InvalidPhone:
            errors.add("phone", locale.gettext(
                "Enter an Uzbek mobile number, like 90 123 45 67."))
        except assisted.AssistError as error:
            errors.add("phone", assist_message(error))
            status = 403 if error.code == "other_mahalla" else 400
        except services.PlanningError as error:
            errors.add("phone", planning_message(error))
        except SignInError as error:
            errors.add("phone", sign_in_message(error))
            status = 429
            headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
        except SmsError:
            errors.add("phone", locale.gettext(
                "We could not send the SMS just now. Please try again in a minute."))
        if errors:
            return await self._assist_page(request, staff, cycle_id, errors, values, status,
                                           headers)
        return await self._ballot_page(request, row, resident,
                                       {"consent": "sms", "phone": resident["phone"]}, errors)

    @post("/cycles/{cycle_id:int}/assisted-ballot/paper", name="planning:staff_assist_paper")
    async def paper(self, request: Request, cycle_id: FromPath[int], data: Form
                    ) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        staff = found[1]
        row, _ = await self._desk(staff, cycle_id)
        values = {key: _text(data, key) for key in ("paper_phone", "paper_form",
                                                     "residence_checked")}
        errors = FormErrors()
        status = 400
        try:
            resident = await assisted.check_paper(staff, row, values["paper_phone"],
                                                  values["paper_form"],
                                                  bool(values["residence_checked"]))
        except InvalidPhone:
            errors.add("paper_phone", locale.gettext(
                "Enter an Uzbek mobile number, like 90 123 45 67."))
        except assisted.AssistError as error:
            errors.add(error.field, assist_message(error))
            status = 403 if error.code == "other_mahalla" else 400
        except services.PlanningError as error:
            errors.add("paper_phone", planning_message(error))
        if errors:
            return await self._assist_page(request, staff, cycle_id, errors, values, status)
        # A resident without a phone is carried to the ballot by their Ovoz number.
        return await self._ballot_page(request, row, resident, {
            "consent": "paper", "phone": resident["phone"] or f"№{resident['id']}",
            "paper_form": values["paper_form"],
            "residence_checked": values["residence_checked"]}, errors)

    @post("/cycles/{cycle_id:int}/assisted-ballot/cast", name="planning:staff_assist_cast")
    async def cast(self, request: Request, cycle_id: FromPath[int], data: Form
                   ) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        identity, staff = found
        row, _ = await self._desk(staff, cycle_id)
        values: dict[str, Any] = {key: _text(data, key) for key in (
            "consent", "phone", "code", "paper_form", "residence_checked")}
        ids = assisted.chosen_ids(_values(data, "proposal_ids"))
        values["ticked"] = set(ids)
        find = (assisted.resident_at_desk if values["consent"] == "paper"
                else assisted.resident_by_phone)
        try:
            resident = await find(values["phone"], "phone")
        except (InvalidPhone, assisted.AssistError):
            return Redirect(f"/staff/cycles/{cycle_id}/assisted-ballot")
        errors = FormErrors()
        status, headers = 400, None
        field = "code" if values["consent"] == "sms" else "paper_form"
        try:
            if values["consent"] == "sms":
                ballot_id = await assisted.vote_by_code(staff, cycle_id, values["phone"],
                                                        values["code"], ids)
            elif values["consent"] == "paper":
                ballot_id = await assisted.vote_by_paper(
                    identity, staff, cycle_id, values["phone"], values["paper_form"],
                    bool(values["residence_checked"]), ids)
            else:
                return Redirect(f"/staff/cycles/{cycle_id}/assisted-ballot")
        except assisted.AssistError as error:
            # The ballot page shows the code or the form number; the rest was asked before.
            errors.add(error.field if error.field in ("code", "paper_form") else field,
                       assist_message(error))
            status = 403 if error.code == "other_mahalla" else 400
        except SignInError as error:
            errors.add("code", sign_in_message(error))
            if error.code == "rate_limited":
                status = 429
                headers = {"Retry-After": str(error.retry_after)}
        except services.PlanningError as error:
            errors.add(error.field or field, planning_message(error, row["max_choices"]))
        if errors:
            return await self._ballot_page(request, row, resident, values, errors, status,
                                           headers)
        return Redirect(f"/staff/cycles/{cycle_id}/assisted-ballot/receipts/{ballot_id}")

    @get("/cycles/{cycle_id:int}/assisted-ballot/receipts/{ballot_id:int}",
         name="planning:staff_receipt")
    async def receipt(self, request: Request, cycle_id: FromPath[int],
                      ballot_id: FromPath[int]) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        row = await assisted.receipt(ballot_id)
        if row is None or row["cycle"] != cycle_id or row["channel"] != "assisted":
            raise NotFoundException()
        # Any staff member of the voter's mahalla may print it again.
        require(found[1], Action.ASSIST_RESIDENT,
                Place(row["region"], row["district"], row["mahalla"]))
        cycle = await services.cycle(cycle_id)
        mahalla = await geo.mahalla(row["mahalla"])
        response = await page(
            request, "planning/staff/receipt.html", receipt=row,
            mahalla_name=locale.localised_name(mahalla) if mahalla else "",
            voting_ends=_last_day(services.phase_ends(cycle, services.VOTING)) if cycle else None)
        response.headers["Cache-Control"] = "no-store"
        return response

