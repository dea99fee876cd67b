from piccolo.conf.apps import AppConfig

from ovoz.ledger.tables import LedgerEntry
from ovoz.settings import ROOT

APP_CONFIG = AppConfig(
    app_name="ledger",
    migrations_folder_path=str(ROOT / "migrations" / "ledger"),
    table_classes=[LedgerEntry],
)
