from piccolo.conf.apps import AppConfig

from ovoz.petitions.tables import (
    Attachment,
    Invalidation,
    Petition,
    PetitionCount,
    Response,
    Signature,
    Sponsor,
)
from ovoz.settings import ROOT

APP_CONFIG = AppConfig(
    app_name="petitions",
    migrations_folder_path=str(ROOT / "migrations" / "petitions"),
    table_classes=[Petition, Sponsor, Invalidation, Signature, PetitionCount, Response,
                   Attachment],
)
