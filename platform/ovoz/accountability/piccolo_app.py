from piccolo.conf.apps import AppConfig

from ovoz.accountability.tables import AccountabilityReport, Assessment, Obligation, Watch
from ovoz.settings import ROOT

APP_CONFIG = AppConfig(
    app_name="accountability",
    migrations_folder_path=str(ROOT / "migrations" / "accountability"),
    table_classes=[Obligation, AccountabilityReport, Assessment, Watch],
)
