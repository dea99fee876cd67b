"""Moderation pages: residents flag an item and read, and appeal, a decision on their own;
moderators work through the queue of flagged items and appeals, and hide, redact, dismiss or
restore. The rules are the moderation services'."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from ovoz.accounts import sessions
from ovoz.accounts.permissions import NATIONAL, Action, PermissionDenied, StaffMember, scopes
from ovoz.i18n import locale
from ovoz.moderation import alerts, items
from ovoz.moderation import services as moderation
from ovoz.moderation.services import ModerationError
from ovoz.settings import get_settings
from ovoz.web.forms import Filter, FormErrors, chosen_id, local_path
from ovoz.web.templating import page

Form = URLEncodedBody[dict[str, Any]]
PageNumber = Annotated[int, QueryParameter(name="page", ge=1, le=100_000)]
Done = Annotated[str | None, QueryParameter(name="done", max_length=20)]
SIGN_IN = "/staff/signin"
STAFF_PATH = "/staff/moderation"
NOTICES = {
    "hide": locale.lazy("The item is hidden. Its author is told and may appeal once."),
    "redact": locale.lazy("The passage is removed. The author is told and may appeal once."),
    "dismiss": locale.lazy("The flags are dismissed; the item stays as it is."),
    "restored": locale.lazy("The original is back."),
    "appeal": locale.lazy("The appeal is decided and the author is told."),
    "appealed": locale.lazy("Your appeal is sent. A moderator will look at it again."),
    "block": locale.lazy("The author is blocked and their pending items are hidden."),
    "lifted": locale.lazy("The block is lifted and what it hid is back."),
}


def message(error: ModerationError) -> str:
    messages = {
        "not_found": locale.gettext("There is nothing to moderate with this number."),
        "bad_reason": locale.gettext("Choose what is wrong with it."),
        "bad_note": locale.gettext("Write at most %(max)s characters.",
                                   max=moderation.NOTE_MAX),
        "already_flagged": locale.gettext("You have already told the moderators about this."),
        "rate_limited": locale.gettext(
            "You have flagged many items in a short time. Please try again later."),
        "no_flags": locale.gettext("No flag is waiting for a decision on this item."),
        "bad_public_reason": locale.gettext(
            "Write the public reason: %(min)s to %(max)s characters.",
            min=moderation.REASON_MIN, max=moderation.REASON_MAX),
        "bad_field": locale.gettext("Choose the text to change."),
        "passage_not_found": locale.gettext(
            "Copy the passage exactly as it stands in the text."),
        "bad_photo": locale.gettext("This photo is already hidden."),
        "not_hidden": locale.gettext("This decision has already been undone."),
        "not_yours": locale.gettext("Only the author may appeal against this decision."),
        "not_appealable": locale.gettext("This decision has been undone: there is nothing to "
                                         "appeal against."),
        "already_appealed": locale.gettext("You have already appealed against this decision."),
        "bad_appeal": locale.gettext("Say why it should be looked at again: %(min)s to "
                                     "%(max)s characters.", min=moderation.APPEAL_MIN,
                                     max=moderation.APPEAL_MAX),
        "not_appealed": locale.gettext("No appeal is waiting on this decision."),
        "already_blocked": locale.gettext("The author is already blocked."),
        "not_blocked": locale.gettext("This block has already been lifted."),
    }
    return messages.get(error.code, locale.gettext("This could not be done."))


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key) or ""
    return str(value[-1] if isinstance(value, list) else value)


def _with(path: str, done: str) -> str:
    separator = "&" if "?" in path else "?"
    return f"{path.split('#')[0]}{separator}{done}"


class ModerationController(Controller):
    """What residents do: flag an item; read and appeal a decision on their own."""

    path = "/moderation"
    include_in_schema = False

    @post("/flags", name="moderation:flag")
    async def flag(self, request: Request, data: Form) -> Response[Any]:
        back = local_path(_text(data, "next"), "/")
        resident = sessions.identity_of(request).resident
        if resident is None:
            return Redirect(f"/signin?next={back}")
        kind, ref = _text(data, "kind"), chosen_id(_text(data, "ref")) or 0
        try:
            await moderation.flag(resident["id"], kind, ref, _text(data, "reason"),
                                  _text(data, "note"))
        except ModerationError as error:
            if error.code == "not_found":
                raise NotFoundException() from None
            if error.code != "already_flagged":
                return await page(request, "moderation/flag_refused.html", status_code=400,
                                  reason=message(error), back=back)
        return Redirect(_with(back, f"flagged={kind}-{ref}"))

    @get("/decisions/{decision_id:int}", name="moderation:decision", cache=False)
    async def decision(self, request: Request, decision_id: FromPath[int],
                       done: Done = None) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return Redirect(f"/signin?next=/moderation/decisions/{decision_id}")
        return await self._decision_page(request, resident["id"], decision_id, FormErrors(),
                                         "", notice=NOTICES.get(done or ""))

    async def _decision_page(self, request: Request, resident_id: int, decision_id: int,
                             errors: FormErrors, appeal_text: str, status_code: int = 200,
                             notice: str | None = None) -> Template:
        try:
            decision, item = await moderation.decision_for_author(resident_id, decision_id)
        except ModerationError:
            raise NotFoundException() from None
        return await page(
            request, "moderation/decision.html", status_code=status_code, decision=decision,
            item=item, field_label=moderation.field_label(item, decision["field"]),
            kind_label=locale.gettext(items.KIND_LABELS[item.kind]), errors=errors,
            appeal_text=appeal_text, notice=notice, outcomes=moderation.APPEAL_OUTCOMES)

    @post("/decisions/{decision_id:int}/appeal", name="moderation:appeal")
    async def appeal(self, request: Request, decision_id: FromPath[int], data: Form
                     ) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return Redirect(f"/signin?next=/moderation/decisions/{decision_id}")
        text = _text(data, "appeal")
        try:
            await moderation.appeal(resident["id"], decision_id, text)
        except ModerationError as error:
            if error.code == "not_yours":
                raise NotFoundException() from None
            errors = FormErrors()
            errors.add("appeal", message(error))
            return await self._decision_page(request, resident["id"], decision_id, errors,
                                             text, 400)
        return Redirect(f"/moderation/decisions/{decision_id}?done=appealed")


def _moderator(request: Request) -> StaffMember | None:
    staff = sessions.staff_member(request)
    if staff is not None and not scopes(staff, Action.MODERATE):
        raise PermissionDenied(Action.MODERATE, NATIONAL)
    return staff


class ModerationStaffController(Controller):
    """What moderators do."""

    path = STAFF_PATH
    include_in_schema = False

    @get("/", name="moderation:queue", cache=False)
    async def queue(self, request: Request, kind: Filter = None, page_number: PageNumber = 1,
                    done: Done = None) -> Response[Any]:
        staff = _moderator(request)
        if staff is None:
            return Redirect(SIGN_IN)
        chosen = kind if kind in items.KINDS else None
        found = await moderation.queue(staff, chosen, page_number, get_settings().page_size)
        return await page(
            request, "moderation/queue.html", found=found, kind=chosen or "",
            kinds=items.KIND_LABELS, reasons=moderation.REASONS,
            appeals=await moderation.appeals(staff), notice=NOTICES.get(done or ""),
            alerts=await alerts.alerts(staff), target="moderation-queue")

    @get("/blocks", name="moderation:blocks", cache=False)
    async def blocks(self, request: Request, done: Done = None) -> Response[Any]:
        staff = _moderator(request)
        if staff is None:
            return Redirect(SIGN_IN)
        return await page(request, "moderation/blocks.html",
                          blocks=await moderation.blocks(staff), notice=NOTICES.get(done or ""))

    @post("/blocks/{block_id:int}/lift", name="moderation:lift_block")
    async def lift_block(self, request: Request, block_id: FromPath[int]) -> Response[Any]:
        staff = _moderator(request)
        if staff is None:
            return Redirect(SIGN_IN)
        try:
            await moderation.lift_block(staff, block_id)
        except ModerationError:
            raise NotFoundException() from None
        return Redirect(f"{STAFF_PATH}/blocks?done=lifted")

    @get("/{kind:str}/{ref:int}", name="moderation:item", cache=False)
    async def item(self, request: Request, kind: FromPath[str], ref: FromPath[int]
                   ) -> Response[Any]:
        staff = _moderator(request)
        if staff is None:
            return Redirect(SIGN_IN)
        return await self._item_page(request, staff, kind, ref, FormErrors(), {})

    async def _item_page(self, request: Request, staff: StaffMember, kind: str, ref: int,
                         errors: FormErrors, values: dict[str, str],
                         status_code: int = 200) -> Template:
        item = await items.load(kind, ref)
        if item is None:
            raise NotFoundException()
        if not moderation.may_moderate(staff, item):
            raise PermissionDenied(Action.MODERATE, item.place)
        decisions = await moderation.decisions_of(kind, ref)
        author_block = (await moderation.blocked(item.author)
                        if item.author is not None else None)
        return await page(
            request, "moderation/item.html", status_code=status_code, item=item,
            kind_label=locale.gettext(items.KIND_LABELS[kind]),
            flags=await moderation.flags_of(kind, ref), decisions=decisions,
            field_label=lambda name: moderation.field_label(item, name),
            reasons=moderation.REASONS, removed=moderation.REMOVED, errors=errors,
            values=values, outcomes=moderation.APPEAL_OUTCOMES, author_block=author_block,
            notice=NOTICES.get(request.query_params.get("done", "")))

    async def _act(self, request: Request, kind: str, ref: int, data: Mapping[str, Any],
                   work: Any, field: str, done: str) -> Response[Any]:
        staff = _moderator(request)
        if staff is None:
            return Redirect(SIGN_IN)
        try:
            await work(staff)
        except ModerationError as error:
            if error.code == "not_found":
                raise NotFoundException() from None
            errors = FormErrors()
            errors.add(error.field or field, message(error))
            values = {key: _text(data, key) for key in data if key != "_csrf_token"}
            return await self._item_page(request, staff, kind, ref, errors, values, 400)
        return Redirect(f"{STAFF_PATH}/{kind}/{ref}?done={done}")

    @post("/{kind:str}/{ref:int}/hide", name="moderation:hide")
    async def hide(self, request: Request, kind: FromPath[str], ref: FromPath[int],
                   data: Form) -> Response[Any]:
        async def work(staff: StaffMember) -> None:
            try:
                await moderation.hide(staff, kind, ref, _text(data, "hide_reason"))
            except ModerationError as error:
                # The page has two reason fields: this one is the hide form's.
                field = "hide_reason" if error.field == "public_reason" else error.field
                raise ModerationError(error.code, field) from None
        return await self._act(request, kind, ref, data, work, "hide_reason", "hide")

    @post("/{kind:str}/{ref:int}/redact", name="moderation:redact")
    async def redact(self, request: Request, kind: FromPath[str], ref: FromPath[int],
                     data: Form) -> Response[Any]:
        async def work(staff: StaffMember) -> None:
            photo = chosen_id(_text(data, "photo"))
            if photo is not None:
                await moderation.hide_photo(staff, ref, photo, _text(data, "public_reason"))
                return
            await moderation.redact(staff, kind, ref, _text(data, "field"),
                                    _text(data, "passage"), _text(data, "public_reason"))
        return await self._act(request, kind, ref, data, work, "passage", "redact")

    @post("/{kind:str}/{ref:int}/block", name="moderation:block")
    async def block(self, request: Request, kind: FromPath[str], ref: FromPath[int],
                    data: Form) -> Response[Any]:
        async def work(staff: StaffMember) -> None:
            item = await items.load(kind, ref)
            if item is None or item.author is None:
                raise ModerationError("not_found")
            try:
                await moderation.block(staff, item.author, _text(data, "block_reason"))
            except ModerationError as error:
                field = "block_reason" if error.field == "public_reason" else error.field
                raise ModerationError(error.code, field) from None
        return await self._act(request, kind, ref, data, work, "block_reason", "block")

    @post("/{kind:str}/{ref:int}/dismiss", name="moderation:dismiss")
    async def dismiss(self, request: Request, kind: FromPath[str], ref: FromPath[int],
                      data: Form) -> Response[Any]:
        async def work(staff: StaffMember) -> None:
            await moderation.dismiss(staff, kind, ref)
        return await self._act(request, kind, ref, data, work, "dismiss", "dismiss")

    @post("/{kind:str}/{ref:int}/decisions/{decision_id:int}/restore",
          name="moderation:restore")
    async def restore(self, request: Request, kind: FromPath[str], ref: FromPath[int],
                      decision_id: FromPath[int], data: Form) -> Response[Any]:
        async def work(staff: StaffMember) -> None:
            await moderation.restore(staff, decision_id)
        return await self._act(request, kind, ref, data, work, f"decision-{decision_id}",
                               "restored")

    @post("/{kind:str}/{ref:int}/decisions/{decision_id:int}/appeal",
          name="moderation:decide_appeal")
    async def decide_appeal(self, request: Request, kind: FromPath[str], ref: FromPath[int],
                            decision_id: FromPath[int], data: Form) -> Response[Any]:
        async def work(staff: StaffMember) -> None:
            await moderation.decide_appeal(staff, decision_id,
                                           reverse=_text(data, "outcome") == "reverse")
        return await self._act(request, kind, ref, data, work, f"decision-{decision_id}",
                               "appeal")
