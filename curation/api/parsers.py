"""The REST surface's JSON reader: request bodies go through the input gate
(``curation.services.inputs.load_json``), so a body nested 100,000 deep, or holding a NUL
character or a lone surrogate anywhere, is a 400 naming the problem, never a 500, on
SQLite and PostgreSQL alike."""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from curation.services.inputs import load_json


class GateJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise ParseError(f"The request body is not {encoding} text.") from None
        try:
            return load_json(text)
        except ValueError as exc:
            raise ParseError(f"The request body is refused: {exc}.") from None
