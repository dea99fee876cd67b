"""The one form-error pattern: messages by field, shown in a summary at the top of the page
(linking to each field) and beside the field, with what the person typed kept."""

from __future__ import annotations


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
