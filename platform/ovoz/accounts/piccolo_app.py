from piccolo.conf.apps import AppConfig

from ovoz.accounts.tables import (
    ApiToken,
    RecoveryCode,
    Resident,
    RoleGrant,
    SignInCode,
    StaffAccount,
    StaffAudit,
)
from ovoz.settings import ROOT

APP_CONFIG = AppConfig(
    app_name="accounts",
    migrations_folder_path=str(ROOT / "migrations" / "accounts"),
    table_classes=[StaffAccount, RecoveryCode, RoleGrant, Resident, SignInCode, ApiToken,
                   StaffAudit],
)
