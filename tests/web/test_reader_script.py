from __future__ import annotations

import pytest

from ovoz.i18n import locale
from ovoz.web.templating import in_reader_script


@pytest.mark.parametrize(
    ("language", "written", "shown"),
    [
        ("uz-Cyrl", "Yoʻlda katta chuqur bor", "Йўлда катта чуқур бор"),
        ("uz", "Йўлда катта чуқур бор", "Yoʻlda katta chuqur bor"),
        ("uz", "Yo'lda katta chuqur bor", "Yoʻlda katta chuqur bor"),
        ("uz-Cyrl", "Ариқ тозаланмаган", "Ариқ тозаланмаган"),
        ("ru", "Yoʻlda chuqur", "Yoʻlda chuqur"),
        ("en", "Йўлда чуқур", "Йўлда чуқур"),
        ("uz", "", ""),
    ],
)
def test_user_text_is_shown_in_the_readers_uzbek_script(language: str, written: str,
                                                        shown: str) -> None:
    token = locale.current_language.set(language)
    try:
        assert in_reader_script(written) == shown
    finally:
        locale.current_language.reset(token)
