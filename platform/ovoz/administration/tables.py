from piccolo.columns import ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from ovoz.accounts.tables import StaffAccount


class Setting(Table, tablename="administration_setting"):
    """A value an administrator set in the browser. It overrides the configuration value of the
    same key (places.pilot_districts, petitions.levels.<level>), which applies while there is
    no row."""

    key = Varchar(length=64, unique=True)
    # JSON: a list of district ids, or a level's rules.
    value = Text()
    updated_by = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    updated_at = Timestamptz()
