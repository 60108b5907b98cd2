"""Encoding events for the ledger: eventsourcing's JSON transcoder, written by orjson where orjson
gives the very same bytes.

The standard library's encoder took ~12 us for a target's Registered event; orjson takes ~3 us,
and the check below ~3 us more (measured 2026-12-04). orjson writes other
bytes than `json` for some values (UUIDs, enums and dataclasses natively instead of through the
transcodings; floats in another notation; NaN as null) and refuses others (integers beyond 64
bits, keys that are not strings, lone surrogates). So a state takes orjson's path only when it
holds nothing but strings, 64-bit integers, booleans, None, lists, tuples, dicts with string keys
and datetimes (given to the transcodings, as `json` gives them); anything else is encoded by
`json` as before. Tested equal to `JSONTranscoder` on generated values
(tests/ledger/test_encoding.py). Decoding is `ssj.ledger.decoding`'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder

# Datetimes and dataclasses go to `default` (the transcodings), as with `json`.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_INT_MIN, _INT_END = -(2**63), 2**64  # what orjson writes as an integer


class LedgerTranscoder(JSONTranscoder):
    """`JSONTranscoder`, encoding with orjson when that writes the same bytes."""

    def encode(self, obj: Any) -> bytes:
        if _orjson_writes_it_alike(obj):
            try:
                return orjson.dumps(obj, default=self._encode_obj, option=_OPTIONS)
            except orjson.JSONEncodeError:  # a lone surrogate: `json` raises what it raised
                pass
        return super().encode(obj)


def _orjson_writes_it_alike(value: Any) -> bool:
    stack = [value]
    while stack:
        found = stack.pop()
        kind = type(found)
        if kind is str or kind is bool or found is None or kind is datetime:
            continue
        if kind is dict:
            if any(type(key) is not str for key in found):
                return False
            stack.extend(found.values())
        elif kind is list or kind is tuple:
            stack.extend(found)
        elif kind is int:
            if not _INT_MIN <= found < _INT_END:
                return False
        else:
            return False
    return True
