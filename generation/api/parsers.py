"""DRF's JSON parser, but a body nested deeper than MAX_DEPTH gets 400 `invalid_request`
instead of a RecursionError (500) from the decoder. The depth is counted by a scan
over the text, not by recursion.

JSON is UTF-8 (RFC 8259 §8.1): a body is always decoded as UTF-8, and a `charset`
other than UTF-8 in its Content-Type is refused with 400, never honoured. Honouring
`charset=utf-7` would store `+ADw-script+AD4-` as `<script>`.

(Its own module: DRF imports parser classes while `rest_framework.views` loads, so
this one must not import anything that imports the views.)
"""
import codecs
import re

from django.utils.http import parse_header_parameters
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.settings import api_settings
from rest_framework.utils import json

MAX_DEPTH = 32  # a sprite request is 1 deep; 32 leaves room for any client's envelope

# A JSON string (escapes included), and the brackets that are left once strings are gone.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


def nesting_depth(text: str) -> int:
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


class JSONParser(parsers.JSONParser):
    max_depth = MAX_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        charset = parse_header_parameters(media_type or "")[1].get("charset")
        if charset is not None and not is_utf8(charset):
            raise ParseError(f"JSON is UTF-8 only; charset={charset[:40]!r} is not accepted.")
        try:
            text = codecs.decode(stream.read(), "utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError("JSON parse error - the body is not UTF-8.") from exc
        if nesting_depth(text) > self.max_depth:
            raise ParseError(f"JSON parse error - nested deeper than {self.max_depth} levels.")
        try:
            return json.loads(text, parse_constant=json.strict_constant if api_settings.STRICT_JSON else None)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc


def is_utf8(charset: str) -> bool:
    """Whether Python reads this charset name as plain UTF-8 (`utf-8`, `UTF8`, `utf_8`; not `utf-8-sig`)."""
    try:
        return codecs.lookup(charset).name == "utf-8"
    except LookupError:
        return False
