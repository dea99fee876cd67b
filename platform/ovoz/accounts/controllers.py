"""Resident pages: sign in with an SMS code, the profile, their data, signing out."""

from __future__ import annotations

import json
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from ovoz.accounts import services, sessions
from ovoz.accounts.phones import InvalidPhone, parse_phone
from ovoz.accounts.sms import SmsError, mask_phone
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.notify import services as notify
from ovoz.settings import LANGUAGES
from ovoz.web.forms import FormErrors, local_path
from ovoz.web.templating import page

Form = URLEncodedBody[dict[str, str]]
# Refusals that pass with time: answered 429 Too Many Requests.
LIMITS = ("rate_limited", "resend_too_soon", "too_many_accounts")


def sign_in_message(error: services.SignInError) -> str:
    if error.code in ("rate_limited", "resend_too_soon"):
        minutes = max(1, -(-error.retry_after // 60))
        if error.code == "resend_too_soon":
            return locale.gettext(
                "A code was sent a moment ago. You can ask for a new one in %(seconds)s "
                "seconds.", seconds=error.retry_after)
        return locale.ngettext(
            "Too many attempts. Please try again in %(num)s minute.",
            "Too many attempts. Please try again in %(num)s minutes.", minutes)
    if error.code == "wrong_code":
        return locale.ngettext("The code is not right. %(num)s try left.",
                               "The code is not right. %(num)s tries left.", error.remaining)
    if error.code == "blocked":
        return locale.gettext("This account is blocked by the moderators. The message we sent "
                              "says why; your mahalla office can ask them to look again.")
    if error.code == "too_many_accounts":
        return locale.gettext("Too many new accounts were opened from this network or these "
                              "numbers today. Please try again tomorrow, or ask at your "
                              "mahalla office.")
    if error.code == "too_many_tries":
        return locale.gettext("Too many wrong codes. Ask for a new code.")
    return locale.gettext("This code has expired or was replaced by a newer one. Ask for a "
                          "new code.")


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limited(error: services.SignInError) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after)} if error.retry_after else {}


class SignInController(Controller):
    include_in_schema = False

    @get("/signin", name="accounts:signin")
    async def phone_form(self, request: Request,
                         next_path: Annotated[str | None, QueryParameter(name="next")] = None
                         ) -> Template:
        return await page(request, "accounts/signin.html", errors=FormErrors(), values={},
                          next_path=local_path(next_path, "/"))

    @post("/signin", name="accounts:send_code")
    async def send_code(self, request: Request, data: Form) -> Template:
        errors = FormErrors()
        next_path = local_path(data.get("next"), "/")
        values = {"phone": data.get("phone", "")}
        try:
            sent = await services.send_sign_in_code(values["phone"], _address(request),
                                                    request.app.state.sms_gateway)
        except InvalidPhone:
            errors.add("phone", locale.gettext(
                "Enter an Uzbek mobile number, like 90 123 45 67."))
        except services.SignInError as error:
            errors.add("phone", sign_in_message(error))
            status = 429 if error.code in LIMITS else 400
            return await page(request, "accounts/signin.html", status_code=status,
                              errors=errors, values=values, next_path=next_path,
                              headers=_limited(error))
        except SmsError:
            errors.add("phone", locale.gettext(
                "We could not send the SMS just now. Please try again in a minute."))
        if errors:
            return await page(request, "accounts/signin.html", status_code=400, errors=errors,
                              values=values, next_path=next_path)
        return await page(request, "accounts/code.html", errors=errors, phone=sent.phone,
                          masked_phone=sent.masked_phone, next_path=next_path)

    @post("/signin/code", name="accounts:check_code")
    async def check_code(self, request: Request, data: Form) -> Response[Any]:
        next_path = local_path(data.get("next"), "/")
        phone = data.get("phone", "")
        errors = FormErrors()
        try:
            resident = await services.sign_in_with_code(phone, data.get("code", ""),
                                                        _address(request))
        except InvalidPhone:
            return Redirect("/signin")
        except services.SignInError as error:
            errors.add("code", sign_in_message(error))
            status = 429 if error.code in LIMITS else 400
            return await page(request, "accounts/code.html", status_code=status, errors=errors,
                              phone=parse_phone(phone), masked_phone=mask_phone(parse_phone(phone)),
                              next_path=next_path, headers=_limited(error))
        token = await sessions.start(sessions.RESIDENT, resident["id"],
                                     resident["session_epoch"],
                                     previous_token=sessions.identity_of(request).token)
        complete = resident["display_name"] and resident["mahalla"]
        response = Redirect(next_path if complete else "/profile")
        response.set_cookie(sessions.cookie(token))
        return response

    @post("/signout", name="accounts:signout")
    async def sign_out(self, request: Request) -> Redirect:
        """Ends the session of whoever is signed in, resident or staff."""
        await sessions.end(sessions.identity_of(request).token)
        response = Redirect("/")
        response.set_cookie(sessions.expired_cookie())
        return response


def _require_resident(request: Request) -> dict[str, Any] | None:
    return sessions.identity_of(request).resident


def _stored_values(resident: dict[str, Any]) -> dict[str, Any]:
    """The profile form as saved, before the person changes anything."""
    return {"display_name": resident["display_name"], "language": resident["language"],
            "mahalla_id": resident["mahalla"]}


class ProfileController(Controller):
    path = "/profile"
    include_in_schema = False

    @get("/", name="accounts:profile")
    async def show(self, request: Request) -> Response[Any]:
        resident = _require_resident(request)
        if resident is None:
            return Redirect("/signin?next=/profile")
        return await self._render(request, resident, _stored_values(resident), FormErrors(),
                                  None, None)

    @post("/", name="accounts:profile_save")
    async def save(self, request: Request, data: Form) -> Response[Any]:
        resident = _require_resident(request)
        if resident is None:
            return Redirect("/signin?next=/profile")
        errors = FormErrors()
        raw_mahalla = data.get("mahalla_id", "")
        mahalla_id = int(raw_mahalla) if raw_mahalla.isdigit() else None
        values = {"display_name": data.get("display_name", ""),
                  "language": data.get("language", resident["language"]),
                  "mahalla_id": mahalla_id}
        region_id, district_id = data.get("region_id", ""), data.get("district_id", "")
        if data.get("step") == "choose":
            # "Show districts" / "Show mahallas": the next step of the chooser, nothing saved.
            # A POST, so what was typed never lands in an address or a log.
            return await self._render(
                request, resident, values, errors,
                int(region_id) if region_id.isdigit() else None,
                int(district_id) if district_id.isdigit() else None)
        if mahalla_id is None:
            errors.add("mahalla_id", locale.gettext(
                "Choose your mahalla: you can take part once it is set."))
        else:
            try:
                await services.update_profile(resident["id"], values["display_name"],
                                              mahalla_id, values["language"])
            except services.ProfileError as error:
                errors.add(error.field, profile_message(error))
        if errors:
            return await self._render(
                request, resident, values, errors,
                int(region_id) if region_id.isdigit() else None,
                int(district_id) if district_id.isdigit() else None, status_code=400)
        response = Redirect("/profile?saved=1")
        if values["language"] in LANGUAGES:
            response.set_cookie("lang", values["language"], max_age=365 * 24 * 3600,
                                samesite="lax")
        return response

    async def _render(self, request: Request, resident: dict[str, Any], values: dict[str, Any],
                      errors: FormErrors, region_id: int | None, district_id: int | None,
                      status_code: int = 200, telegram_code: str | None = None) -> Template:
        chooser = await mahalla_chooser(values.get("mahalla_id"), region_id, district_id)
        return await page(
            request, "accounts/profile.html", status_code=status_code, resident=resident,
            values=values, errors=errors, chooser=chooser,
            public_name=services.public_name({"display_name": values["display_name"]}),
            levels=services.verification_levels(resident),
            tokens=await services.api_tokens(resident["id"]),
            saved=request.query_params.get("saved") == "1",
            channels=await notify.resident_channels(resident["id"]),
            digest=await notify.resident_digest(resident["id"]),
            telegram_linked=await notify.telegram_linked(resident["id"]),
            telegram_code=telegram_code,
        )

    @post("/channels", name="accounts:channels")
    async def channels(self, request: Request, data: URLEncodedBody[dict[str, Any]]
                       ) -> Redirect:
        resident = _require_resident(request)
        if resident is not None:
            chosen = data.get("channel", [])
            await notify.choose_channels(
                resident["id"], [chosen] if isinstance(chosen, str) else list(chosen),
                digest=str(data.get("digest", "none")))
        return Redirect("/profile?saved=1")

    @post("/telegram", name="accounts:telegram_link")
    async def telegram_link(self, request: Request) -> Response[Any]:
        resident = _require_resident(request)
        if resident is None:
            return Redirect("/signin?next=/profile")
        code = await notify.start_telegram_link(resident["id"])
        return await self._render(request, resident, _stored_values(resident), FormErrors(),
                                  None, None, telegram_code=code)

    @post("/telegram/unlink", name="accounts:telegram_unlink")
    async def telegram_unlink(self, request: Request) -> Redirect:
        resident = _require_resident(request)
        if resident is not None:
            await notify.unlink_telegram(resident["id"])
        return Redirect("/profile")

    @post("/tokens/{token_id:int}/revoke", name="accounts:revoke_token")
    async def revoke(self, request: Request, token_id: FromPath[int]) -> Redirect:
        resident = _require_resident(request)
        if resident is not None:
            await services.revoke_api_token(resident["id"], token_id)
        return Redirect("/profile")

    @get("/data.json", name="accounts:export")
    async def export(self, request: Request) -> Response[Any]:
        resident = _require_resident(request)
        if resident is None:
            return Redirect("/signin?next=/profile")
        data = await services.export_data(resident["id"])
        return Response(
            json.dumps(data, ensure_ascii=False, indent=2), media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="ovoz-my-data.json"',
                     "Cache-Control": "no-store"},
        )

    @post("/signout-everywhere", name="accounts:signout_everywhere")
    async def sign_out_everywhere(self, request: Request) -> Redirect:
        resident = _require_resident(request)
        response = Redirect("/")
        if resident is not None:
            await services.sign_out_everywhere(resident["id"])
            response.set_cookie(sessions.expired_cookie())
        return response

    @post("/delete", name="accounts:delete")
    async def delete(self, request: Request, data: Form) -> Response[Any]:
        resident = _require_resident(request)
        if resident is None:
            return Redirect("/")
        if data.get("confirm") != "yes":
            errors = FormErrors()
            errors.add("confirm", locale.gettext(
                "Tick the box to confirm that you want to delete your account."))
            return await self._render(request, resident, _stored_values(resident), errors,
                                      None, None, status_code=400)
        await services.delete_account(resident["id"])
        response = Redirect("/?deleted=1")
        response.set_cookie(sessions.expired_cookie())
        return response


def profile_message(error: services.ProfileError) -> str:
    if error.field == "display_name" and error.code == "too_long":
        return locale.gettext("Use at most 60 characters.")
    if error.field == "display_name":
        return locale.gettext("Enter your name, for example Aziz Karimov.")
    if error.field == "language":
        return locale.gettext("Choose one of the languages listed.")
    return locale.gettext("Choose your mahalla from the list.")


async def mahalla_chooser(mahalla_id: int | None, region_id: int | None,
                          district_id: int | None) -> dict[str, Any]:
    """Region -> district -> mahalla, one step at a time, so it works without JavaScript."""
    if mahalla_id and not district_id and not region_id:
        current = await geo.mahalla(mahalla_id)
        if current:
            district_id = current["district"]
    if district_id and not region_id:
        district = await geo.district(district_id)
        region_id = district["region"] if district else None
    districts = await geo.districts(region_id) if region_id else []
    if district_id and not any(d["id"] == district_id for d in districts):
        district_id = None
    mahallas = await geo.mahallas_of(district_id) if district_id else []
    return {"regions": await geo.regions(), "region_id": region_id, "districts": districts,
            "district_id": district_id, "mahallas": mahallas, "mahalla_id": mahalla_id}
