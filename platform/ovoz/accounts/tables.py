from piccolo.columns import (
    BigInt,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from ovoz.geo.tables import District, Mahalla, Region


class StaffAccount(Table, tablename="accounts_staff"):
    """An official, mahalla staff member, moderator, NGO monitor or administrator."""

    username = Varchar(length=64, unique=True)
    display_name = Varchar(length=80)
    # For notifications by e-mail (deadline reminders); optional.
    email = Varchar(length=200, default="")
    password_hash = Text()
    totp_secret = Varchar(length=64, null=True, default=None)
    totp_enrolled_at = Timestamptz(null=True, default=None)
    totp_last_step = BigInt(null=True, default=None)
    failed_attempts = Integer(default=0)
    last_failure_at = Timestamptz(null=True, default=None)
    # Raised to sign the person out everywhere: sessions carry the epoch they began in.
    session_epoch = Integer(default=0)
    created_at = Timestamptz()
    disabled_at = Timestamptz(null=True, default=None)


class RecoveryCode(Table, tablename="accounts_recovery_code"):
    staff = ForeignKey(references=StaffAccount, on_delete=OnDelete.cascade, null=False,
                       index=True)
    digest = Varchar(length=64, unique=True)
    used_at = Timestamptz(null=True, default=None)


class RoleGrant(Table, tablename="accounts_role_grant"):
    staff = ForeignKey(references=StaffAccount, on_delete=OnDelete.cascade, null=False,
                       index=True)
    role = Varchar(length=32)
    region = ForeignKey(references=Region, on_delete=OnDelete.restrict, null=True)
    district = ForeignKey(references=District, on_delete=OnDelete.restrict, null=True)
    mahalla = ForeignKey(references=Mahalla, on_delete=OnDelete.restrict, null=True)
    department_id = Integer(null=True, default=None)
    granted_by = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    granted_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    revoked_by = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)


class Resident(Table, tablename="accounts_resident"):
    """A resident. The phone number is private: pages show only the display name."""

    phone = Varchar(length=16, unique=True, null=True, default=None)
    display_name = Varchar(length=60, default="")
    language = Varchar(length=8, default="uz")
    mahalla = ForeignKey(references=Mahalla, on_delete=OnDelete.restrict, null=True,
                         index=True)
    phone_verified_at = Timestamptz(null=True, default=None)
    residence_confirmed_at = Timestamptz(null=True, default=None)
    residence_confirmed_by = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null,
                                        null=True)
    # HMAC of the PINFL from OneID: one person, one account, without keeping the PINFL.
    oneid_fingerprint = Varchar(length=64, unique=True, null=True, default=None)
    oneid_verified_at = Timestamptz(null=True, default=None)
    # A resident registered at the mahalla desk, perhaps without a phone: a family member's
    # number to reach them (never to sign in, so not unique), and the staff member who did it.
    household_contact = Varchar(length=16, null=True, default=None)
    registered_by = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    # Set by a moderator for abuse: the resident can no longer sign in (moderation.block).
    blocked_at = Timestamptz(null=True, default=None)
    session_epoch = Integer(default=0)
    created_at = Timestamptz()
    deleted_at = Timestamptz(null=True, default=None)


class SignInCode(Table, tablename="accounts_sign_in_code"):
    """A 6-digit code sent by SMS, kept only as a keyed digest."""

    phone = Varchar(length=16, index=True)
    digest = Varchar(length=64)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    attempts = Integer(default=0)
    used_at = Timestamptz(null=True, default=None)


class ApiToken(Table, tablename="accounts_api_token"):
    resident = ForeignKey(references=Resident, on_delete=OnDelete.cascade, null=False,
                          index=True)
    digest = Varchar(length=64, unique=True)
    label = Varchar(length=80, default="")
    created_at = Timestamptz()
    expires_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class StaffAudit(Table, tablename="accounts_staff_audit"):
    """Who did what among staff (role grants, confirmations). Staff-only, unlike the ledger."""

    actor = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True,
                       index=True)
    action = Varchar(length=64)
    subject = Varchar(length=128)
    detail = Text(default="{}")
    at = Timestamptz()
