"""The one rule for a phone number in every contract: what may be dialled, and how a number with no country code reads.

Each contract keeps its own output form (a parent's mobile in E.164 for the SMS gateway, a directory number as people
read it); the parsing, the home region and the reasons for refusing are here only.
"""

from __future__ import annotations

import phonenumbers

HOME_REGION = "US"
"""A number written without a country code is read as a number of this region."""


def dialable(value: str) -> phonenumbers.PhoneNumber:
    """The number ``value`` names; raises ValueError (for a validator: pydantic names the field) if it names none."""
    try:
        number = phonenumbers.parse(value, HOME_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    return number
