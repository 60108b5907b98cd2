"""Rivest's consistent sampler (the `consistent-sampler` package), exactly, and fast.

A ticket is a pseudo-random fraction in (0, 1) fixed by the seed and the id alone:
"0." followed by the decimal digits of SHA-256(sha256_hex(seed) + id), zero-padded to at least 64
digits and reversed (Rivest 2018; the reference's `first_ticket`). A sample without replacement
is the k ids with the smallest tickets, compared as strings, ties broken by id, as the
reference's heap of (ticket, id) tuples does. Because each id's ticket ignores every other id, the
sample does not depend on the order of the population, and the sample of a subset is the subset
of the sample (consistency): the properties that let anyone re-check a draw.

Computing a full ticket costs a 256-bit decimal conversion, so `sample` first orders ids by the
ticket's first five digits (the hash's five lowest decimal digits, reversed: one table lookup),
which decide every comparison except ties in those digits, then computes full tickets only for
the ids that could still be in the sample and sorts those exactly.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import unicodedata
from collections.abc import Iterable
from functools import cache

try:  # CPython's own SHA-256 copies a hash state faster than OpenSSL's; same digests
    from _sha256 import sha256 as _sha256
except ImportError:  # pragma: no cover - other interpreters
    _sha256 = hashlib.sha256

PREFIX_DIGITS = 5
_PREFIX_MOD = 10**PREFIX_DIGITS


@cache
def _reversed_digits() -> list[int]:
    """n -> the number whose digits are n's, zero-padded and reversed: orders like the ticket."""
    return [int(f"{n:0{PREFIX_DIGITS}d}"[::-1]) for n in range(_PREFIX_MOD)]


def normalise(id: str) -> str:
    """Ids are compared and hashed in Unicode NFC, so visually equal ids are one id."""
    return unicodedata.normalize("NFC", id)


def seed_hex(seed: str) -> str:
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def _ticket_of(hexed: str, id: str) -> str:
    digits = f"{int(hashlib.sha256((hexed + id).encode('utf-8')).hexdigest(), 16):064d}"
    return "0." + digits[::-1]


def ticket(seed: str, id: str) -> str:
    """The full ticket string the reference package gives `id` under `seed`."""
    return _ticket_of(seed_hex(seed), normalise(id))


def _below(hexed: str, ids: list[str], bound: int) -> list[tuple[int, str]]:
    """(prefix key, id) for every id whose ticket prefix key is below `bound`."""
    copy = _sha256(hexed.encode("ascii")).copy  # the 64-byte prefix is one hashed block
    from_bytes = int.from_bytes
    table = _reversed_digits()
    modulus = _PREFIX_MOD
    found: list[tuple[int, str]] = []
    append = found.append
    for id in ids:
        h = copy()
        h.update(id.encode("utf-8"))
        key = table[from_bytes(h.digest()) % modulus]
        if key < bound:
            append((key, id))
    return found


def _candidates(hexed: str, ids: list[str], k: int) -> list[tuple[int, str]]:
    """A superset of the sample: (key, id) for every id whose prefix key is at most the k-th
    smallest.

    Prefix keys are uniform over [0, 10**PREFIX_DIGITS), so one pass keeping the keys below a
    bound a few standard deviations above the k-th quantile nearly always finds k of them; if
    not, the pass is repeated with a higher bound. Any bound that admits k ids admits every id
    whose key is at most the k-th smallest, so the result never depends on the bound.
    """
    n = len(ids)
    bound = _PREFIX_MOD
    if k < n:
        bound = min(_PREFIX_MOD, math.ceil(_PREFIX_MOD * (k + 4 * math.sqrt(k) + 16) / n))
    while True:
        found = _below(hexed, ids, bound)
        if len(found) >= k or bound >= _PREFIX_MOD:
            break
        bound *= 2
    if k >= len(found):
        return found
    cut = heapq.nsmallest(k, found)[-1][0]
    return [pair for pair in found if pair[0] <= cut]


def _in_ticket_order(hexed: str, keyed: list[tuple[int, str]]) -> list[str]:
    """Ids ordered by prefix key; only ids sharing a key are compared by their full tickets."""
    keyed.sort()
    out: list[str] = []
    i, n = 0, len(keyed)
    while i < n:
        j = i + 1
        while j < n and keyed[j][0] == keyed[i][0]:
            j += 1
        if j - i == 1:
            out.append(keyed[i][1])
        else:
            out.extend(t[1] for t in sorted((_ticket_of(hexed, id), id) for _, id in keyed[i:j]))
        i = j
    return out


def sample(seed: str, ids: Iterable[str], k: int) -> list[str]:
    """The k ids with the smallest tickets, in ticket order (duplicate ids are an error)."""
    if k < 0:
        raise ValueError("k must not be negative")
    population = list(ids)
    if not "".join(population).isascii():  # ASCII is already NFC: skip a call per id
        population = [normalise(i) for i in population]
    if len(set(population)) != len(population):
        raise ValueError("ids must be distinct (after NFC normalisation)")
    if k == 0 or not population:
        return []
    hexed = seed_hex(seed)
    return _in_ticket_order(hexed, _candidates(hexed, population, k))[:k]


def first(seed: str, ids: list[str], k: int) -> list[str]:
    """`sample` for ids already known distinct and NFC (registry keys, as teams rank them):
    the same result, without re-checking the ids on every one of thousands of calls."""
    if k <= 0 or not ids:
        return []
    hexed = seed_hex(seed)
    return _in_ticket_order(hexed, _candidates(hexed, ids, k))[:k]


def ranked(seed: str, ids: Iterable[str]) -> list[str]:
    """Every id in ticket order: the whole sampling order (used to rank inspectors)."""
    population = list(ids)
    return sample(seed, population, len(population))
