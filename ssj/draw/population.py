"""A population frozen before the seed exists: its ids, sorted, under an RFC 9162 Merkle root.

The root fixes exactly which ids could be drawn; anyone holding the id list can recompute it,
and a firm can be shown an inclusion proof that it was (or was not) in the pool.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable

from ssj.draw.sampler import normalise
from ssj.ledger import merkle


def frozen(ids: Iterable[str]) -> list[str]:
    """The canonical order: NFC-normalised ids, sorted by code point, duplicates an error."""
    canonical = list(ids)
    if not "".join(canonical).isascii():  # ASCII is already NFC
        canonical = [normalise(i) for i in canonical]
    canonical.sort()
    if len(set(canonical)) != len(canonical):
        duplicate = next(a for a, b in itertools.pairwise(canonical) if a == b)
        raise ValueError(f"duplicate id in population: {duplicate}")
    return canonical


def population_root(sorted_ids: Iterable[str]) -> str:
    """Hex MTH over the ids (UTF-8) in the canonical order; the caller sorts (see `frozen`)."""
    sha = hashlib.sha256
    return merkle.root([sha(b"\x00" + i.encode("utf-8")).digest() for i in sorted_ids]).hex()
