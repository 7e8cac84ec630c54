"""The one rule for text in every contract: only what PostgreSQL can store.

A ``text`` or ``jsonb`` column in a UTF-8 database cannot hold the NUL character (U+0000), and no UTF-8 encoder can
write half of a surrogate pair (U+D800 to U+DFFF, which a JSON ``\\ud800`` escape decodes to in Python). Either one,
let through, fails deep in asyncpg (a 500 over HTTP, a parked record over Kafka). So every text field of every
contract is ``Text`` (or a type built on it), and refuses them where it is read, naming the field and never echoing
the value. Its JSON schema says so with a pattern, so the OpenAPI and AsyncAPI documents promise what is enforced.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, EmailStr, GetCoreSchemaHandler, GetJsonSchemaHandler, HttpUrl, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
STORABLE_PATTERN = "^[^\\u0000]*$"
"""The rule in the JSON schemas (the documents' ``pattern``): no NUL. An unpaired surrogate is not a Unicode
character at all, so no pattern can name it (JSON Schema validators and regex engines have no such characters): it is
refused all the same."""
UNSTORABLE_REASON = "must not contain the NUL character (U+0000) or an unpaired surrogate (U+D800 to U+DFFF)"


def is_storable(value: str) -> bool:
    return _UNSTORABLE.search(value) is None


def storable_or(value: str, replacement: str) -> str:
    """``value`` with each character PostgreSQL cannot store replaced (for names we echo, such as a field's path)."""
    return _UNSTORABLE.sub(replacement, value)


def _refuse_unstorable(value: Any) -> Any:
    if isinstance(value, str) and not is_storable(value):
        raise PydanticCustomError("unstorable_text", UNSTORABLE_REASON)
    return value


class _Storable:
    """``Annotated`` metadata: refuse what PostgreSQL cannot store before the type's own validation (so an email
    address or a URL is refused for the same reason as any text; a URL parser would drop a NUL silently), and say
    so in the JSON schema unless the type's own pattern or format already excludes these characters.

    Put it last, after ``StringConstraints``: pydantic checks lengths and patterns natively (with its clear messages
    and their JSON schema) only on a string schema that no validator wraps yet.
    """

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(_refuse_unstorable, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        if json_schema.get("type") == "string" and not {"pattern", "format", "enum", "const"} & json_schema.keys():
            json_schema["pattern"] = STORABLE_PATTERN
        return json_schema


STORABLE = _Storable()
"""The rule as metadata for a constrained type: ``Annotated[str, StringConstraints(...), STORABLE]``."""

Text = Annotated[str, STORABLE]
"""Any text a contract reads."""
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), STORABLE]
"""A name, a title, a line of an address: 1 to 200 characters once trimmed."""
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000), STORABLE]
"""A description in someone's words: 1 to 5,000 characters once trimmed."""
Email = Annotated[EmailStr, STORABLE]
"""An email address."""
WebUrl = Annotated[HttpUrl, STORABLE]
"""An http(s) URL."""


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date_text(value: Any) -> Any:
    # pydantic alone would also read a number (or text of digits) as seconds since 1970: '0' is no date.
    if isinstance(value, dt.date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise PydanticCustomError("date_format", "must be a date written YYYY-MM-DD")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_text)]
"""A calendar day as JSON and query strings carry it ('2026-11-25'), which is what ``format: date`` promises."""
