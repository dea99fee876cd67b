"""/api/v1/auth and /api/v1/me: residents sign in by SMS code and get a bearer token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.params import HeaderParameter, JSONBody

from ovoz.accounts import services
from ovoz.accounts.phones import InvalidPhone
from ovoz.accounts.sms import SmsError
from ovoz.web.errors import ApiError

Authorization = Annotated[str | None, HeaderParameter(name="Authorization")]


@dataclass
class OtpRequest:
    phone: str


@dataclass
class TokenRequest:
    phone: str
    code: str


@dataclass
class ProfileChange:
    display_name: str | None = None
    mahalla_id: int | None = None
    language: str | None = None


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _refusal(error: services.SignInError, status: int) -> ApiError:
    if error.code in ("rate_limited", "resend_too_soon"):
        refusal = ApiError(429, "too_many_requests", "Too many attempts; try again later.")
        refusal.headers = {"Retry-After": str(error.retry_after)}
        return refusal
    details = {
        "wrong_code": f"The code is not right; {error.remaining} tries left.",
        "too_many_tries": "Too many wrong codes; ask for a new code.",
        "code_expired": "The code has expired or was replaced; ask for a new code.",
    }
    return ApiError(status, error.code, details.get(error.code, "Sign-in refused."))


def me_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "display_name": row["display_name"],
        "public_name": services.public_name(row),
        "mahalla_id": row["mahalla"],
        "language": row["language"],
        "verification": services.verification_levels(row),
    }


async def bearer_resident(authorization: str | None) -> dict[str, Any]:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorised", "Send 'Authorization: Bearer <token>'.")
    resident = await services.resident_for_token(token.strip())
    if resident is None:
        raise ApiError(401, "unauthorised", "The token is unknown, expired or revoked.")
    return resident


class AuthApi(Controller):
    path = "/api/v1/auth"
    tags = ("accounts",)

    @post("/otp", status_code=202, summary="Send a sign-in code by SMS")
    async def otp(self, request: Request, data: JSONBody[OtpRequest]) -> dict[str, Any]:
        try:
            sent = await services.send_sign_in_code(data.phone, _address(request),
                                                    request.app.state.sms_gateway)
        except InvalidPhone:
            raise ApiError(400, "invalid_phone",
                           "Not an Uzbek mobile number (e.g. +998901234567).") from None
        except services.SignInError as error:
            raise _refusal(error, 400) from None
        except SmsError:
            raise ApiError(503, "sms_unavailable",
                           "The SMS could not be sent; try again in a minute.") from None
        return {"phone": sent.masked_phone, "resend_after": sent.resend_after}

    @post("/token", status_code=200, summary="Exchange the SMS code for a bearer token")
    async def token(self, request: Request, data: JSONBody[TokenRequest]) -> dict[str, Any]:
        try:
            resident = await services.sign_in_with_code(data.phone, data.code,
                                                        _address(request))
        except InvalidPhone:
            raise ApiError(400, "invalid_phone",
                           "Not an Uzbek mobile number (e.g. +998901234567).") from None
        except services.SignInError as error:
            raise _refusal(error, 401) from None
        token, _ = await services.issue_api_token(resident["id"], label="API")
        return {"token": token, "user": me_json(resident)}


class MeApi(Controller):
    path = "/api/v1/me"
    tags = ("accounts",)

    @get("/", summary="The signed-in resident's profile", cache=False)
    async def me(self, authorization: Authorization = None) -> dict[str, Any]:
        return me_json(await bearer_resident(authorization))

    @patch("/", summary="Change display name, home mahalla or language")
    async def change(self, data: JSONBody[ProfileChange], authorization: Authorization = None
                     ) -> dict[str, Any]:
        resident = await bearer_resident(authorization)
        try:
            updated = await services.update_profile(
                resident["id"],
                resident["display_name"] if data.display_name is None else data.display_name,
                resident["mahalla"] if data.mahalla_id is None else data.mahalla_id,
                data.language or resident["language"],
            )
        except services.ProfileError as error:
            details = {
                "required": "This cannot be empty.",
                "too_long": "At most 60 characters.",
                "unknown": "No such value; see /api/v1/geo and the languages uz, uz-Cyrl, ru, en.",
            }
            raise ApiError(422, f"invalid_{error.field}",
                           f"{error.field}: {details.get(error.code, error.code)}") from None
        return me_json(updated)
