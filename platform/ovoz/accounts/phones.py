"""Uzbek mobile numbers as people type them, to E.164."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumberType

_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


class InvalidPhone(ValueError):
    """Not an Uzbek mobile number."""


def parse_phone(text: str) -> str:
    """'90 123 45 67', '998901234567', '+998 (90) 123-45-67' -> '+998901234567'."""
    digits = re.sub(r"\D", "", text or "")
    if len(digits) == 12 and digits.startswith("998"):
        candidate = "+" + digits
    elif len(digits) == 9:
        candidate = "+998" + digits
    elif text.strip().startswith("+"):
        candidate = "+" + digits
    else:
        raise InvalidPhone(text)
    try:
        number = phonenumbers.parse(candidate, "UZ")
    except phonenumbers.NumberParseException:
        raise InvalidPhone(text) from None
    if (
        number.country_code != 998
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in _MOBILE_TYPES
    ):
        raise InvalidPhone(text)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
