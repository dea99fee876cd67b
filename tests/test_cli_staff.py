"""`ovoz staff create`: an account and its role in one go, the password on standard input."""

from __future__ import annotations

import os
import subprocess
import sys

import pyotp
import pytest

from ovoz.accounts import staff
from ovoz.accounts.permissions import Role
from ovoz.accounts.tables import RoleGrant, StaffAccount
from ovoz.ledger.tables import LedgerEntry

PASSWORD = "tuman-yoli-2026-kuz"


def create(*args: str, database_url: str, password: str = PASSWORD
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ovoz", "staff", "create", *args], input=f"{password}\n",
        capture_output=True, text=True, env={**os.environ, "OVOZ_DATABASE_URL": database_url},
        timeout=120, check=False,
    )


def test_the_help_names_every_role() -> None:
    result = subprocess.run([sys.executable, "-m", "ovoz", "staff", "create", "--help"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0
    assert all(role.value in result.stdout for role in Role)


async def test_create_an_official(db: str) -> None:
    result = create("--username", "a.karimov", "--role", "official", "--district", "106",
                    "--display-name", "Aziz Karimov", database_url=db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("otpauth://") == 1
    assert "shown only once" in result.stdout and "QR code" in result.stdout
    [uri] = [line for line in result.stdout.splitlines() if line.startswith("otpauth://")]
    account = await StaffAccount.select().where(StaffAccount.username == "a.karimov").first()
    assert account is not None
    assert account["display_name"] == "Aziz Karimov"
    assert account["totp_secret"] == pyotp.parse_uri(uri).secret
    assert account["totp_enrolled_at"] is None
    grants = await RoleGrant.select().where(RoleGrant.staff == account["id"])
    assert [(g["role"], g["region"], g["district"]) for g in grants] == [("official", 7, 106)]
    kinds = [row["kind"] for row in await LedgerEntry.select(LedgerEntry.kind)
             .order_by(LedgerEntry.seq)]
    assert kinds == ["accounts.staff_created", "accounts.role_granted"]
    signed_in = await staff.check_password("a.karimov", PASSWORD)
    assert signed_in["id"] == account["id"]


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [(["--username", "b.nazarova", "--role", "official", "--district", "106"], "password2024!",
      "Error: the password is not accepted: it is one of the most common passwords"),
     (["--username", "taken.name", "--role", "moderator"], PASSWORD,
      "Error: the username 'taken.name' is taken"),
     (["--username", "b.nazarova", "--role", "official"], PASSWORD,
      "Error: an official needs a region or a district"),
     (["--username", "b.nazarova", "--role", "official", "--district", "99999"], PASSWORD,
      "Error: district 99999 is not known"),
     (["--username", "b.nazarova", "--role", "chief"], PASSWORD,
      "Error: unknown role 'chief'")],
    ids=["common password", "taken username", "official without district", "unknown district",
         "unknown role"],
)
async def test_refusals_are_one_line_and_create_nothing(db: str, args: list[str], password: str,
                                                        message: str) -> None:
    await staff.create_staff("taken.name", "Taken", PASSWORD)
    result = create(*args, database_url=db, password=password)
    assert result.returncode == 1
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert "otpauth://" not in result.stdout
    assert await StaffAccount.count() == 1 and await RoleGrant.count() == 0
