from piccolo.conf.apps import AppConfig

from ovoz.reports.tables import (
    Category,
    Department,
    FixFeedback,
    Open311Client,
    Photo,
    Report,
    ReportUpdate,
    Routing,
    Support,
)
from ovoz.settings import ROOT

APP_CONFIG = AppConfig(
    app_name="reports",
    migrations_folder_path=str(ROOT / "migrations" / "reports"),
    table_classes=[Category, Department, Routing, Report, ReportUpdate, Photo, Support,
                   FixFeedback, Open311Client],
)
