"""Staff pages for petitions: the moderation queue and decisions, signatures far above their
share and striking them out, the addressee's answer, and signing for a resident at the mahalla
office. Every rule is the services' (and assisted's); these pages parse, authorise and render."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from ovoz.accountability import inbox
from ovoz.accountability import services as obligations
from ovoz.accounts import desk, sessions
from ovoz.accounts.controllers import sign_in_message
from ovoz.accounts.permissions import (
    NATIONAL,
    Action,
    Grant,
    PermissionDenied,
    Place,
    StaffMember,
    allowed,
    require,
    scopes,
)
from ovoz.accounts.phones import InvalidPhone, parse_phone
from ovoz.accounts.services import SignInError
from ovoz.accounts.sms import SmsError, mask_phone
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.pagination import Page, paginate
from ovoz.petitions import assisted, services
from ovoz.petitions.tables import Petition
from ovoz.settings import get_settings
from ovoz.web.forms import FormErrors
from ovoz.web.templating import page

Form = URLEncodedBody[dict[str, str]]
MultipartForm = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
PageNumber = Annotated[int, QueryParameter(name="page", ge=1, le=100_000)]
SIGN_IN = "/staff/signin"
ANOMALY_KINDS = ("address", "device", "mahalla")
# Mahalla rows carry the name; the digests of addresses and devices are shown shortened.
SHORT_KEY = 8
Signed = tuple[sessions.Identity, StaffMember]


def petition_message(error: services.PetitionError) -> str:
    messages = {
        "not_in_moderation": locale.gettext("This petition is no longer waiting to be checked."),
        "bad_reason": locale.gettext("Choose the ground for refusing it."),
        "unknown_duplicate": locale.gettext(
            "Give the number of the other petition; it must be a different petition."),
        "note_required": locale.gettext("Write the reason: it is kept on record."),
        "bad_invalidation": locale.gettext("Choose which signatures to strike out."),
        "not_answerable": locale.gettext("Only a petition waiting for the answer can be "
                                         "answered."),
        "bad_decision": locale.gettext("Choose the decision."),
        "not_signable": locale.gettext("This petition is not collecting signatures."),
        "already_signed": locale.gettext("This resident has already signed this petition."),
        "not_verified": locale.gettext("This resident's phone number is not verified."),
        "no_home": locale.gettext("This resident has not chosen a home mahalla in Ovoz."),
        "outside_area": locale.gettext(
            "This resident lives outside the petition's area and cannot sign it."),
    }
    return messages.get(error.code, locale.gettext("This could not be done."))


def assist_message(error: assisted.AssistError) -> str:
    return desk.message(error, assisted.PAPER_FORM_MAX)


def waited(since: datetime | None, at: datetime) -> str:
    """How long a petition has waited, in the unit that reads best."""
    if since is None:
        return ""
    hours = int((at - since).total_seconds() // 3600)
    if hours < 1:
        return locale.gettext("less than an hour")
    if hours < 48:
        return locale.ngettext("%(num)s hour", "%(num)s hours", hours)
    return locale.ngettext("%(num)s day", "%(num)s days", hours // 24)


def _staff(request: Request) -> Signed | None:
    identity = sessions.identity_of(request)
    if not identity.staff_signed_in or identity.staff is None:
        return None
    return identity, StaffMember(identity.staff["id"], identity.grants)


def _covered_by(grants: Sequence[Grant]) -> Any:
    """Petitions whose area one of the grants covers, as a query condition (see covers())."""
    condition: Any = None
    for grant in grants:
        # A department answers reports; petitions go to the bodies of an area.
        if grant.department_id is not None:
            continue
        part: Any = Petition.id.is_not_null()
        for column, unit in ((Petition.region, grant.region_id),
                             (Petition.district, grant.district_id),
                             (Petition.mahalla, grant.mahalla_id)):
            if unit is not None:
                part &= column == unit
        condition = part if condition is None else condition | part
    # No grant that reaches a petition: a condition nothing meets.
    return condition if condition is not None else Petition.id.is_null()


async def _place_name(kind: str, place_id: int, names: dict[tuple[str, int], str]) -> str:
    if (kind, place_id) not in names:
        lookup = {"region": geo.region, "district": geo.district, "mahalla": geo.mahalla}[kind]
        found = await lookup(place_id)
        names[(kind, place_id)] = locale.localised_name(found) if found else str(place_id)
    return names[(kind, place_id)]


async def _with_area_names(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each petition with the name of the area it is addressed to, the most specific unit."""
    names: dict[tuple[str, int], str] = {}
    for row in rows:
        kind = "mahalla" if row["mahalla"] else "district" if row["district"] else "region"
        row["area_name"] = await _place_name(kind, row[kind], names)
    return rows


async def _waiting_moderation(staff: StaffMember, at: datetime) -> list[dict[str, Any]]:
    rows = [row for row in await services.moderation_queue()
            if allowed(staff, Action.MODERATE, services.petition_area(row).place)]
    for row in rows:
        row["waited"] = waited(row["moderation_requested_at"], at)
    return await _with_area_names(rows)


async def _collecting(staff: StaffMember, number: int) -> Page:
    """Petitions collecting signatures in the moderator's area, newest first, each with the
    number of alerts (addresses, devices or mahallas signing far above their share)."""
    condition = Petition.status.is_in(list(services.SIGNABLE)) & _covered_by(
        scopes(staff, Action.MODERATE))
    found = await paginate(
        Petition.select().where(condition).order_by(Petition.opened_at, ascending=False)
        .order_by(Petition.id, ascending=False),
        Petition.count().where(condition), number, get_settings().page_size)
    totals = await services.counts([row["id"] for row in found.items])
    for row in found.items:
        row["signature_count"] = totals.get(row["id"], 0)
        row["alerts"] = len(await services.anomalies(row["id"]))
    await _with_area_names(found.items)
    return found


async def _to_answer(staff: StaffMember, at: datetime) -> list[dict[str, Any]]:
    """Petitions the official may answer, earliest due first. The query narrows them to the
    official's regions; whom a petition's answer falls to is the services' rule."""
    condition: Any = Petition.status == services.THRESHOLD_REACHED
    regions = {grant.region_id for grant in scopes(staff, Action.ANSWER)}
    if None not in regions:
        condition &= Petition.region.is_in(list(regions))
    rows = await Petition.select().where(condition).order_by(
        Petition.response_due_at).order_by(Petition.id)
    rows = [row for row in rows if services.answerable_here(staff, row)]
    totals = await services.counts([row["id"] for row in rows])
    for row in rows:
        row["signature_count"] = totals.get(row["id"], 0)
        row["overdue"] = bool(row["response_due_at"] and row["response_due_at"] < at)
    return await _with_area_names(rows)


async def _anomalies(petition_id: int) -> list[dict[str, Any]]:
    names: dict[tuple[str, int], str] = {}
    shown = []
    for anomaly in await services.anomalies(petition_id):
        key = str(anomaly["key"])
        label = (await _place_name("mahalla", anomaly["key"], names)
                 if anomaly["kind"] == "mahalla" else f"{key[:SHORT_KEY]}…")
        shown.append({**anomaly, "key": key, "label": label,
                      "field": f"reason-{anomaly['kind']}-{key}"})
    return shown


async def _by_mahalla(petition_id: int) -> list[dict[str, Any]]:
    names: dict[tuple[str, int], str] = {}
    rows = await services.by_mahalla(petition_id)
    for row in rows:
        row["name"] = (await _place_name("mahalla", row["mahalla"], names)
                       if row["mahalla"] else "")
    return rows


def _labels() -> dict[str, Any]:
    return {"status_labels": services.STATUS_LABELS, "level_labels": services.LEVEL_LABELS,
            "topic_labels": services.TOPICS}


class PetitionsStaffController(Controller):
    path = "/staff/petitions"
    include_in_schema = False

    @get("/", name="petitions:staff")
    async def index(self, request: Request, page_number: PageNumber = 1) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        _, staff = found
        moderating = bool(scopes(staff, Action.MODERATE))
        answering = bool(scopes(staff, Action.ANSWER))
        assisting = bool(assisted.assist_grants(staff))
        if not (moderating or answering or assisting):
            raise PermissionDenied(Action.MODERATE, NATIONAL)
        at = services.now()
        if (moderating and request.headers.get("hx-request")
                and request.headers.get("hx-target") == "collecting"):
            return await page(request, "petitions/staff/_collecting.html", **_labels(),
                              collecting=await _collecting(staff, page_number))
        return await page(
            request, "petitions/staff/index.html", **_labels(),
            moderating=moderating, answering=answering, assisting=assisting,
            queue=await _waiting_moderation(staff, at) if moderating else [],
            stats=await services.moderation_stats(at) if moderating else None,
            collecting=await _collecting(staff, page_number) if moderating else None,
            to_answer=await _to_answer(staff, at) if answering else [],
            signable=await _with_area_names(await assisted.signable_here(staff))
            if assisting else [],
        )

    @get("/{petition_id:int}", name="petitions:staff_petition")
    async def petition(
        self, request: Request, petition_id: FromPath[int],
        done: Annotated[str | None, QueryParameter(name="done", max_length=20)] = None,
        struck: Annotated[int | None, QueryParameter(name="struck", ge=0)] = None,
    ) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        return await self._petition(request, found, petition_id, FormErrors(), {},
                                    done=done, struck=struck)

    async def _petition(self, request: Request, found: Signed, petition_id: int,
                        errors: FormErrors, values: dict[str, str], status_code: int = 200,
                        done: str | None = None, struck: int | None = None) -> Template:
        identity, staff = found
        row = await services.petition(petition_id)
        if row is None:
            raise NotFoundException()
        place = services.petition_area(row).place
        can_moderate = allowed(staff, Action.MODERATE, place)
        public = row["status"] in services.PUBLIC_STATUSES
        desk = assisted.desk_mahallas(staff, row) if public else []
        if not (can_moderate or desk or (public and services.answerable_here(staff, row))):
            raise PermissionDenied(Action.MODERATE, place)
        signable = row["status"] in services.SIGNABLE
        can_answer = (row["status"] == services.THRESHOLD_REACHED
                      and services.answerable_here(staff, row))
        if can_answer:
            values.setdefault("official_name", identity.staff["display_name"]
                              if identity.staff else "")
        await _with_area_names([row])
        return await page(
            request, "petitions/staff/petition.html", status_code=status_code, **_labels(),
            petition=row, errors=errors, values=values, done=done, struck=struck,
            sponsors=await services.sponsors(petition_id),
            signatures=await services.count(petition_id),
            by_mahalla=await _by_mahalla(petition_id),
            can_moderate=can_moderate and row["status"] == services.IN_MODERATION,
            reasons=services.REJECTION_REASONS,
            anomalies=await _anomalies(petition_id) if can_moderate and signable else None,
            can_answer=can_answer, decisions=services.DECISIONS,
            can_assist=bool(desk) and signable,
            response=await services.response(petition_id),
            documents=await services.attachments(petition_id),
            duplicate=await services.petition(row["duplicate_of"])
            if row["duplicate_of"] else None,
        )

    async def _act(self, request: Request, petition_id: int, data: dict[str, str],
                   work: Callable[[Signed, FormErrors], Awaitable[str]], field: str
                   ) -> Response[Any]:
        """Do the work; on a broken rule, show the petition again with the message beside the
        field and what was typed kept; else go where the work says."""
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        errors = FormErrors()
        target = ""
        try:
            target = await work(found, errors)
        except services.PetitionError as error:
            if error.code == "not_found":
                raise NotFoundException() from None
            errors.add(error.field or field, petition_message(error))
        if errors:
            values = {key: value for key, value in data.items() if key != "_csrf_token"}
            return await self._petition(request, found, petition_id, errors, values, 400)
        return Redirect(target)

    @post("/{petition_id:int}/approve", name="petitions:staff_approve")
    async def approve(self, request: Request, petition_id: FromPath[int], data: Form
                      ) -> Response[Any]:
        async def work(found: Signed, errors: FormErrors) -> str:
            await services.moderate(found[1], petition_id, True)
            return f"/staff/petitions/{petition_id}?done=opened"
        return await self._act(request, petition_id, data, work, "approve")

    @post("/{petition_id:int}/reject", name="petitions:staff_reject")
    async def reject(self, request: Request, petition_id: FromPath[int], data: Form
                     ) -> Response[Any]:
        async def work(found: Signed, errors: FormErrors) -> str:
            other = data.get("duplicate_of", "").strip().lstrip("№#").strip()
            await services.moderate(found[1], petition_id, False, data.get("reason", ""),
                                    data.get("note", ""),
                                    duplicate_of=int(other) if other.isdigit() else None)
            return f"/staff/petitions/{petition_id}?done=rejected"
        return await self._act(request, petition_id, data, work, "reason")

    @post("/{petition_id:int}/invalidate", name="petitions:staff_invalidate")
    async def invalidate(self, request: Request, petition_id: FromPath[int], data: Form
                         ) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        kind, key, reason = data.get("kind", ""), data.get("key", "").strip(), data.get(
            "reason", "")
        # Each alert has its own form: the message and the reason typed go back to that one.
        field = f"reason-{kind}-{key}"
        try:
            row = await services.petition(petition_id)
            if row is None:
                raise NotFoundException()
            if row["status"] not in services.SIGNABLE:
                raise services.PetitionError("not_signable")
            if kind not in ANOMALY_KINDS or not key or (kind == "mahalla"
                                                        and not key.isdigit()):
                raise services.PetitionError("bad_invalidation")
            struck = await services.invalidate(
                found[1], petition_id, reason,
                address_digest=key if kind == "address" else "",
                device_digest=key if kind == "device" else "",
                mahalla_id=int(key) if kind == "mahalla" else None)
        except services.PetitionError as error:
            errors = FormErrors()
            errors.add(field, petition_message(error))
            return await self._petition(request, found, petition_id, errors, {field: reason},
                                        400)
        return Redirect(f"/staff/petitions/{petition_id}?struck={struck}")

    @post("/{petition_id:int}/respond", name="petitions:staff_respond")
    async def respond(self, request: Request, petition_id: FromPath[int],
                      data: MultipartForm) -> Response[Any]:
        uploads = data.pop("attachments", None) or []
        uploads = uploads if isinstance(uploads, list) else [uploads]
        fields = {key: str(value) for key, value in data.items()}
        text, name, post_ = (fields.get(key, "") for key in ("text", "official_name",
                                                              "official_post"))

        async def work(found: Signed, errors: FormErrors) -> str:
            documents = [services.Upload(upload.filename, await upload.read())
                         for upload in uploads
                         if isinstance(upload, UploadFile) and upload.filename]
            try:
                await services.respond(found[1], petition_id, fields.get("decision", ""),
                                       text, name, post_, documents)
            except services.PetitionError as error:
                if error.code == "bad_attachment":
                    errors.add("attachments", locale.gettext(
                        "Attach up to %(count)s PDF documents or photos, each up to %(size)s "
                        "MB.", count=services.MAX_ATTACHMENTS,
                        size=get_settings().max_upload_mb))
                    return ""
                if error.code != "bad_response":
                    raise
                # The services name one field; the form marks each that needs work.
                if len(" ".join(text.split())) < 20:
                    errors.add("text", locale.gettext(
                        "Write the answer: at least 20 characters."))
                if not name.strip():
                    errors.add("official_name", locale.gettext("Give the official's name."))
                if not post_.strip():
                    errors.add("official_post", locale.gettext("Give the official's post."))
                if not errors:
                    errors.add("text", locale.gettext(
                        "Write the answer: at least 20 characters."))
            return inbox.after_answer(fields.get("return_to", ""), obligations.PETITION,
                                      petition_id, f"/staff/petitions/{petition_id}?done=answered")
        return await self._act(request, petition_id, fields, work, "decision")

    # -- signing for a resident at the mahalla office -----------------------------------

    async def _desk(self, staff: StaffMember, petition_id: int
                    ) -> tuple[dict[str, Any], list[int]]:
        row = await services.petition(petition_id)
        if row is None:
            raise NotFoundException()
        desk = assisted.desk_mahallas(staff, row)
        if not desk or row["status"] not in services.PUBLIC_STATUSES:
            raise PermissionDenied(Action.ASSIST_RESIDENT, services.petition_area(row).place)
        return row, desk

    async def _assist(self, request: Request, staff: StaffMember, petition_id: int,
                      errors: FormErrors, values: dict[str, str], status_code: int = 200,
                      headers: dict[str, str] | None = None) -> Template:
        row, desk = await self._desk(staff, petition_id)
        names: dict[tuple[str, int], str] = {}
        await _with_area_names([row])
        return await page(
            request, "petitions/staff/assist.html", status_code=status_code, headers=headers,
            **_labels(), petition=row, errors=errors, values=values,
            signable=row["status"] in services.SIGNABLE,
            signatures=await services.count(petition_id),
            desk=[await _place_name("mahalla", mahalla_id, names) for mahalla_id in desk])

    async def _code_page(self, request: Request, petition: dict[str, Any], phone: str,
                         errors: FormErrors, status_code: int = 200,
                         headers: dict[str, str] | None = None) -> Template:
        return await page(request, "petitions/staff/code.html", status_code=status_code,
                          headers=headers, petition=petition, phone=phone,
                          masked_phone=mask_phone(phone), errors=errors)

    @get("/{petition_id:int}/assist", name="petitions:staff_assist")
    async def assist(self, request: Request, petition_id: FromPath[int]) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        return await self._assist(request, found[1], petition_id, FormErrors(), {})

    @post("/{petition_id:int}/assist/code", name="petitions:staff_assist_code")
    async def send_code(self, request: Request, petition_id: FromPath[int], data: Form
                        ) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        staff = found[1]
        row, _ = await self._desk(staff, petition_id)
        values = {"phone": data.get("phone", "")}
        errors = FormErrors()
        status, headers = 400, None
        try:
            resident = await assisted.resident_by_phone(values["phone"], "phone")
            await assisted.check_desk(staff, resident, "phone")
            await assisted.precheck(petition_id, resident)
            sent = await assisted.send_code(staff, row, resident,
                                            request.app.state.sms_gateway)
        except InvalidPhone:
            errors.add("phone", locale.gettext(
                "Enter an Uzbek mobile number, like 90 123 45 67."))
        except assisted.AssistError as error:
            errors.add("phone", assist_message(error))
            status = 403 if error.code == "other_mahalla" else 400
        except services.PetitionError as error:
            errors.add("phone", petition_message(error))
        except SignInError as error:
            errors.add("phone", sign_in_message(error))
            status = 429
            headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
        except SmsError:
            errors.add("phone", locale.gettext(
                "We could not send the SMS just now. Please try again in a minute."))
        if errors:
            return await self._assist(request, staff, petition_id, errors, values, status,
                                      headers)
        return await self._code_page(request, row, sent.phone, errors)

    @post("/{petition_id:int}/assist/confirm", name="petitions:staff_assist_confirm")
    async def confirm_code(self, request: Request, petition_id: FromPath[int], data: Form
                           ) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        staff = found[1]
        row, _ = await self._desk(staff, petition_id)
        try:
            phone = parse_phone(data.get("phone", ""))
        except InvalidPhone:
            return Redirect(f"/staff/petitions/{petition_id}/assist")
        errors = FormErrors()
        status, headers = 400, None
        try:
            signature_id = await assisted.sign_by_code(staff, petition_id, phone,
                                                       data.get("code", ""))
        except assisted.AssistError as error:
            errors.add("code", assist_message(error))
            status = 403 if error.code == "other_mahalla" else 400
        except SignInError as error:
            errors.add("code", sign_in_message(error))
            if error.code == "rate_limited":
                status = 429
                headers = {"Retry-After": str(error.retry_after)}
        except services.PetitionError as error:
            errors.add("code", petition_message(error))
        if errors:
            return await self._code_page(request, row, phone, errors, status, headers)
        return Redirect(f"/staff/petitions/{petition_id}/receipts/{signature_id}")

    @post("/{petition_id:int}/assist/paper", name="petitions:staff_assist_paper")
    async def paper(self, request: Request, petition_id: FromPath[int], data: Form
                    ) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        identity, staff = found
        await self._desk(staff, petition_id)
        values = {key: data.get(key, "") for key in ("paper_phone", "paper_form",
                                                      "residence_checked")}
        errors = FormErrors()
        status = 400
        try:
            signature_id = await assisted.sign_by_paper(
                identity, staff, petition_id, values["paper_phone"], values["paper_form"],
                residence_checked=bool(values["residence_checked"]))
        except InvalidPhone:
            errors.add("paper_phone", locale.gettext(
                "Enter an Uzbek mobile number, like 90 123 45 67."))
        except assisted.AssistError as error:
            errors.add(error.field, assist_message(error))
            status = 403 if error.code == "other_mahalla" else 400
        except services.PetitionError as error:
            errors.add("paper_phone", petition_message(error))
        if errors:
            return await self._assist(request, staff, petition_id, errors, values, status)
        return Redirect(f"/staff/petitions/{petition_id}/receipts/{signature_id}")

    @get("/{petition_id:int}/receipts/{signature_id:int}", name="petitions:staff_receipt")
    async def receipt(self, request: Request, petition_id: FromPath[int],
                      signature_id: FromPath[int]) -> Response[Any]:
        found = _staff(request)
        if found is None:
            return Redirect(SIGN_IN)
        row = await assisted.receipt(signature_id)
        if row is None or row["petition"] != petition_id or row["channel"] != "assisted":
            raise NotFoundException()
        # Any staff member of the signer's mahalla may print it again.
        require(found[1], Action.ASSIST_RESIDENT,
                Place(row["region"], row["district"], row["mahalla"]))
        mahalla = await geo.mahalla(row["mahalla"])
        response = await page(request, "petitions/staff/receipt.html", receipt=row,
                              mahalla_name=locale.localised_name(mahalla) if mahalla else "")
        response.headers["Cache-Control"] = "no-store"
        return response
