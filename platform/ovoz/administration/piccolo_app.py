from piccolo.conf.apps import AppConfig

from ovoz.administration.tables import Setting
from ovoz.settings import ROOT

APP_CONFIG = AppConfig(
    app_name="administration",
    migrations_folder_path=str(ROOT / "migrations" / "administration"),
    table_classes=[Setting],
)
