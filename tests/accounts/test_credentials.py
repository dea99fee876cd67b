"""Staff credentials: password rules and hashing, TOTP, recovery codes, QR code, lockout."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from argon2 import PasswordHasher

from ovoz.accounts import credentials
from ovoz.accounts.credentials import (
    DUMMY_HASH,
    LOCK_AFTER,
    LOCK_MINUTES,
    MIN_PASSWORD_LENGTH,
    RECOVERY_ALPHABET,
    enrolment_uri,
    hash_password,
    locked_until,
    new_recovery_codes,
    new_totp_secret,
    password_problems,
    qr_svg,
    recovery_code_digest,
    sign_in_delay,
    spend_verification_time,
    verify_password,
    verify_totp,
)

GOOD_PASSPHRASE = "tandir non va choy ertalab"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = datetime(2026, 3, 1, 9, 0, 10, tzinfo=UTC)
STEP = int(NOW.timestamp()) // 30


def code_at(offset: int) -> str:
    return pyotp.TOTP(SECRET).at(NOW + timedelta(seconds=30 * offset))


# Password rules


def test_common_password_list_is_loaded() -> None:
    common = credentials.common_passwords()
    assert len(common) > 19_000
    assert {"password", "qwerty", "123456"} <= common


def test_good_passphrase_has_no_problems() -> None:
    assert len(GOOD_PASSPHRASE) >= MIN_PASSWORD_LENGTH
    assert password_problems(GOOD_PASSPHRASE, "a.karimov") == []


def test_too_short() -> None:
    assert password_problems("x7#Kq9!mZ2w", "a.karimov") == ["too_short"]
    assert password_problems("x7#Kq9!mZ2wR", "a.karimov") == []


def test_too_long() -> None:
    assert password_problems("tandir non " * 18 + "ok", "a.karimov") == []  # 200 characters
    assert password_problems("tandir non " * 19, "a.karimov") == ["too_long"]


@pytest.mark.parametrize(
    "password", ["Password1234", "qwertyuiop12", "PASSWORD2024!!", "Qwertyuiop 12 ?"]
)
def test_common_passwords_are_refused(password: str) -> None:
    assert password_problems(password, "a.karimov") == ["common"]


def test_all_digits_password_is_judged_whole() -> None:
    # Stripping its trailing digits leaves nothing, which is no reason to call it common.
    assert password_problems("739164028575", "a.karimov") == []


@pytest.mark.parametrize("password", ["my name is a.karimov!", "A.KARIMOV tandir non"])
def test_username_inside_password_is_refused(password: str) -> None:
    assert password_problems(password, "a.karimov") == ["contains_username"]


def test_several_problems_are_all_reported() -> None:
    assert password_problems("password", "pass") == ["too_short", "common", "contains_username"]


# Password hashing


async def test_hash_round_trip() -> None:
    stored = await hash_password(GOOD_PASSPHRASE)
    assert stored.startswith("$argon2id$")
    assert GOOD_PASSPHRASE not in stored
    assert await verify_password(stored, GOOD_PASSPHRASE) == (True, None)


async def test_wrong_password_is_refused() -> None:
    stored = await hash_password(GOOD_PASSPHRASE)
    assert await verify_password(stored, GOOD_PASSPHRASE + "!") == (False, None)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$argon2id$v=19$m=65536,t=3,p=4$abc$def",
        "$2b$12$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWX",
    ],
)
async def test_malformed_hash_is_a_refusal(stored: str) -> None:
    assert await verify_password(stored, GOOD_PASSPHRASE) == (False, None)


async def test_outdated_hash_is_replaced() -> None:
    old = PasswordHasher(time_cost=1).hash(GOOD_PASSPHRASE)
    ok, new_hash = await verify_password(old, GOOD_PASSPHRASE)
    assert ok
    assert new_hash is not None and new_hash != old
    assert not PasswordHasher().check_needs_rehash(new_hash)
    assert await verify_password(new_hash, GOOD_PASSPHRASE) == (True, None)


async def test_outdated_hash_with_wrong_password_gives_no_new_hash() -> None:
    old = PasswordHasher(time_cost=1).hash(GOOD_PASSPHRASE)
    assert await verify_password(old, "something else entirely") == (False, None)


def test_dummy_hash_costs_what_a_current_hash_costs() -> None:
    # If argon2-cffi raises its defaults, regenerate DUMMY_HASH with PasswordHasher().hash(...).
    assert not PasswordHasher().check_needs_rehash(DUMMY_HASH)


async def test_spend_verification_time() -> None:
    assert await spend_verification_time(GOOD_PASSPHRASE) is None


@pytest.mark.parametrize(
    "work",
    [
        lambda: hash_password(GOOD_PASSPHRASE),
        lambda: verify_password(DUMMY_HASH, GOOD_PASSPHRASE),
        lambda: spend_verification_time(GOOD_PASSPHRASE),
    ],
    ids=["hash", "verify", "dummy"],
)
async def test_hashing_runs_off_the_event_loop(work: Callable[[], Awaitable[object]]) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await work()
    ticker.cancel()
    # Argon2 takes about 100 ms; a blocked loop would let the ticker run once at most.
    assert ticks >= 10


# TOTP


def test_new_totp_secret() -> None:
    secret = new_totp_secret()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)  # 160 bits
    assert secret != new_totp_secret()
    assert verify_totp(secret, pyotp.TOTP(secret).at(NOW), None, now=NOW) == STEP


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_code_of_adjacent_steps_is_accepted(offset: int) -> None:
    assert verify_totp(SECRET, code_at(offset), None, now=NOW) == STEP + offset


@pytest.mark.parametrize("offset", [-2, 2])
def test_code_two_steps_away_is_refused(offset: int) -> None:
    assert verify_totp(SECRET, code_at(offset), None, now=NOW) is None


def test_wrong_code_is_refused() -> None:
    wrong = f"{(int(code_at(0)) + 1) % 1_000_000:06d}"
    assert verify_totp(SECRET, wrong, None, now=NOW) is None


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "12345a", "١٢٣٤٥٦"])
def test_malformed_code_is_refused(typed: str) -> None:
    assert verify_totp(SECRET, typed, None, now=NOW) is None


def test_replayed_code_is_refused() -> None:
    assert verify_totp(SECRET, code_at(0), STEP, now=NOW) is None
    assert verify_totp(SECRET, code_at(-1), STEP, now=NOW) is None
    assert verify_totp(SECRET, code_at(-1), STEP - 1, now=NOW) is None
    assert verify_totp(SECRET, code_at(1), STEP, now=NOW) == STEP + 1


def test_code_after_last_used_step_is_accepted() -> None:
    assert verify_totp(SECRET, code_at(0), STEP - 1, now=NOW) == STEP


@pytest.mark.parametrize("spacing", ["{} {}", " {}{} ", "{}\u00a0{}", "{}\t{}"])
def test_spaces_in_code_are_ignored(spacing: str) -> None:
    code = code_at(0)
    assert verify_totp(SECRET, spacing.format(code[:3], code[3:]), None, now=NOW) == STEP


def test_naive_time_is_an_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_totp(SECRET, code_at(0), None, now=NOW.replace(tzinfo=None))


def test_current_time_is_the_default() -> None:
    code = pyotp.TOTP(SECRET).now()
    assert verify_totp(SECRET, code, None) is not None


def test_enrolment_uri() -> None:
    assert enrolment_uri(SECRET, "a.karimov") == (
        f"otpauth://totp/Ovoz:a.karimov?secret={SECRET}&issuer=Ovoz"
    )
    assert enrolment_uri(SECRET, "a karimov", issuer="Ovoz test").startswith(
        "otpauth://totp/Ovoz%20test:a%20karimov?secret="
    )


# Recovery codes


def test_recovery_codes() -> None:
    codes = new_recovery_codes()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    symbol = f"[{RECOVERY_ALPHABET}]"
    for code in codes:
        assert re.fullmatch(rf"{symbol}{{4}}-{symbol}{{4}}-{symbol}{{4}}", code)
    assert len(new_recovery_codes(3)) == 3


def test_recovery_alphabet_is_unambiguous_and_gives_60_bits() -> None:
    assert len(set(RECOVERY_ALPHABET)) ** 12 >= 2**60
    assert not set(RECOVERY_ALPHABET) & set("ilou")
    assert RECOVERY_ALPHABET.islower()


def test_recovery_code_digest_is_normalised() -> None:
    digest = recovery_code_digest("k7f3-9qpa-2mxd")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    for typed in ["K7F3-9QPA-2MXD", " k7f3 9qpa 2mxd ", "k7f39qpa2mxd", "k7f3\u20139qpa\u20132mxd"]:
        assert recovery_code_digest(typed) == digest
    assert recovery_code_digest("k7f3-9qpa-2mxe") != digest


def test_recovery_code_digest_reads_lookalikes() -> None:
    assert recovery_code_digest("1o0l-iiii-0000") == recovery_code_digest("1001-1111-0000")


# QR code


def test_qr_svg() -> None:
    uri = enrolment_uri(SECRET, "a.karimov")
    svg = qr_svg(uri, "QR code to add Ovoz to your authenticator app")
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg
    assert "<title>QR code to add Ovoz to your authenticator app</title>" in svg
    assert "#000" in svg
    assert SECRET not in svg
    outside_namespace = svg.replace("http://www.w3.org/2000/svg", "")
    assert "http" not in outside_namespace
    assert "href" not in svg
    width = int(re.search(r'width="(\d+)"', svg).group(1))
    assert 150 <= width <= 250


def test_qr_svg_escapes_the_title() -> None:
    svg = qr_svg("otpauth://totp/x", 'Scan <this> & "that"')
    assert "<this>" not in svg
    assert "&lt;this&gt; &amp;" in svg


# Lockout


def test_sign_in_delay_schedule() -> None:
    delays = [sign_in_delay(failures) for failures in range(13)]
    assert delays == [0, 0, 0, 0, 1, 2, 4, 8, 16, 30, 30, 30, 30]


def test_locked_until() -> None:
    last = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert locked_until(0, last) is None
    assert locked_until(LOCK_AFTER - 1, last) is None
    assert locked_until(LOCK_AFTER, last) == last + timedelta(minutes=LOCK_MINUTES)
    assert locked_until(LOCK_AFTER + 5, last) == datetime(2026, 3, 1, 9, 15, tzinfo=UTC)
