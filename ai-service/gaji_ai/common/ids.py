"""Ids on the wire."""

from __future__ import annotations

# A UUID in its canonical 8-4-4-4-12 form, any case. (36 hex digits and dashes
# in any order passed the looser pattern this replaces, and then failed as a
# UUID deep inside a route: a 500 instead of a 400.)
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
