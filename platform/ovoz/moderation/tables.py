from piccolo.columns import ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from ovoz.accounts.tables import Resident, StaffAccount


class Decision(Table, tablename="moderation_decision"):
    """What a moderator did to an item: hid it or redacted one of its texts, with a public
    reason; the original text is kept here for staff only. The author may appeal once."""

    kind = Varchar(length=20)
    ref = Integer()
    # hide | redact | dismiss
    action = Varchar(length=20)
    # The text changed (a report's description, a petition's title...); "" for dismiss.
    field = Varchar(length=40, default="")
    original = Text(default="")
    public_reason = Text(default="")
    staff = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    at = Timestamptz(index=True)
    # Set when a later decision (a restore, an appeal upheld) undid this one.
    undone_at = Timestamptz(null=True, default=None)
    appeal_text = Text(default="")
    appealed_at = Timestamptz(null=True, default=None)
    # upheld | reversed
    appeal_outcome = Varchar(length=20, default="")
    appeal_decided_by = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null,
                                   null=True)
    appeal_decided_at = Timestamptz(null=True, default=None)


class Flag(Table, tablename="moderation_flag"):
    """A signed-in resident's report that an item breaks the rules; (kind, ref, resident) is
    unique, so a resident flags an item once. Cleared flags stay, with the decision that
    settled them."""

    # report | petition | proposal | comment
    kind = Varchar(length=20)
    ref = Integer()
    resident = ForeignKey(references=Resident, on_delete=OnDelete.cascade, null=False)
    reason = Varchar(length=20)
    note = Text(default="")
    at = Timestamptz(index=True)
    # The decision that settled it (hid, redacted or dismissed), None while it waits.
    settled_by = ForeignKey(references=Decision, on_delete=OnDelete.set_null, null=True)


class Block(Table, tablename="moderation_block"):
    """A moderator blocked a resident for abuse, with a public reason; the hide decisions it
    made are listed so lifting the block puts those items back."""

    resident = ForeignKey(references=Resident, on_delete=OnDelete.cascade, null=False,
                          index=True)
    public_reason = Text()
    staff = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    at = Timestamptz()
    # JSON list of moderation_decision ids.
    decisions = Text(default="[]")
    lifted_at = Timestamptz(null=True, default=None)
    lifted_by = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
