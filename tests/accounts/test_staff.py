"""Staff accounts as services: creation, roles, the two sign-in steps, enrolment, residence."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher

from ovoz.accounts import credentials, sessions, staff
from ovoz.accounts.permissions import Grant, PermissionDenied, Role, StaffMember
from ovoz.accounts.staff import StaffError, StaffSignInError
from ovoz.accounts.tables import RecoveryCode, Resident, RoleGrant, StaffAccount, StaffAudit
from ovoz.geo.services import import_mahallas
from ovoz.geo.tables import Mahalla
from ovoz.ledger.tables import LedgerEntry

PASSWORD = "tuman-yoli-2026-kuz"
T0 = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
CHORTOQ, NAMANGAN = 106, 7  # district 106 (Chortoq) is in region 7 (Namangan)
BERUNIY, KARAKALPAKSTAN = 16, 1


# Helpers


async def make(username: str = "a.karimov", *grants: Grant) -> int:
    row, _ = await staff.create_staff(username, username.title(), PASSWORD, grants=grants)
    return row["id"]


async def actor(staff_id: int) -> sessions.Identity:
    return sessions.Identity(staff={"id": staff_id}, staff_stage=sessions.STAFF_FULL,
                             grants=await sessions.staff_grants(staff_id))


async def account(staff_id: int) -> dict[str, Any]:
    row = await StaffAccount.select().where(StaffAccount.id == staff_id).first()
    assert row is not None
    return row


async def entries() -> list[tuple[str, str, dict[str, Any]]]:
    rows = await LedgerEntry.select(LedgerEntry.kind, LedgerEntry.subject, LedgerEntry.payload
                                    ).where(LedgerEntry.kind.like("accounts.%")
                                            ).order_by(LedgerEntry.seq)
    return [(row["kind"], row["subject"], json.loads(row["payload"])) for row in rows]


async def audits() -> list[tuple[int | None, str, str]]:
    rows = await StaffAudit.select().order_by(StaffAudit.id)
    return [(row["actor"], row["action"], row["subject"]) for row in rows]


async def mahallas() -> dict[str, int]:
    await import_mahallas(b"district_id,name_uz\n106,Bahor MFY\n106,Chinor MFY\n")
    return {row["name_uz"]: row["id"] for row in await Mahalla.select()}


async def secret_of(staff_id: int) -> str:
    return (await account(staff_id))["totp_secret"]


def code(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


async def enrolled(username: str = "a.karimov") -> tuple[int, str, list[str]]:
    """An account enrolled at T0, with its secret and recovery codes."""
    staff_id = await make(username)
    secret = await secret_of(staff_id)
    codes = await staff.confirm_enrolment(staff_id, code(secret, T0), now=T0)
    return staff_id, secret, codes


async def fail(username: str, at: datetime, password: str = "not the right password") -> None:
    with pytest.raises(StaffSignInError) as refused:
        await staff.check_password(username, password, now=at)
    assert refused.value.code == "wrong"


# Creating accounts


async def test_a_new_account_keeps_a_hash_and_an_unconfirmed_totp_secret(db: str) -> None:
    row, uri = await staff.create_staff("a.karimov", "  Aziz   Karimov ", PASSWORD)
    assert row["username"] == "a.karimov" and row["display_name"] == "Aziz Karimov"
    assert "password_hash" not in row and "totp_secret" not in row
    stored = await account(row["id"])
    assert stored["password_hash"] != PASSWORD and PASSWORD not in stored["password_hash"]
    assert stored["password_hash"].startswith("$argon2id$")
    assert await credentials.verify_password(stored["password_hash"], PASSWORD) == (True, None)
    assert stored["totp_secret"] and stored["totp_enrolled_at"] is None
    assert uri.startswith("otpauth://totp/Ovoz:a.karimov?")
    assert pyotp.parse_uri(uri).secret == stored["totp_secret"]
    assert stored["failed_attempts"] == 0 and stored["session_epoch"] == 0
    subject = f"staff:{row['id']}"
    assert await audits() == [(None, "staff.created", subject)]
    assert await entries() == [("accounts.staff_created", subject, {})]


@pytest.mark.parametrize(
    "username", ["ab", "A.Karimov", ".karimov", "-karimov", "a karimov", "aziz@mail.uz",
                 "a" * 65, "karimovа"],  # the last one ends with a Cyrillic а
)
async def test_usernames_are_lower_case_latin(db: str, username: str) -> None:
    with pytest.raises(StaffError) as refused:
        await staff.create_staff(username, "Aziz", PASSWORD)
    assert (refused.value.field, refused.value.code) == ("username", "invalid")
    assert await StaffAccount.count() == 0


@pytest.mark.parametrize(
    ("password", "codes", "reason"),
    [("short-one", ("too_short",), "shorter than 12 characters"),
     ("password2024!", ("common",), "one of the most common passwords"),
     ("a.karimov-tuman-yoli", ("contains_username",), "contains the username"),
     ("qwerty", ("too_short", "common"), "shorter than 12 characters; it is one of the most")],
)
async def test_passwords_follow_the_rules(db: str, password: str, codes: tuple[str, ...],
                                          reason: str) -> None:
    with pytest.raises(StaffError) as refused:
        await staff.create_staff("a.karimov", "Aziz", password)
    assert refused.value.field == "password"
    assert refused.value.codes == codes and refused.value.code == codes[0]
    assert str(refused.value).startswith("the password is not accepted: ")
    assert reason in str(refused.value)
    assert await StaffAccount.count() == 0


async def test_a_taken_username_is_refused(db: str) -> None:
    await make("a.karimov")
    with pytest.raises(StaffError) as refused:
        await staff.create_staff(" a.karimov ", "Another Aziz", PASSWORD + "-2")
    assert (refused.value.field, refused.value.code) == ("username", "taken")
    assert await StaffAccount.count() == 1


@pytest.mark.parametrize(("name", "code_"), [("   ", "required"), ("x" * 81, "too_long")])
async def test_display_names(db: str, name: str, code_: str) -> None:
    with pytest.raises(StaffError) as refused:
        await staff.create_staff("a.karimov", name, PASSWORD)
    assert (refused.value.field, refused.value.code) == ("display_name", code_)


async def test_an_account_and_its_roles_are_created_together_or_not_at_all(db: str) -> None:
    with pytest.raises(StaffError) as refused:
        await staff.create_staff("a.karimov", "Aziz", PASSWORD, grants=[Grant(Role.OFFICIAL)])
    assert (refused.value.field, refused.value.code) == ("role", "invalid")
    assert str(refused.value) == "an official needs a region or a district"
    assert await StaffAccount.count() == 0 and await entries() == []

    staff_id = await make("a.karimov", Grant(Role.OFFICIAL, district_id=CHORTOQ))
    [grant] = await staff.roles(staff_id)
    assert (grant["role"], grant["region"], grant["district"]) == ("official", NAMANGAN, CHORTOQ)
    assert [kind for kind, _, _ in await entries()] == [
        "accounts.staff_created", "accounts.role_granted"]


async def test_only_those_who_manage_roles_create_accounts(db: str) -> None:
    official = await make("o.rahimov", Grant(Role.OFFICIAL, district_id=BERUNIY))
    admin = await make("admin.one", Grant(Role.ADMINISTRATOR))
    with pytest.raises(PermissionDenied):
        await staff.create_staff("new.one", "New", PASSWORD, actor=await actor(official))
    row, _ = await staff.create_staff("new.one", "New", PASSWORD, actor=await actor(admin))
    assert (admin, "staff.created", f"staff:{row['id']}") in await audits()


# Roles


async def test_a_mahalla_grant_gets_its_district_and_region(db: str) -> None:
    places = await mahallas()
    staff_id = await make("m.tursunova")
    token = await sessions.start(sessions.STAFF, staff_id, 0)
    grant = await staff.grant_role(staff_id, Grant(Role.MAHALLA_STAFF,
                                                   mahalla_id=places["Bahor MFY"]))
    assert (grant["role"], grant["region"], grant["district"], grant["mahalla"]) == (
        "mahalla_staff", NAMANGAN, CHORTOQ, places["Bahor MFY"])
    assert grant["granted_by"] is None and grant["granted_at"] is not None
    assert await staff.roles(staff_id) == [grant]
    subject = f"staff:{staff_id}"
    assert (await entries())[-1] == ("accounts.role_granted", subject, {
        "grant_id": grant["id"], "role": "mahalla_staff", "region_id": NAMANGAN,
        "district_id": CHORTOQ, "mahalla_id": places["Bahor MFY"], "department_id": None})
    assert (await audits())[-1] == (None, "role.granted", subject)
    # The role change ends the person's sessions: the next sign-in starts a new one.
    assert (await account(staff_id))["session_epoch"] == 1
    assert (await sessions.identify(token)).staff is None


async def test_a_district_grant_gets_its_region(db: str) -> None:
    staff_id = await make()
    grant = await staff.grant_role(staff_id, Grant(Role.OFFICIAL, district_id=BERUNIY,
                                                   department_id=3))
    assert (grant["region"], grant["district"], grant["department_id"]) == (
        KARAKALPAKSTAN, BERUNIY, 3)


@pytest.mark.parametrize(
    ("grant", "field", "code_", "message"),
    [(Grant(Role.OFFICIAL), "role", "invalid", "an official needs a region or a district"),
     (Grant(Role.ADMINISTRATOR, region_id=1), "role", "invalid",
      "an administrator is national or of one district (no region alone, mahalla or "
      "department)"),
     (Grant(Role.MODERATOR, district_id=BERUNIY), "role", "invalid",
      "a moderator or NGO monitor is national or scoped to one region"),
     (Grant(Role.OFFICIAL, region_id=NAMANGAN, district_id=BERUNIY), "role", "invalid",
      "district 16 is in region 1, not in region 7"),
     (Grant(Role.OFFICIAL, district_id=99999), "district_id", "unknown",
      "district 99999 is not known"),
     (Grant(Role.MAHALLA_STAFF, mahalla_id=99999), "mahalla_id", "unknown",
      "mahalla 99999 is not known"),
     (Grant(Role.MODERATOR, region_id=99), "region_id", "unknown", "region 99 is not known"),
     (Grant("chief"), "role", "invalid", "unknown role: chief")],  # type: ignore[arg-type]
)
async def test_bad_grants_change_nothing(db: str, grant: Grant, field: str, code_: str,
                                         message: str) -> None:
    staff_id = await make()
    before = await entries()
    with pytest.raises(StaffError) as refused:
        await staff.grant_role(staff_id, grant)
    assert (refused.value.field, refused.value.code, str(refused.value)) == (
        field, code_, message)
    assert await RoleGrant.count() == 0 and await entries() == before
    assert (await account(staff_id))["session_epoch"] == 0


async def test_a_mahalla_of_another_district_is_refused(db: str) -> None:
    places = await mahallas()
    staff_id = await make()
    with pytest.raises(StaffError, match="is in district 106, not in district 16"):
        await staff.grant_role(staff_id, Grant(Role.MAHALLA_STAFF, district_id=BERUNIY,
                                               mahalla_id=places["Bahor MFY"]))


async def test_the_same_role_twice_or_for_nobody_is_refused(db: str) -> None:
    staff_id = await make("o.rahimov", Grant(Role.OFFICIAL, district_id=BERUNIY))
    with pytest.raises(StaffError) as refused:
        await staff.grant_role(staff_id, Grant(Role.OFFICIAL, district_id=BERUNIY))
    assert refused.value.code == "held"
    with pytest.raises(StaffError) as refused:
        await staff.grant_role(staff_id + 100, Grant(Role.MODERATOR))
    assert (refused.value.field, refused.value.code) == ("staff", "unknown")


async def test_an_official_cannot_grant_and_an_administrator_can(db: str) -> None:
    official = await make("o.rahimov", Grant(Role.OFFICIAL, district_id=BERUNIY))
    admin = await make("admin.one", Grant(Role.ADMINISTRATOR))
    with pytest.raises(PermissionDenied):
        await staff.grant_role(official, Grant(Role.ADMINISTRATOR), actor=await actor(official))
    assert len(await staff.roles(official)) == 1
    grant = await staff.grant_role(official, Grant(Role.OFFICIAL, district_id=CHORTOQ),
                                   actor=await actor(admin))
    assert grant["granted_by"] == admin
    assert (await audits())[-1] == (admin, "role.granted", f"staff:{official}")
    assert {(r["role"], r["district"]) for r in await staff.roles(official)} == {
        ("official", BERUNIY), ("official", CHORTOQ)}


async def test_revoking_a_role(db: str) -> None:
    admin = await make("admin.one", Grant(Role.ADMINISTRATOR))
    official = await make("o.rahimov", Grant(Role.OFFICIAL, district_id=BERUNIY))
    [grant] = await staff.roles(official)
    epoch = (await account(official))["session_epoch"]
    with pytest.raises(PermissionDenied):
        await staff.revoke_role(grant["id"], actor=await actor(official))

    await staff.revoke_role(grant["id"], actor=await actor(admin))
    assert await staff.roles(official) == []
    stored = await RoleGrant.select().where(RoleGrant.id == grant["id"]).first()
    assert stored is not None
    assert stored["revoked_at"] is not None and stored["revoked_by"] == admin
    assert (await account(official))["session_epoch"] == epoch + 1
    assert (await audits())[-1] == (admin, "role.revoked", f"staff:{official}")
    assert (await entries())[-1] == ("accounts.role_revoked", f"staff:{official}", {
        "grant_id": grant["id"], "role": "official", "region_id": KARAKALPAKSTAN,
        "district_id": BERUNIY, "mahalla_id": None, "department_id": None})

    with pytest.raises(StaffError) as again:
        await staff.revoke_role(grant["id"], actor=None)
    assert again.value.code == "revoked"
    with pytest.raises(StaffError) as unknown:
        await staff.revoke_role(grant["id"] + 100, actor=None)
    assert unknown.value.code == "unknown"


async def test_the_staff_list(db: str) -> None:
    admin = await make("admin.one", Grant(Role.ADMINISTRATOR))
    official = await make("o.rahimov", Grant(Role.OFFICIAL, district_id=BERUNIY))
    await StaffAccount.update({StaffAccount.totp_enrolled_at: T0}).where(
        StaffAccount.id == admin)
    people = await staff.staff_list(StaffMember(admin, (Grant(Role.ADMINISTRATOR),)))
    assert [(p["id"], p["username"], p["display_name"], p["enrolled"]) for p in people] == [
        (admin, "admin.one", "Admin.One", True), (official, "o.rahimov", "O.Rahimov", False)]
    assert [g["role"] for g in people[0]["grants"]] == ["administrator"]
    assert [(g["role"], g["district"]) for g in people[1]["grants"]] == [("official", BERUNIY)]


async def test_signing_out_everywhere(db: str) -> None:
    staff_id = await make()
    token = await sessions.start(sessions.STAFF, staff_id, 0)
    assert (await sessions.identify(token)).staff is not None
    await staff.sign_out_everywhere(staff_id)
    assert (await sessions.identify(token)).staff is None


# Sign-in, step 1: the password


async def test_a_right_password_gives_the_account(db: str) -> None:
    staff_id = await make()
    row = await staff.check_password(" A.Karimov ", PASSWORD, now=T0)
    assert row["id"] == staff_id and row["totp_enrolled_at"] is None
    assert row["session_epoch"] == 0 and "password_hash" not in row


async def test_unknown_names_and_wrong_passwords_get_the_same_answer(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    staff_id = await make()
    spent: list[str] = []
    spend = credentials.spend_verification_time

    async def counting(password: str) -> None:
        spent.append(password)
        await spend(password)

    monkeypatch.setattr(credentials, "spend_verification_time", counting)
    answers = []
    for username in ("a.karimov", "nobody.here", "Not a name!"):
        with pytest.raises(StaffSignInError) as refused:
            await staff.check_password(username, "not the right password", now=T0)
        answers.append((refused.value.code, refused.value.until, refused.value.retry_after))
    assert answers == [("wrong", None, 0)] * 3
    # Unknown names still cost a password check.
    assert spent == ["not the right password"] * 2
    stored = await account(staff_id)
    assert stored["failed_attempts"] == 1 and stored["last_failure_at"] == T0


async def test_failures_are_counted_and_a_success_resets_them(db: str) -> None:
    staff_id = await make()
    for _ in range(3):
        await fail("a.karimov", T0)
    assert (await account(staff_id))["failed_attempts"] == 3
    await staff.check_password("a.karimov", PASSWORD, now=T0)
    stored = await account(staff_id)
    assert stored["failed_attempts"] == 0 and stored["last_failure_at"] is None


async def test_after_three_failures_each_try_waits_longer(db: str) -> None:
    staff_id = await make()
    for _ in range(4):
        await fail("a.karimov", T0)
    # 4 failures: 1 second; not even the right password is checked sooner.
    with pytest.raises(StaffSignInError) as early:
        await staff.check_password("a.karimov", PASSWORD, now=T0 + timedelta(seconds=0.5))
    assert (early.value.code, early.value.retry_after) == ("wait", 1)
    assert early.value.until == T0 + timedelta(seconds=1)
    assert (await account(staff_id))["failed_attempts"] == 4
    t = T0 + timedelta(seconds=1)
    await fail("a.karimov", t)
    # 5 failures: 2 seconds, then 4, 8...
    with pytest.raises(StaffSignInError) as early:
        await staff.check_password("a.karimov", "whatever", now=t + timedelta(seconds=1))
    assert (early.value.code, early.value.retry_after) == ("wait", 1)
    await fail("a.karimov", t + timedelta(seconds=2))
    with pytest.raises(StaffSignInError) as early:
        await staff.check_password("a.karimov", "whatever", now=t + timedelta(seconds=2))
    assert (early.value.code, early.value.retry_after) == ("wait", 4)
    await staff.check_password("a.karimov", PASSWORD, now=t + timedelta(seconds=6))
    assert (await account(staff_id))["failed_attempts"] == 0


async def test_ten_failures_lock_the_account_for_fifteen_minutes(db: str) -> None:
    staff_id = await make()
    at = T0
    for _ in range(10):
        at += timedelta(minutes=1)
        await fail("a.karimov", at)
    with pytest.raises(StaffSignInError) as locked:
        await staff.check_password("a.karimov", PASSWORD, now=at + timedelta(minutes=1))
    assert locked.value.code == "locked"
    assert locked.value.until == at + timedelta(minutes=15)
    assert locked.value.retry_after == 14 * 60
    assert (await account(staff_id))["failed_attempts"] == 10
    # After that time one more failure locks it again; a success unlocks it.
    later = at + timedelta(minutes=15)
    await fail("a.karimov", later)
    with pytest.raises(StaffSignInError) as again:
        await staff.check_password("a.karimov", PASSWORD, now=later + timedelta(minutes=14))
    assert again.value.until == later + timedelta(minutes=15)
    await staff.check_password("a.karimov", PASSWORD, now=later + timedelta(minutes=15))
    assert (await account(staff_id))["failed_attempts"] == 0


async def test_an_outdated_hash_is_replaced_on_sign_in(db: str) -> None:
    staff_id = await make()
    old = PasswordHasher(time_cost=1).hash(PASSWORD)
    await StaffAccount.update({StaffAccount.password_hash: old}).where(
        StaffAccount.id == staff_id)
    await staff.check_password("a.karimov", PASSWORD, now=T0)
    new = (await account(staff_id))["password_hash"]
    assert new != old and not PasswordHasher().check_needs_rehash(new)
    assert PasswordHasher().verify(new, PASSWORD)


async def test_a_disabled_account_says_so_only_to_the_right_password(db: str) -> None:
    staff_id = await make()
    await StaffAccount.update({StaffAccount.disabled_at: T0}).where(StaffAccount.id == staff_id)
    await fail("a.karimov", T0)
    with pytest.raises(StaffSignInError) as disabled:
        await staff.check_password("a.karimov", PASSWORD, now=T0)
    assert disabled.value.code == "disabled"


# Sign-in, step 2: the second factor


async def test_a_totp_code_passes_once(db: str) -> None:
    staff_id, secret, _ = await enrolled()
    # The code used for enrolment is spent already.
    assert not await staff.check_second_factor(staff_id, code(secret, T0), now=T0)
    at = T0 + timedelta(minutes=1)
    assert await staff.check_second_factor(staff_id, code(secret, at), now=at)
    assert (await account(staff_id))["totp_last_step"] == int(at.timestamp()) // 30
    assert (await account(staff_id))["failed_attempts"] == 0
    assert not await staff.check_second_factor(staff_id, code(secret, at), now=at)
    assert (await account(staff_id))["failed_attempts"] == 1


async def test_the_same_code_twice_at_once_passes_once(db: str) -> None:
    staff_id, secret, _ = await enrolled()
    at = T0 + timedelta(minutes=1)
    same = code(secret, at)
    results = await asyncio.gather(staff.check_second_factor(staff_id, same, now=at),
                                   staff.check_second_factor(staff_id, same, now=at))
    assert sorted(results) == [False, True]


async def test_a_recovery_code_works_once(db: str) -> None:
    staff_id, _, codes = await enrolled()
    assert await staff.check_second_factor(staff_id, codes[0], now=T0)
    assert not await staff.check_second_factor(staff_id, codes[0], now=T0)
    # Case, spaces and dashes do not matter.
    typed = codes[1].replace("-", " ").upper()
    assert await staff.check_second_factor(staff_id, typed, now=T0)
    used = await RecoveryCode.select(RecoveryCode.digest).where(
        RecoveryCode.used_at.is_not_null())
    assert {row["digest"] for row in used} == {
        credentials.recovery_code_digest(c) for c in codes[:2]}
    # Another account's code is no use here.
    other_id, _, other_codes = await enrolled("b.nazarova")
    assert not await staff.check_second_factor(staff_id, other_codes[0], now=T0)
    assert other_id != staff_id


async def test_wrong_codes_count_towards_the_lockout(db: str) -> None:
    staff_id, secret, _ = await enrolled()
    at = T0
    for wrong in ["000000", "12345", "abcd-efgh-jkmn", "not a code at all"] * 2 + ["1", "2"]:
        at += timedelta(minutes=1)
        assert not await staff.check_second_factor(staff_id, wrong, now=at)
    assert (await account(staff_id))["failed_attempts"] == 10
    later = at + timedelta(minutes=1)
    with pytest.raises(StaffSignInError) as locked:
        await staff.check_second_factor(staff_id, code(secret, later), now=later)
    assert (locked.value.code, locked.value.until) == ("locked", at + timedelta(minutes=15))
    # The lock holds for the password too.
    with pytest.raises(StaffSignInError) as also:
        await staff.check_password("a.karimov", PASSWORD, now=later)
    assert also.value.code == "locked"


async def test_no_second_factor_before_enrolment(db: str) -> None:
    staff_id = await make()
    secret = await secret_of(staff_id)
    assert not await staff.check_second_factor(staff_id, code(secret, T0), now=T0)
    assert not await staff.check_second_factor(staff_id + 100, "123456", now=T0)


# Enrolment


async def test_enrolment_shows_a_qr_code_and_gives_recovery_codes(db: str) -> None:
    staff_id = await make()
    uri, svg = await staff.enrolment(staff_id)
    secret = await secret_of(staff_id)
    assert pyotp.parse_uri(uri).secret == secret
    assert svg.startswith("<svg") and "QR code for your authenticator app" in svg
    codes = await staff.confirm_enrolment(staff_id, code(secret, T0), now=T0)
    assert len(codes) == len(set(codes)) == 10
    assert all(len(c) == 14 and c.count("-") == 2 for c in codes)
    stored = await RecoveryCode.select(RecoveryCode.digest).where(
        RecoveryCode.staff == staff_id)
    assert {row["digest"] for row in stored} == {credentials.recovery_code_digest(c)
                                                 for c in codes}
    assert not any(c in row["digest"] for row in stored for c in codes)
    row = await account(staff_id)
    assert row["totp_enrolled_at"] == T0 and row["totp_last_step"] == int(T0.timestamp()) // 30
    assert (staff_id, "totp.enrolled", f"staff:{staff_id}") in await audits()
    # The secret is not shown again, and enrolment is not repeated.
    with pytest.raises(StaffError) as shown:
        await staff.enrolment(staff_id)
    assert shown.value.code == "enrolled"
    later = T0 + timedelta(minutes=1)
    with pytest.raises(StaffError):
        await staff.confirm_enrolment(staff_id, code(secret, later), now=later)


async def test_a_wrong_enrolment_code_is_refused(db: str) -> None:
    staff_id = await make()
    secret = await secret_of(staff_id)
    right = code(secret, T0)
    with pytest.raises(StaffError) as refused:
        await staff.confirm_enrolment(staff_id, "000000" if right != "000000" else "111111",
                                      now=T0)
    assert (refused.value.field, refused.value.code) == ("code", "wrong")
    # A code from ten minutes ago is outside the window.
    with pytest.raises(StaffError):
        await staff.confirm_enrolment(staff_id, code(secret, T0 - timedelta(minutes=10)),
                                      now=T0)
    row = await account(staff_id)
    assert row["totp_enrolled_at"] is None
    assert await RecoveryCode.count() == 0


# Confirming residence


async def resident(mahalla_id: int | None) -> int:
    inserted = await Resident.insert(Resident(phone="+998901234567", display_name="Aziz K",
                                              mahalla=mahalla_id, created_at=T0))
    return inserted[0]["id"]


async def test_mahalla_staff_confirm_residents_of_their_mahalla(db: str) -> None:
    places = await mahallas()
    clerk = await make("m.tursunova", Grant(Role.MAHALLA_STAFF, mahalla_id=places["Bahor MFY"]))
    resident_id = await resident(places["Bahor MFY"])
    await staff.confirm_residence(await actor(clerk), resident_id, now=T0)
    row = await Resident.select().where(Resident.id == resident_id).first()
    assert row is not None
    assert row["residence_confirmed_at"] == T0 and row["residence_confirmed_by"] == clerk
    assert (await audits())[-1] == (clerk, "residence.confirmed", f"resident:{resident_id}")
    assert (await entries())[-1] == (
        "accounts.residence_confirmed", f"mahalla:{places['Bahor MFY']}", {})
    # Confirming again changes nothing.
    await staff.confirm_residence(await actor(clerk), resident_id)
    assert [k for k, _, _ in await entries()].count("accounts.residence_confirmed") == 1


async def test_staff_of_another_mahalla_or_an_official_cannot_confirm(db: str) -> None:
    places = await mahallas()
    clerk = await make("m.tursunova", Grant(Role.MAHALLA_STAFF, mahalla_id=places["Bahor MFY"]))
    official = await make("o.rahimov", Grant(Role.OFFICIAL, district_id=CHORTOQ))
    resident_id = await resident(places["Chinor MFY"])
    for someone in (clerk, official):
        with pytest.raises(PermissionDenied):
            await staff.confirm_residence(await actor(someone), resident_id)
    row = await Resident.select().where(Resident.id == resident_id).first()
    assert row is not None and row["residence_confirmed_at"] is None


async def test_a_resident_without_a_mahalla_cannot_be_confirmed(db: str) -> None:
    places = await mahallas()
    clerk = await make("m.tursunova", Grant(Role.MAHALLA_STAFF, mahalla_id=places["Bahor MFY"]))
    with pytest.raises(StaffError) as refused:
        await staff.confirm_residence(await actor(clerk), await resident(None))
    assert (refused.value.field, refused.value.code) == ("resident", "no_mahalla")
    with pytest.raises(StaffError) as unknown:
        await staff.confirm_residence(await actor(clerk), 999_999)
    assert unknown.value.code == "unknown"
