from piccolo.conf.apps import AppConfig

from ovoz.notify.tables import (
    ChannelChoice,
    Follow,
    InAppMessage,
    OutboxMessage,
    ScheduledRun,
    TelegramLink,
    TelegramLinkCode,
)
from ovoz.settings import ROOT

APP_CONFIG = AppConfig(
    app_name="notify",
    migrations_folder_path=str(ROOT / "migrations" / "notify"),
    table_classes=[OutboxMessage, InAppMessage, ChannelChoice, Follow, TelegramLink,
                   TelegramLinkCode, ScheduledRun],
)
