"""Signing in (or confirming an account) with OneID, when the deployment enables it."""

from __future__ import annotations

import json
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter
from litestar.response import Redirect

from ovoz.accounts import oneid, services, sessions
from ovoz.accounts.controllers import sign_in_message
from ovoz.i18n import locale
from ovoz.settings import Settings
from ovoz.store.services import DatabaseStore
from ovoz.web.templating import page

# A started OneID sign-in, waiting for the person to come back (at most ten minutes).
_pending = DatabaseStore().with_namespace("oneid")
PENDING_SECONDS = 600


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    if not settings.oneid_enabled:
        raise NotFoundException()
    return settings


def _callback(settings: Settings) -> str:
    return f"{settings.base_url}/signin/oneid/callback"


class OneIdController(Controller):
    path = "/signin/oneid"
    include_in_schema = False

    @get("/", name="accounts:oneid")
    async def start(self, request: Request) -> Redirect:
        settings = _settings(request)
        state = oneid.new_state()
        resident = sessions.identity_of(request).resident
        await _pending.set(state, json.dumps({"link": resident["id"] if resident else None}),
                           expires_in=PENDING_SECONDS)
        return Redirect(oneid.authorize_url(settings, _callback(settings), state))

    @get("/callback", name="accounts:oneid_callback")
    async def callback(
        self, request: Request,
        code: Annotated[str | None, QueryParameter(max_length=500)] = None,
        returned_state: Annotated[str | None, QueryParameter(name="state", max_length=200)] = None,
    ) -> Response[Any]:
        settings = _settings(request)
        pending = await _pending.get(returned_state) if returned_state else None
        if returned_state:
            await _pending.delete(returned_state)
        if pending is None or not code:
            return await self._failed(request, locale.gettext(
                "The OneID sign-in expired or was not started here. Please start again."))
        linking = json.loads(pending)["link"]
        try:
            person = await oneid.sign_in(settings, code, _callback(settings))
            resident = await services.sign_in_with_oneid(
                oneid.pinfl_fingerprint(person.pinfl, settings.secret_key), person.first_name,
                linking_resident_id=linking)
        except oneid.OneIdError:
            return await self._failed(request, locale.gettext(
                "OneID could not confirm who you are just now. Please try again later."))
        except services.SignInError as error:
            if error.code == "blocked":
                return await self._failed(request, sign_in_message(error), status_code=403)
            return await self._failed(request, locale.gettext(
                "This OneID person already has an Ovoz account. Sign in to that account "
                "instead: one person has one account."), status_code=409)
        token = await sessions.start(sessions.RESIDENT, resident["id"],
                                     resident["session_epoch"],
                                     previous_token=sessions.identity_of(request).token)
        response = Redirect("/profile" if linking or not resident["mahalla"] else "/")
        response.set_cookie(sessions.cookie(token))
        return response

    async def _failed(self, request: Request, message: str, status_code: int = 400
                      ) -> Response[Any]:
        return await page(request, "accounts/oneid_failed.html", status_code=status_code,
                          message=message)
