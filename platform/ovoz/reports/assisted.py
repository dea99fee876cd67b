"""Assisted reports: mahalla staff report a problem for a resident who came to the office, who
agrees by reading out a code texted to their phone (bound to this resident and this staff
member: see ovoz.accounts.desk), or on a numbered paper form once the staff member has
confirmed where they live. The report is the resident's, made through
services.create_report like any other, located by their home mahalla and the spot in words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ovoz.accounts import desk
from ovoz.accounts import staff as staff_accounts
from ovoz.accounts.desk import (
    AssistError,
    CodeSent,
    check_desk,
    resident_at_desk,
    resident_by_phone,
)
from ovoz.accounts.permissions import StaffMember
from ovoz.accounts.services import verification_levels
from ovoz.accounts.sessions import Identity
from ovoz.accounts.sms import SmsGateway, mask_phone
from ovoz.db import transaction
from ovoz.i18n import locale
from ovoz.reports import services
from ovoz.reports.tables import Report

PURPOSE = "report-assist"
SMS_CONSENT = "sms"
PAPER_PREFIX = "paper:"
# As on the other paper forms; the report keeps its consent in 60 characters.
PAPER_FORM_MAX = 40
CODE_MESSAGE = locale.lazy(
    "Ovoz: code %(code)s to report a problem for you at the mahalla office. Tell it only to "
    "the mahalla staff member in front of you.")


def precheck(resident: Mapping[str, Any]) -> None:
    """What would refuse any report of this resident, found before an SMS is paid for: a
    verified phone, or (for residents without one) a residence the mahalla confirmed."""
    if not {"phone", "residence"} & set(verification_levels(dict(resident))):
        raise services.ReportError("not_verified", "phone")


def problems(draft: services.Draft) -> list[services.ReportError]:
    """The draft's own problems, all at once; at the desk the spot in words is the place."""
    return [] if draft.location_text.strip() else [
        services.ReportError("no_location", "location_text")]


def _at_home(resident: Mapping[str, Any], draft: services.Draft) -> services.Draft:
    # No map at the desk: the resident's mahalla and the spot they describe.
    return replace(draft, lat=None, lon=None, mahalla_id=resident["mahalla"],
                   source=services.ASSISTED)


async def send_code(staff: StaffMember, resident: Mapping[str, Any],
                    gateway: SmsGateway) -> CodeSent:
    """Text the resident a fresh code for a report at this desk. There is no report yet to
    bind it to, so it is bound to the resident: it serves only their report, here."""
    precheck(resident)
    return await desk.send_code(staff.id, PURPOSE, resident["id"], resident, gateway,
                                CODE_MESSAGE)


async def report_by_code(staff: StaffMember, phone_text: str, code: str,
                         draft: services.Draft) -> int:
    """The resident read out the code sent to their phone: register their report; returns its
    id."""
    resident = await resident_by_phone(phone_text, "code")
    await check_desk(staff, resident, "code")
    precheck(resident)
    if refused := problems(draft):
        raise refused[0]
    code_id = await desk.matching_code(staff.id, PURPOSE, resident["id"], resident["phone"],
                                       code)
    # One transaction: a report refused (the daily limit, say) leaves the code unused.
    async with transaction():
        await desk.claim_code(code_id)
        return await services.create_report(resident["id"], _at_home(resident, draft),
                                             assisted_by=staff.id, consent=SMS_CONSENT)


def paper_form_number(text: str) -> str:
    number = " ".join(text.split())
    if not number or len(number) > PAPER_FORM_MAX:
        raise AssistError("paper_form_required", "paper_form")
    return number


async def check_paper(staff: StaffMember, resident_text: str, paper_form: str,
                      residence_checked: bool) -> dict[str, Any]:
    """Everything about the paper form's resident and number, checked before anything is
    written; returns the resident."""
    resident = await resident_at_desk(resident_text, "paper_phone")
    await check_desk(staff, resident, "paper_phone")
    paper_form_number(paper_form)
    if resident["residence_confirmed_at"] is None and not residence_checked:
        raise AssistError("residence_unchecked", "residence_checked")
    return resident


async def report_by_paper(actor: Identity, staff: StaffMember, resident_text: str,
                          paper_form: str, residence_checked: bool,
                          draft: services.Draft) -> int:
    """The resident signed a numbered paper form; their residence is confirmed by the staff
    member, now if not before. Returns the report's id."""
    resident = await check_paper(staff, resident_text, paper_form, residence_checked)
    number = paper_form_number(paper_form)
    if refused := problems(draft):
        raise refused[0]
    # One transaction: a refused report leaves the residence as it was.
    async with transaction():
        if resident["residence_confirmed_at"] is None:
            try:
                await staff_accounts.confirm_residence(actor, resident["id"])
            except staff_accounts.StaffError as error:
                # Refused only if the home changed meanwhile, or the grant does not reach it.
                raise AssistError("other_mahalla", "paper_phone") from error
        return await services.create_report(
            resident["id"], _at_home(resident, draft), assisted_by=staff.id,
            consent=f"{PAPER_PREFIX}{number}")


async def receipt(report_id: int) -> dict[str, Any] | None:
    """What the resident's receipt shows: never the full phone number."""
    row = await services.report(report_id)
    if row is None or row["source"] != services.ASSISTED:
        return None
    people = await Report.select(
        Report.district.region.as_alias("region"),
        Report.assisted_by.display_name.as_alias("assisted_by_name"),
        Report.author.phone.as_alias("phone"),
        Report.author.display_name.as_alias("resident_name"),
    ).where(Report.id == report_id).first()
    assert people is not None
    phone = people.pop("phone")
    consent = row["consent"]
    return {**row, **people, "category_label": services.category_label(row),
            "masked_phone": mask_phone(phone) if phone else "",
            "paper_form": consent.removeprefix(PAPER_PREFIX)
            if consent.startswith(PAPER_PREFIX) else ""}
