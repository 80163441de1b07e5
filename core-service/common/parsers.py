"""JSON parsing that never turns hostile input into a 500."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    """DRF's parser, plus: nesting deep enough to exhaust Python's recursion
    limit (`[[[[...` within the 1 MiB body limit) is a malformed body, not a
    server error."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON nested too deeply.") from None
