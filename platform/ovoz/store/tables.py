from piccolo.columns import BigInt, Bytea, Integer, Varchar
from piccolo.table import Table


class StoreEntry(Table, tablename="store_entry"):
    """One value of the Litestar store; `expires_at` is in Unix seconds (null: never)."""

    key = Varchar(length=255, unique=True)
    value = Bytea()
    expires_at = BigInt(null=True, default=None, index=True)


class RateCounter(Table, tablename="store_rate_counter"):
    """Hits of one key in one fixed window; (key, window_start) is unique."""

    key = Varchar(length=255)
    window_start = BigInt()
    hits = Integer(default=0)
