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
