"""Uzbek Latin <-> Cyrillic transliteration, following the 1995 Latin alphabet and its
orthography rules as they are applied in official names and the press."""

# Mixing look-alike Latin and Cyrillic letters and apostrophes is this module's subject.

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable
from typing import Literal

APOSTROPHE_OKINA = "\u02bb"
APOSTROPHE_TUTUQ = "\u02bc"

Script = Literal["latn", "cyrl"]

# What people type for the two Uzbek apostrophes, each other included.
_TYPED_APOSTROPHES = frozenset("'`\u2018\u2019\u02bb\u02bc")

# Russian loanwords that the rules cannot reproduce (mostly a final ь or the official
# Latin month names without y), keyed by the lower-case Latin spelling.
WORD_EXCEPTIONS: dict[str, str] = {
    "yanvar": "январь",
    "fevral": "февраль",
    "aprel": "апрель",
    "iyun": "июнь",
    "iyul": "июль",
    "sentabr": "сентябрь",
    "oktabr": "октябрь",
    "noyabr": "ноябрь",
    "dekabr": "декабрь",
    "rayon": "район",
    "sirk": "цирк",
    "premyer": "премьер",
}
_LATIN_BY_CYRILLIC = {cyrillic: latin for latin, cyrillic in WORD_EXCEPTIONS.items()}

# Latin "ts" is usually t + s (ketsa, quvvatsiz); it stands for ц at the start of a word and
# inside these fragments of international words.
TS_AS_TSE_FRAGMENTS: tuple[str, ...] = ("tsiya", "tsion", "litsey")

_LATIN_LETTERS = {
    "a": "а", "b": "б", "d": "д", "f": "ф", "g": "г", "h": "ҳ", "i": "и", "j": "ж",
    "k": "к", "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "q": "қ", "r": "р",
    "s": "с", "t": "т", "u": "у", "v": "в", "x": "х", "y": "й", "z": "з",
}  # fmt: skip
_LATIN_DIGRAPHS = {
    "o" + APOSTROPHE_OKINA: "ў",
    "g" + APOSTROPHE_OKINA: "ғ",
    "sh": "ш",
    "ch": "ч",
    "yo": "ё",
    "yu": "ю",
    "ya": "я",
}
_LATIN_VOWELS = frozenset("aeiou")

_CYRILLIC_LETTERS = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ё": "yo", "ж": "j", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
    "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "x", "ч": "ch", "ш": "sh",
    "э": "e", "ю": "yu", "я": "ya", "ў": "o" + APOSTROPHE_OKINA, "қ": "q",
    "ғ": "g" + APOSTROPHE_OKINA, "ҳ": "h",
    # Russian-only letters, as Uzbek spelling renders them in loanwords.
    "щ": "sh", "ы": "i",
}  # fmt: skip
_CYRILLIC_VOWELS = frozenset("аеёиоуэюяўы")
_IOTATED = frozenset("еёюя")

_WORD = re.compile(r"[^\W\d_]+")


def _is_letter(char: str) -> bool:
    return char.isalpha() and char not in (APOSTROPHE_OKINA, APOSTROPHE_TUTUQ)


def normalise(text: str) -> str:
    """NFC, and the typed stand-ins for ʻ and ʼ replaced where they are part of a word."""
    chars = list(unicodedata.normalize("NFC", text))
    quote_open = False
    for i, char in enumerate(chars):
        if char not in _TYPED_APOSTROPHES:
            continue
        before = chars[i - 1] if i else ""
        after = chars[i + 1] if i + 1 < len(chars) else ""
        if not _is_letter(before):
            # An apostrophe opening a word is a quote mark; remember it to spot its partner.
            quote_open = quote_open or _is_letter(after)
        elif _is_letter(after):
            chars[i] = APOSTROPHE_OKINA if before in "oOgG" else APOSTROPHE_TUTUQ
        elif quote_open:
            quote_open = False
        elif before in "gG":
            chars[i] = APOSTROPHE_OKINA
        elif before not in "oO":
            # No Uzbek word ends in oʻ, so there it is a closing quote after Buxoro, Amudaryo...
            chars[i] = APOSTROPHE_TUTUQ
    return "".join(chars)


def _lower_each(word: str) -> str:
    """Lower case letter by letter, keeping positions aligned with the word (İ lowers to two)."""
    return "".join(lowered if len(lowered := char.lower()) == 1 else char for char in word)


def _cased_exception(word: str, table: dict[str, str]) -> str | None:
    spelling = table.get(word.lower())
    if spelling is None:
        return None
    if word.islower():
        return spelling
    if word.isupper() and len(word) > 1:
        return spelling.upper()
    if word[0].isupper() and word[1:].islower():
        return spelling[0].upper() + spelling[1:]
    return None


def _tse_positions(word: str) -> set[int]:
    positions = {0} if word.startswith("ts") else set()
    for fragment in TS_AS_TSE_FRAGMENTS:
        offset = fragment.index("ts")
        start = word.find(fragment)
        while start != -1:
            positions.add(start + offset)
            start = word.find(fragment, start + 1)
    return positions


def _latin_word_to_cyrillic(word: str) -> str:
    exception = _cased_exception(word, WORD_EXCEPTIONS)
    if exception is not None:
        return exception
    lower = _lower_each(word)
    tse_at = _tse_positions(lower)
    out: list[str] = []
    after_vowel = False
    i = 0
    while i < len(word):
        pair = lower[i : i + 2]
        upper = word[i].isupper()
        size = 2
        if i in tse_at:
            cyrillic = "ц"
        elif pair == "ye":
            # е is read "ye" only where it starts a syllable; after a consonant it needs ъ.
            cyrillic = "е" if i == 0 or after_vowel or lower[i - 1] == APOSTROPHE_TUTUQ else "ъе"
        elif pair == "yo" and lower[i + 2 : i + 3] == APOSTROPHE_OKINA:
            # y + oʻ (yoʻl), not yo + a stray ʻ.
            cyrillic, size = "й", 1
        elif pair in _LATIN_DIGRAPHS:
            cyrillic = _LATIN_DIGRAPHS[pair]
        else:
            size = 1
            char = lower[i]
            if char == "e":
                # Plain е after a vowel or at the start would be read "ye".
                cyrillic = "э" if i == 0 or after_vowel else "е"
            elif char == APOSTROPHE_TUTUQ:
                # sʼh only marks that s and h are not the digraph sh; Cyrillic сҳ needs no ъ.
                if lower[i - 1 : i] == "s" and lower[i + 1 : i + 2] == "h":
                    cyrillic = ""
                else:
                    cyrillic = "ъ"
                    upper = _upper_around(word, i)
            else:
                cyrillic = _LATIN_LETTERS.get(char, word[i])
                upper = upper and char in _LATIN_LETTERS
        out.append(cyrillic.upper() if upper else cyrillic)
        # ya, yo, yu, ye end in a vowel too.
        after_vowel = pair[0] in _LATIN_VOWELS or (size == 2 and pair[0] == "y")
        i += size
    return "".join(out)


def _upper_around(word: str, i: int) -> bool:
    """Whether a caseless sign at i sits inside upper-case writing (SANʼAT, ТОШ)."""
    before = word[i - 1] if i else ""
    after = word[i + 1] if i + 1 < len(word) else ""
    if after and after not in (APOSTROPHE_OKINA, APOSTROPHE_TUTUQ):
        return after.isupper() and (not before or before.isupper())
    return before.isupper()


def _latin_case(latin: str, word: str, i: int) -> str:
    if not word[i].isupper():
        return latin
    if len(latin) > 1 and _upper_around(word, i):
        return latin.upper()
    return latin[0].upper() + latin[1:]


def _cyrillic_word_to_latin(word: str) -> str:
    exception = _cased_exception(word, _LATIN_BY_CYRILLIC)
    if exception is not None:
        return exception
    lower = _lower_each(word)
    out: list[str] = []
    for i, char in enumerate(lower):
        before = lower[i - 1] if i else ""
        after = lower[i + 1] if i + 1 < len(lower) else ""
        if char == "е":
            syllable_start = not before or before in _CYRILLIC_VOWELS or before in "ъь"
            latin = "ye" if syllable_start else "e"
        elif char == "ц":
            latin = "ts" if before in _CYRILLIC_VOWELS and after else "s"
        elif char == "ъ":
            # The Russian separator before е/ё/ю/я is carried by the y (obyekt), and the one
            # after ў is not written in Latin (moʻjiza).
            dropped = before == "ў" or (
                _is_letter(before) and before not in _CYRILLIC_VOWELS and after in _IOTATED
            )
            latin = "" if dropped else APOSTROPHE_TUTUQ
        elif char == "ь":
            latin = "y" if after == "о" else ""
        elif char == "с" and after == "ҳ":
            latin = "s" + APOSTROPHE_TUTUQ
        else:
            latin = _CYRILLIC_LETTERS.get(char, word[i])
        out.append(_latin_case(latin, word, i) if latin else latin)
    return "".join(out)


def to_cyrillic(text: str) -> str:
    """Uzbek Latin to Uzbek Cyrillic; anything that is not Uzbek Latin passes through."""
    return _WORD.sub(lambda match: _latin_word_to_cyrillic(match[0]), normalise(text))


def to_latin(text: str) -> str:
    """Uzbek Cyrillic to Uzbek Latin; anything that is not Cyrillic passes through."""
    return _WORD.sub(lambda match: _cyrillic_word_to_latin(match[0]), normalise(text))


def detect_script(text: str) -> Script | None:
    """The script most of the letters are in, or None without a majority."""
    latin = sum(char in string.ascii_letters for char in text)
    cyrillic = sum("\u0400" <= char <= "\u04ff" for char in text)
    if latin > cyrillic:
        return "latn"
    if cyrillic > latin:
        return "cyrl"
    return None


_CONVERTERS: dict[str, Callable[[str], str]] = {"latn": to_latin, "cyrl": to_cyrillic}


def to_script(text: str, script: str) -> str:
    """The text in the reader's script ("latn" or "cyrl"); text already in it is unchanged."""
    convert = _CONVERTERS.get(script)
    if convert is None:
        raise ValueError(f"unknown script {script!r}, expected 'latn' or 'cyrl'")
    if detect_script(text) == script:
        return text
    return convert(text)
