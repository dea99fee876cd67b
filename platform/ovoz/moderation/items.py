"""The content moderators look after, one kind at a time, read and changed only through each
feature's services: a problem report, a petition, a budget proposal, a comment on a project."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ovoz.accounts.permissions import Place
from ovoz.i18n import locale
from ovoz.petitions import services as petitions
from ovoz.planning import services as planning
from ovoz.reports import services as reports

REPORT, PETITION, PROPOSAL, COMMENT = "report", "petition", "proposal", "comment"
KIND_LABELS: Final = {
    REPORT: locale.lazy("Problem report"),
    PETITION: locale.lazy("Petition"),
    PROPOSAL: locale.lazy("Project proposal"),
    COMMENT: locale.lazy("Comment on a project"),
}


@dataclass(frozen=True, slots=True)
class Item:
    kind: str
    ref: int
    author: int | None
    place: Place
    title: str
    # The texts a moderator may redact or hide, by field name.
    fields: Mapping[str, str]
    field_labels: Mapping[str, str]
    public_path: str
    # A report's photos: id, name and hidden_at of each.
    photos: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Kind:
    load: Callable[[int], Awaitable[dict[str, Any] | None]]
    set_text: Callable[[int, str, str], Awaitable[None]]
    field_labels: Mapping[str, str]
    path: Callable[[int, Mapping[str, Any]], str]
    # An author's items of this kind that a block hides.
    pending_of: Callable[[int], Awaitable[list[int]]]


KINDS: Final = {
    REPORT: _Kind(reports.moderated, reports.set_moderated_text, reports.MODERATED_FIELDS,
                  lambda ref, row: f"/reports/{ref}", reports.pending_of),
    PETITION: _Kind(petitions.moderated, petitions.set_moderated_text,
                    petitions.MODERATED_FIELDS, lambda ref, row: f"/petitions/{ref}",
                    petitions.pending_of),
    PROPOSAL: _Kind(planning.moderated, planning.set_moderated_text,
                    planning.MODERATED_FIELDS, lambda ref, row: f"/proposals/{ref}",
                    planning.pending_of),
    COMMENT: _Kind(planning.moderated_comment, planning.set_moderated_comment,
                   planning.COMMENT_FIELDS,
                   lambda ref, row: f"/proposals/{row['proposal']}#comment-{ref}",
                   planning.comments_of),
}


async def load(kind: str, ref: int) -> Item | None:
    """The public item of this kind and number, or None."""
    found = KINDS.get(kind)
    row = await found.load(ref) if found and 0 < ref <= 2**31 - 1 else None
    if found is None or row is None:
        return None
    title = (locale.localised_name(row["title_names"]) if "title_names" in row
             else row["title"])
    return Item(kind, ref, row["author"], row["place"], title, row["fields"],
                found.field_labels, found.path(ref, row), row.get("photos", []))


async def set_text(item: Item, field_name: str, text: str) -> None:
    await KINDS[item.kind].set_text(item.ref, field_name, text)


async def pending_of(resident_id: int) -> list[Item]:
    """What a block hides of the author's: items nobody has acted on yet, and comments."""
    found = []
    for kind, known in KINDS.items():
        for ref in await known.pending_of(resident_id):
            item = await load(kind, ref)
            if item is not None:
                found.append(item)
    return found
