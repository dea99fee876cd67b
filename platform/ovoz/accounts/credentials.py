"""Staff credentials: passwords, TOTP codes, recovery codes, the enrolment QR code and the
sign-in lockout, as pure functions (the callers store and load what these return).

Staff (officials, mahalla staff, moderators, NGO monitors, administrators) sign in with a
username, a password and a six-digit code from an authenticator app.

Passwords are at least 12 and at most 200 characters, not one of 20,000 common passwords (also
with digits or punctuation added at the end), and do not contain the username. They are stored
as argon2id hashes.

Wrong tries and lockout. Every refused sign-in (wrong password, wrong or reused code) counts as
a failure; a successful sign-in sets the count back to zero.
- The first 3 failures in a row cost nothing. After the 4th the answer comes 1 second later,
  after the 5th 2 seconds, then 4, 8, 16 and never more than 30 seconds.
- After 10 failures in a row the account is locked for 15 minutes from the last failure. The
  sign-in page then says plainly from what time they can try again (for example "You can try
  again at 14:35"); until then no password or code is checked, not even a right one.
- Once that time has passed they can try again, but while the count is not back to zero one
  more failure locks the account for another 15 minutes.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import re
import secrets
import string
from datetime import UTC, datetime, timedelta
from functools import cache

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ovoz.settings import ROOT

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200
COMMON_PASSWORDS_PATH = ROOT / "seeds" / "common-passwords.txt.gz"

TOTP_INTERVAL = 30
TOTP_DIGITS = 6
TOTP_VALID_WINDOW = 1

# Crockford's base32, lowercased: no i, l, o or u, so no letter passes for a digit. 32 symbols
# give 5 bits each, 60 bits for 12 of them.
RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
RECOVERY_GROUPS = 3
RECOVERY_GROUP_LENGTH = 4

QR_TARGET_PX = 200

LOCK_AFTER = 10
LOCK_MINUTES = 15
FREE_FAILURES = 3
MAX_DELAY_SECONDS = 30.0

_hasher = PasswordHasher()
# A hash of a throwaway password with the hasher's current parameters: verifying against it
# costs what verifying a real user's password costs. test_credentials checks that the
# parameters still match the defaults, so a library upgrade cannot make it cheaper unnoticed.
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$64zKnRHKqphlIV0ovQR2tg"
    "$nkKJxDrhngvlfFNsdAEuG61umiSrpvNgMwMdeHfALfc"
)

_TRAILING_NOISE = string.digits + string.punctuation + string.whitespace
_TOTP_CODE = re.compile(rf"[0-9]{{{TOTP_DIGITS}}}")
# Separators someone may type or paste between the groups of a recovery code.
_RECOVERY_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]")
# Crockford's reading of the letters left out of the alphabet.
_RECOVERY_LOOKALIKES = str.maketrans("oil", "011")


# Passwords


@cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS_PATH, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def password_problems(password: str, username: str) -> list[str]:
    """Stable codes for what is wrong with a new password; empty when it is acceptable."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append("too_short")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append("too_long")
    folded = password.casefold()
    # "password2024!" is as guessable as "password": try the stem too.
    stem = folded.rstrip(_TRAILING_NOISE)
    if folded in common_passwords() or (stem and stem in common_passwords()):
        problems.append("common")
    name = username.strip().casefold()
    if name and name in folded:
        problems.append("contains_username")
    return problems


async def hash_password(password: str) -> str:
    # Argon2 takes a tenth of a second of CPU by design: keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored_hash: str, password: str) -> tuple[bool, str | None]:
    try:
        _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False, None
    if _hasher.check_needs_rehash(stored_hash):
        return True, _hasher.hash(password)
    return True, None


async def verify_password(stored_hash: str, password: str) -> tuple[bool, str | None]:
    """(ok, new_hash): new_hash is set when the stored hash's parameters are outdated and the
    caller should store it. A malformed hash is a refusal, not an error."""
    return await asyncio.to_thread(_verify, stored_hash, password)


async def spend_verification_time(password: str) -> None:
    """Take as long as verify_password does, for a username that does not exist, so response
    times do not tell which usernames are real."""
    await asyncio.to_thread(_verify, DUMMY_HASH, password)


# TOTP


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def enrolment_uri(secret: str, username: str, issuer: str = "Ovoz") -> str:
    """The otpauth:// URI an authenticator app reads from the enrolment QR code."""
    return _totp(secret).provisioning_uri(name=username, issuer_name=issuer)


def verify_totp(
    secret: str, code: str, last_used_step: int | None, now: datetime | None = None
) -> int | None:
    """The time step the code belongs to, or None when it is wrong, outside the window of one
    step either side of now (clock drift, slow typing), or of a step at or before the last one
    used: a code seen once, even over someone's shoulder, never signs in again. The caller
    stores the returned step as the new last_used_step. `now` must be timezone-aware."""
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        # pyotp would read a naive time as the server's local time.
        raise ValueError("now must be timezone-aware")
    typed = "".join(code.split())
    if not _TOTP_CODE.fullmatch(typed):
        return None
    totp = _totp(secret)
    current = totp.timecode(now)
    for step in range(current - TOTP_VALID_WINDOW, current + TOTP_VALID_WINDOW + 1):
        if last_used_step is not None and step <= last_used_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), typed):
            return step
    return None


# Recovery codes


def _random_groups(count: int) -> str:
    """`count` groups of random letters and digits, easy to read out and type: "k7f3-9qpa"."""
    return "-".join(
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUP_LENGTH))
        for _ in range(count)
    )


def new_recovery_codes(count: int = 10) -> list[str]:
    """`count` distinct codes like "k7f3-9qpa-2mxd" (60 random bits each), shown once."""
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(_random_groups(RECOVERY_GROUPS))
    return sorted(codes)


def new_password(username: str) -> str:
    """A first password for a new staff account, made when the administrator gives none and
    shown once: five groups like a recovery code's (100 random bits), that the password rules
    accept for this username."""
    while True:
        password = _random_groups(RECOVERY_GROUPS + 2)
        if not password_problems(password, username):
            return password


def recovery_code_digest(code: str) -> str:
    """What is stored and looked up for a recovery code: case, dashes and spaces do not matter.
    The codes are random with 60 bits, so a fast hash is enough; a slow one would add nothing."""
    normalised = _RECOVERY_SEPARATORS.sub("", code).lower().translate(_RECOVERY_LOOKALIKES)
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


# QR code


def qr_svg(uri: str, title: str) -> str:
    """An inline <svg> of the QR code for `uri`, about 200 px wide, for the enrolment page;
    `title` (escaped here) is what a screen reader announces. Drawn here, so the TOTP secret
    never leaves the server."""
    qr = segno.make_qr(uri)
    width, _ = qr.symbol_size(scale=1)
    return qr.svg_inline(
        scale=max(1, round(QR_TARGET_PX / width)), title=title, dark="#000", light="#fff"
    )


# Lockout


def sign_in_delay(failures: int) -> float:
    """Seconds to wait before answering, after `failures` failures in a row."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY_SECONDS, 2.0 ** (failures - FREE_FAILURES - 1))


def locked_until(failures: int, last_failure_at: datetime) -> datetime | None:
    """When the account may be tried again, or None when it is not locked. The caller compares
    the result with the current time and shows it to the official."""
    if failures < LOCK_AFTER:
        return None
    return last_failure_at + timedelta(minutes=LOCK_MINUTES)
