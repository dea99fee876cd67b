from piccolo.conf.apps import AppConfig

from ovoz.planning.tables import (
    Ballot,
    BallotChoice,
    Cycle,
    DeliveryComment,
    DeliveryUpdate,
    MahallaBudget,
    Photo,
    Proposal,
    Result,
)
from ovoz.settings import ROOT

APP_CONFIG = AppConfig(
    app_name="planning",
    migrations_folder_path=str(ROOT / "migrations" / "planning"),
    table_classes=[Cycle, MahallaBudget, Proposal, Ballot, BallotChoice, Result, DeliveryUpdate,
                   Photo, DeliveryComment],
)
