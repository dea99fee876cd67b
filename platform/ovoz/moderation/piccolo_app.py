from piccolo.conf.apps import AppConfig

from ovoz.moderation.tables import Block, Decision, Flag
from ovoz.settings import ROOT

APP_CONFIG = AppConfig(
    app_name="moderation",
    migrations_folder_path=str(ROOT / "migrations" / "moderation"),
    table_classes=[Flag, Decision, Block],
)
