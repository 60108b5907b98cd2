"""Rivest's consistent sampler (the `consistent-sampler` package), exactly, and fast.

A ticket is a pseudo-random fraction in (0, 1) fixed by the seed and the id alone:
"0." followed by the decimal digits of SHA-256(sha256_hex(seed) + id), zero-padded to at least 64
digits and reversed (Rivest 2018; the reference's `first_ticket`). A sample without replacement
is the k ids with the smallest tickets, compared as strings, ties broken by id, as the
reference's heap of (ticket, id) tuples does. Because each id's ticket ignores every other id, the
sample does not depend on the order of the population, and the sample of a subset is the subset
of the sample (consistency): the properties that let anyone re-check a draw.

Computing a full ticket costs a 256-bit decimal conversion, so `sample` first orders ids by the
ticket's first nine digits (the hash's nine lowest decimal digits, reversed: a prefix key),
which decide every comparison except ties in those digits, then computes full tickets only for
the ids whose key is at most the k-th smallest and sorts those exactly. The hashes run as one
chain of C calls and the keys are computed for all ids at once with numpy, so no Python frame
runs per id; a large population splits into chunks that any map can run (see `population`).
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import operator
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from ssj import collector

if TYPE_CHECKING:
    import numpy as np

PREFIX_DIGITS = 9  # ties in nine digits are rare even among a million ids
_LOW_DIGITS = 5  # the key is reversed by two table lookups: the low five digits, then the rest
CHUNK = 1 << 15  # ids per call when a map hands the hashing to other processes
_TWOS, _FIVES = 2**PREFIX_DIGITS, 5**PREFIX_DIGITS  # 10**9 = 2**9 * 5**9
_FIVES_INVERSE = pow(_FIVES, -1, _TWOS)

Map = Callable[..., Iterable[Any]]  # the built-in `map`, or one that runs calls elsewhere

_sha256 = hashlib.sha256  # OpenSSL's, with the CPU's SHA instructions where it has them
_digest = type(_sha256()).digest
_hexdigest = type(_sha256()).hexdigest
_copy = type(_sha256()).copy
_update = type(_sha256()).update
SLICE = 1 << 14  # hash states alive at once in `_hashes_after` (a few MB)


@cache
def _five_weights() -> np.ndarray:
    import numpy as np

    return np.array([pow(2, 32 * i, _FIVES) for i in range(7, -1, -1)], dtype=np.uint64)


@cache
def _reversed_digits(digits: int) -> np.ndarray:
    """n -> the number whose `digits` digits are n's, zero-padded and reversed."""
    import numpy as np  # only where a draw is computed: other processes never load it

    n = np.arange(10**digits, dtype=np.uint64)
    table = np.zeros_like(n)
    for _ in range(digits):
        table = table * np.uint64(10) + n % np.uint64(10)
        n //= np.uint64(10)
    return table


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


def encoded(ids: Iterable[str]) -> list[bytes]:
    """UTF-8 of every id (one C call each, no Python frame)."""
    return list(map(str.encode, ids))


def blobs(ids: Sequence[str], size: int) -> list[bytes] | None:
    """The ids in runs of `size`, each as one newline-separated UTF-8 blob (how chunks travel
    to other processes); None if an id holds a newline (never so in a registry)."""
    runs = ["\n".join(ids[s : s + size]) for s in range(0, len(ids), size)]
    if sum(r.count("\n") for r in runs) != len(ids) - len(runs):
        return None
    return [r.encode("utf-8") for r in runs]


def digest_keys(digests: bytes) -> np.ndarray:
    """The prefix key of each 32-byte digest in `digests`: the integer's nine lowest decimal
    digits, reversed, so that keys order like the tickets' first nine digits. The nine digits
    are the integer modulo 10**9, put together (Chinese remainder theorem) from its residue
    modulo 2**9 (its lowest bits) and modulo 5**9: the sum of its eight 32-bit limbs, each
    times 2**32i mod 5**9, stays below 2**56, so one division per digest is enough."""
    import numpy as np

    limbs = np.frombuffer(digests, dtype=">u4").reshape(-1, 8)
    by_five = (limbs @ _five_weights()) % np.uint64(_FIVES)
    by_two = limbs[:, 7].astype(np.uint64) & np.uint64(_TWOS - 1)
    step = ((by_two + np.uint64(_TWOS * _FIVES) - by_five) * np.uint64(_FIVES_INVERSE)) & np.uint64(
        _TWOS - 1
    )
    low = by_five + np.uint64(_FIVES) * step
    split = np.uint64(10**_LOW_DIGITS)
    high_digits = PREFIX_DIGITS - _LOW_DIGITS
    first = _reversed_digits(_LOW_DIGITS)[low % split] * np.uint64(10**high_digits)
    keys: np.ndarray = first + _reversed_digits(high_digits)[low // split]
    return keys


def _hashes_after(heads: Iterable[Any], data: Iterable[bytes], count: int) -> bytes:
    """SHA-256(prefix + item) of `count` data items, concatenated, where each head is a hash
    object that has taken its item's prefix. A ticket's prefix is a 64-character hex seed
    hash, exactly one SHA-256 block: each head's state is copied, not recomputed, so a short
    id costs one compression and no fresh OpenSSL context (about a third less CPU than hashing
    prefix + id whole), with the same digests. Chains of C calls, `SLICE` states at a time."""
    states = map(_copy, heads)
    items = iter(data)
    out = []
    for start in range(0, count, SLICE):
        part = list(itertools.islice(states, min(SLICE, count - start)))
        collections.deque(map(_update, part, items), maxlen=0)  # stops with `part`
        out.append(b"".join(map(_digest, part)))
    return b"".join(out)


def prefix_keys(hexed: bytes, data: Sequence[bytes]) -> np.ndarray:
    """The ticket prefix key of each id (UTF-8) under the hex seed hash `hexed`."""
    return digest_keys(_hashes_after(itertools.repeat(_sha256(hexed)), data, len(data)))


def chunk_keys(job: tuple[bytes, bytes]) -> bytes:
    """A map call's unit: the prefix keys (uint64) of the newline-separated ids in a blob."""
    hexed, blob = job
    return prefix_keys(hexed, blob.split(b"\n")).tobytes()


def _keys(hexed: str, ids: Sequence[str], run: Map) -> np.ndarray:
    import numpy as np

    seed = hexed.encode("ascii")
    runs = blobs(ids, CHUNK) if run is not map and len(ids) > CHUNK else None
    if runs is None:  # in runs: no list of a million bytes at once
        keys = [prefix_keys(seed, encoded(ids[s : s + CHUNK])) for s in range(0, len(ids), CHUNK)]
        return np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64)
    found = run(chunk_keys, [(seed, r) for r in runs])
    return np.frombuffer(b"".join(found), dtype=np.uint64)


def _candidates(keys: np.ndarray, ids: Sequence[str], k: int) -> list[tuple[int, str]]:
    """(key, id) for every id whose prefix key is at most the k-th smallest: a superset of the
    sample that holds every id that could tie with its last member."""
    import numpy as np

    if k >= len(ids):
        return list(zip(keys.tolist(), ids, strict=True))
    cut = np.partition(keys, k - 1)[k - 1]
    chosen = np.flatnonzero(keys <= cut)
    return list(zip(keys[chosen].tolist(), map(ids.__getitem__, chosen.tolist()), strict=True))


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


def nfc(ids: list[str]) -> list[str]:
    """The ids in NFC (ASCII ids, nearly all, are NFC already)."""
    if "".join(ids).isascii():  # one pass in C
        return ids
    joined = "\n".join(ids)  # NFC as a whole iff each id is: a newline never composes
    return ids if unicodedata.is_normalized("NFC", joined) else [normalise(i) for i in ids]


def _distinct_nfc(ids: Iterable[str]) -> list[str]:
    population = nfc(list(ids))
    increasing = all(map(operator.lt, population, itertools.islice(population, 1, None)))
    if not increasing and len(set(population)) != len(population):
        raise ValueError("ids must be distinct (after NFC normalisation)")
    return population


@collector.pausing
def sample(seed: str, ids: Iterable[str], k: int, run: Map = map) -> list[str]:
    """The k ids with the smallest tickets, in ticket order (duplicate ids are an error).
    `run` maps the hashing of a large population's chunks (the built-in map: here). With the
    cyclic collector paused (`ssj.collector`): two objects an id (its bytes, its hash state)
    set off a young pass every few hundred ids and older passes over the caller's heap, 3 % of
    the time of 700,000 ids beside a million live dicts (2026-12-07)."""
    if k < 0:
        raise ValueError("k must not be negative")
    population = _distinct_nfc(ids)
    return first(seed, population, k, run)


def first(seed: str, ids: Sequence[str], k: int, run: Map = map) -> list[str]:
    """`sample` for ids already known distinct and NFC (registry keys, as teams rank them):
    the same result, without re-checking the ids on every one of thousands of calls."""
    if k <= 0 or not ids:
        return []
    hexed = seed_hex(seed)
    keys = _keys(hexed, ids, run)
    return _in_ticket_order(hexed, _candidates(keys, ids, k))[:k]


def firsts(seeds: Sequence[str], pools: Sequence[Sequence[str]], k: int) -> list[list[str]]:
    """`first(seed, pool, k)` for many (seed, pool) pairs at once: every hash in one chain of
    C calls, each pool's keys sorted by numpy; a pool in which two ids share a key is ordered
    by `first` itself (full tickets), so the result is always the same."""
    if k <= 0:
        return [[] for _ in seeds]
    import numpy as np

    hexeds = map(str.encode, map(_hexdigest, map(_sha256, map(str.encode, seeds))))
    data: dict[int, list[bytes]] = {}  # pools are shared between many seeds
    for p in pools:
        if id(p) not in data:
            data[id(p)] = encoded(p)
    sizes = list(map(len, pools))
    heads = itertools.chain.from_iterable(map(itertools.repeat, map(_sha256, hexeds), sizes))
    items = itertools.chain.from_iterable(data[id(p)] for p in pools)
    keys = digest_keys(_hashes_after(heads, items, sum(sizes)))
    out: list[list[str]] = [[] for _ in seeds]
    starts = np.cumsum([0, *sizes])
    by_size: dict[int, list[int]] = {}
    for n, pool in enumerate(pools):
        by_size.setdefault(len(pool), []).append(n)
    for size, rows in by_size.items():
        if size == 0:
            continue
        block = keys[(starts[rows][:, None] + np.arange(size)).ravel()].reshape(-1, size)
        order = np.argsort(block, axis=1, kind="stable")
        ordered = np.take_along_axis(block, order, axis=1)
        tied = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1).tolist()
        top = order[:, :k].tolist()
        for r, n in enumerate(rows):
            pool = pools[n]
            out[n] = first(seeds[n], pool, k) if tied[r] else list(map(pool.__getitem__, top[r]))
    return out


def ranked(seed: str, ids: Iterable[str]) -> list[str]:
    """Every id in ticket order: the whole sampling order (used to rank inspectors)."""
    population = list(ids)
    return sample(seed, population, len(population))
