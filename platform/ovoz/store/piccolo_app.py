from piccolo.conf.apps import AppConfig

from ovoz.settings import ROOT
from ovoz.store.tables import RateCounter, StoreEntry

APP_CONFIG = AppConfig(
    app_name="store",
    migrations_folder_path=str(ROOT / "migrations" / "store"),
    table_classes=[StoreEntry, RateCounter],
)
