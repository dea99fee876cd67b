"""Client for OneID (sso.egov.uz), Uzbekistan's national single sign-on.

OneID looks like OAuth2 but is not: one URL (Authorization.do) serves every step and the
operation is chosen by a parameter, not by the path.

1. The browser is sent to the authorise URL with response_type=one_code, client_id,
   redirect_uri, scope and state; OneID sends it back to redirect_uri with code and state.
2. POST grant_type=one_authorization_code, client_id, client_secret, code, redirect_uri
   -> JSON with access_token (and scope, expires_in, refresh_token, token_type).
3. POST grant_type=one_access_token_identify, client_id, client_secret, access_token, scope
   -> JSON describing the person: pin (the 14-digit PINFL), first_name, sur_name, mid_name,
   valid ("true" once the account has been confirmed), ret_cd ("0" on success), ...

Ovoz keeps only what it needs: the PINFL (as a keyed fingerprint, for one person one
account) and a first name to suggest a display name. Error messages never carry a code, a
token, the client secret or a PINFL, so they can be shown and logged as they are.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from ovoz.settings import Settings

REQUEST_TIMEOUT_SECONDS = 10.0
_PINFL = re.compile(r"[0-9]{14}")
# OAuth-style error codes ("invalid_grant") are quoted in messages; anything else the
# provider puts in "error" could echo a code or a token, so it is left out.
_SAFE_ERROR_CODE = re.compile(r"[a-z_]{1,40}")
_RET_CD = re.compile(r"-?[0-9]{1,4}")


class OneIdError(Exception):
    """The OneID flow failed; the message is safe to show and to log."""


@dataclass(frozen=True)
class OneIdPerson:
    pinfl: str
    first_name: str


def new_state() -> str:
    """An unguessable value for the state parameter; keep it in the session and compare the
    one OneID sends back with secrets.compare_digest before calling sign_in."""
    return secrets.token_urlsafe(32)


def authorize_url(settings: Settings, redirect_uri: str, state: str) -> str:
    """Where to send the browser to sign in with OneID."""
    client_id, _ = _credentials(settings)
    query = urlencode({
        "response_type": "one_code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": settings.oneid_scope,
        "state": state,
    })
    separator = "&" if "?" in settings.oneid_authorize_url else "?"
    return f"{settings.oneid_authorize_url}{separator}{query}"


async def exchange_code(
    settings: Settings, code: str, redirect_uri: str, client: httpx.AsyncClient
) -> str:
    """Trade the code from the redirect for an access token."""
    client_id, client_secret = _credentials(settings)
    answer = await _post(settings, client, "code exchange", {
        "grant_type": "one_authorization_code",
        "client_id": client_id,
        "client_secret": client_secret,
        "code": code,
        "redirect_uri": redirect_uri,
    })
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise OneIdError("OneID code exchange failed: the answer has no access token")
    return token


async def identify(settings: Settings, access_token: str, client: httpx.AsyncClient
                   ) -> OneIdPerson:
    """Ask OneID who the access token belongs to."""
    client_id, client_secret = _credentials(settings)
    answer = await _post(settings, client, "identify request", {
        "grant_type": "one_access_token_identify",
        "client_id": client_id,
        "client_secret": client_secret,
        "access_token": access_token,
        "scope": settings.oneid_scope,
    })
    # OneID's own samples send "valid" as the text "true"; some clients read a JSON boolean.
    # An unconfirmed account has no checked identity behind its PINFL, so it cannot count.
    valid = answer.get("valid", True)
    if not (valid is True or (isinstance(valid, str) and valid.strip().lower() == "true")):
        raise OneIdError("OneID identify request failed: the OneID account is not confirmed")
    pinfl = answer.get("pin")
    if not isinstance(pinfl, str) or not _PINFL.fullmatch(pinfl.strip()):
        raise OneIdError("OneID identify request failed: the answer has no 14-digit PINFL")
    first_name = answer.get("first_name")
    return OneIdPerson(
        pinfl=pinfl.strip(),
        first_name=first_name.strip() if isinstance(first_name, str) else "",
    )


async def sign_in(
    settings: Settings, code: str, redirect_uri: str, client: httpx.AsyncClient | None = None
) -> OneIdPerson:
    """The whole back-channel flow: code -> access token -> person. redirect_uri must be the
    one given to authorize_url."""
    if client is None:
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS) as own_client:
            return await sign_in(settings, code, redirect_uri, own_client)
    access_token = await exchange_code(settings, code, redirect_uri, client)
    return await identify(settings, access_token, client)


def pinfl_fingerprint(pinfl: str, secret_key: str) -> str:
    """HMAC-SHA256 (hex, 64 characters) of the PINFL keyed with the site secret.

    Stored in a unique column, it enforces one PINFL, one account without keeping the PINFL
    itself, and without the key nobody can test a guessed PINFL against it. Rotating the
    secret key changes every fingerprint: they must then be recomputed (at each person's
    next OneID sign-in) or existing accounts will no longer be recognised."""
    if not _PINFL.fullmatch(pinfl):
        # A stray space or a missing digit would give the same person a second fingerprint.
        raise ValueError("a PINFL is exactly 14 digits")
    return hmac.new(secret_key.encode(), pinfl.encode(), hashlib.sha256).hexdigest()


def _credentials(settings: Settings) -> tuple[str, str]:
    if not settings.oneid_enabled:
        raise OneIdError("OneID sign-in is not enabled on this site")
    return settings.oneid_client_id, settings.oneid_client_secret


async def _post(settings: Settings, client: httpx.AsyncClient, step: str, form: dict[str, str]
                ) -> dict[str, Any]:
    # `from None` throughout: the chained exceptions hold the request and the raw answer.
    try:
        response = await client.post(
            settings.oneid_token_url, data=form, headers={"Accept": "application/json"}
        )
    except httpx.TimeoutException:
        raise OneIdError(f"OneID {step} failed: OneID did not answer in time") from None
    except httpx.HTTPError as error:
        raise OneIdError(f"OneID {step} failed: could not reach OneID "
                         f"({type(error).__name__})") from None
    try:
        answer: Any = response.json()
    except ValueError:
        answer = None
    error_code = answer.get("error") if isinstance(answer, dict) else None
    if response.is_error or error_code is not None:
        detail = f"HTTP {response.status_code}"
        if isinstance(error_code, str) and _SAFE_ERROR_CODE.fullmatch(error_code):
            detail += f", error {error_code}"
        raise OneIdError(f"OneID {step} failed: OneID answered with an error ({detail})")
    if not isinstance(answer, dict):
        raise OneIdError(f"OneID {step} failed: the answer is not a JSON object")
    # ret_cd is OneID's own result code: "0" is success, anything else a refusal.
    ret_cd = str(answer.get("ret_cd", "0")).strip()
    if ret_cd != "0":
        detail = f" (ret_cd {ret_cd})" if _RET_CD.fullmatch(ret_cd) else ""
        raise OneIdError(f"OneID {step} failed: OneID refused it{detail}")
    return answer
