from piccolo.columns import BigInt, Text, Timestamptz, Varchar
from piccolo.table import Table


class LedgerEntry(Table, tablename="ledger_entry"):
    """One link of the chain. `seq` is unique, so two writers can never both append entry N."""

    seq = BigInt(unique=True, index=True)
    at = Timestamptz()
    kind = Varchar(length=64)
    subject = Varchar(length=128)
    payload = Text()  # canonical JSON, exactly as hashed
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64, unique=True)
