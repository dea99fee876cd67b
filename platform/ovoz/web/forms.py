"""The one form-error pattern: messages by field, shown in a summary at the top of the page
(linking to each field) and beside the field, with what the person typed kept."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter


class FormErrors:
    def __init__(self) -> None:
        self._messages: dict[str, str] = {}

    def add(self, field: str, message: str) -> None:
        # The first problem with a field is the one to fix first.
        self._messages.setdefault(field, message)

    def get(self, field: str) -> str | None:
        return self._messages.get(field)

    def items(self) -> list[tuple[str, str]]:
        return list(self._messages.items())

    def __bool__(self) -> bool:
        return bool(self._messages)

    def __contains__(self, field: str) -> bool:
        return field in self._messages


# A list filter as a form without JavaScript sends it: "all" is an empty value, not an error.
Filter = Annotated[str | None, QueryParameter(max_length=20)]


def chosen_id(text: str | None) -> int | None:
    """The id a filter or a select names, or None for "all" and for anything that is not one."""
    text = (text or "").strip()
    return int(text) if text.isdecimal() and len(text) <= 12 else None


def local_path(text: str | None, default: str) -> str:
    """Where a form may send the person next: a path on this site only, so a crafted link
    cannot send them elsewhere ("//host" and "/\\host" are other sites to a browser)."""
    text = (text or "").strip()
    if (text.startswith("/") and not text.startswith(("//", "/\\"))
            and text.isprintable() and len(text) <= 2000):
        return text
    return default
