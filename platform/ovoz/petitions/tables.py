from piccolo.columns import (
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from ovoz.accounts.tables import Resident, StaffAccount
from ovoz.geo.tables import District, Mahalla, Region


class Petition(Table, tablename="petitions_petition"):
    """A collective appeal to a mahalla assembly, a district hokimiyat or Kengash, or a regional
    hokimiyat. The addressee's area is the most specific of region, district and mahalla."""

    title = Varchar(length=150)
    text = Text()
    topic = Varchar(length=20, default="other", index=True)
    level = Varchar(length=24, index=True)
    region = ForeignKey(references=Region, on_delete=OnDelete.restrict, null=False, index=True)
    district = ForeignKey(references=District, on_delete=OnDelete.restrict, null=True,
                          index=True)
    mahalla = ForeignKey(references=Mahalla, on_delete=OnDelete.restrict, null=True, index=True)
    author = ForeignKey(references=Resident, on_delete=OnDelete.restrict, null=False,
                        index=True)
    status = Varchar(length=20, default="draft", index=True)
    # Both scripts and the apostrophes people type, folded, so search finds either.
    search_text = Text(default="")
    # The secret part of the link the author shares with would-be sponsors.
    sponsor_code = Varchar(length=32, unique=True)
    threshold = Integer(default=0)
    moderation_rounds = Integer(default=0)
    rejection_reason = Varchar(length=32, default="")
    rejection_note = Text(default="")
    duplicate_of = ForeignKey(references="self", on_delete=OnDelete.set_null, null=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    sponsors_until = Timestamptz(null=True, default=None)
    moderation_requested_at = Timestamptz(null=True, default=None)
    moderated_at = Timestamptz(null=True, default=None)
    opened_at = Timestamptz(null=True, default=None)
    closes_at = Timestamptz(null=True, default=None, index=True)
    threshold_reached_at = Timestamptz(null=True, default=None)
    response_due_at = Timestamptz(null=True, default=None)
    responded_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    anonymised_at = Timestamptz(null=True, default=None)


class Sponsor(Table, tablename="petitions_sponsor"):
    """A verified resident of the area vouching for a petition before moderation;
    (petition, resident) is unique."""

    petition = ForeignKey(references=Petition, on_delete=OnDelete.cascade, null=False)
    resident = ForeignKey(references=Resident, on_delete=OnDelete.cascade, null=False,
                          index=True)
    at = Timestamptz()


class Invalidation(Table, tablename="petitions_invalidation"):
    """Moderators' bulk invalidation of signatures, with the reason on record."""

    petition = ForeignKey(references=Petition, on_delete=OnDelete.cascade, null=False,
                          index=True)
    staff = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    reason = Text()
    count = Integer(default=0)
    at = Timestamptz()


class Signature(Table, tablename="petitions_signature"):
    """One person's signature; (petition, resident) is unique. After the retention period the
    resident is removed and only the mahalla and the channel remain."""

    petition = ForeignKey(references=Petition, on_delete=OnDelete.cascade, null=False,
                          index=True)
    resident = ForeignKey(references=Resident, on_delete=OnDelete.set_null, null=True,
                          index=True)
    mahalla = ForeignKey(references=Mahalla, on_delete=OnDelete.restrict, null=True, index=True)
    # web, api or assisted
    channel = Varchar(length=12, default="web")
    assisted_by = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    paper_form = Varchar(length=40, default="")
    # Keyed digests, for spotting one address or device signing far above its share.
    address_digest = Varchar(length=16, default="", index=True)
    device_digest = Varchar(length=16, default="")
    valid = Boolean(default=True)
    invalidation = ForeignKey(references=Invalidation, on_delete=OnDelete.set_null,
                              null=True)
    at = Timestamptz(index=True)


class PetitionCount(Table, tablename="petitions_count"):
    """The signature count in shards: each signature adds one to a random shard, so a storm
    of signers never queues on one row; the count is the sum. (petition, shard) is unique."""

    petition = ForeignKey(references=Petition, on_delete=OnDelete.cascade, null=False)
    shard = Integer()
    signatures = Integer(default=0)


class Response(Table, tablename="petitions_response"):
    """The addressee's published answer; one per petition."""

    petition = ForeignKey(references=Petition, on_delete=OnDelete.cascade, null=False,
                          unique=True)
    decision = Varchar(length=20)
    text = Text()
    staff = ForeignKey(references=StaffAccount, on_delete=OnDelete.set_null, null=True)
    official_name = Varchar(length=120)
    official_post = Varchar(length=160)
    published_at = Timestamptz()


class Attachment(Table, tablename="petitions_attachment"):
    """A document attached to a response (a PDF or a photo), stored by content digest."""

    response = ForeignKey(references=Response, on_delete=OnDelete.cascade, null=False,
                          index=True)
    name = Varchar(length=80)
    filename = Varchar(length=160)
    media_type = Varchar(length=80)
    size = Integer()
