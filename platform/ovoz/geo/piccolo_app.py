from piccolo.conf.apps import AppConfig

from ovoz.geo.tables import District, Mahalla, Region
from ovoz.settings import ROOT

APP_CONFIG = AppConfig(
    app_name="geo",
    migrations_folder_path=str(ROOT / "migrations" / "geo"),
    table_classes=[Region, District, Mahalla],
)
