"""A population frozen before the seed exists: its ids, sorted, under an RFC 9162 Merkle root.

The root fixes exactly which ids could be drawn; anyone holding the id list can recompute it,
and a firm can be shown an inclusion proof that it was (or was not) in the pool.

A million-id root is about two million SHA-256 calls, so the hashing runs as chains of C calls
(one `map` per tree level, no Python frame per hash), and a large population splits into
aligned subtrees of `CHUNK` leaves whose roots combine into the same MTH: any map can run the
chunks, the built-in one or one that hands them to other processes.
"""

from __future__ import annotations

import hashlib
import itertools
import operator
from collections.abc import Iterable, Sequence

from ssj.draw import sampler
from ssj.draw.sampler import Map, encoded
from ssj.ledger import merkle

CHUNK = 1 << 15  # leaves per subtree handed to one map call: a power of two (RFC alignment)

_sha256 = hashlib.sha256
_digest = type(_sha256()).digest


def frozen(ids: Iterable[str]) -> list[str]:
    """The canonical order: NFC-normalised ids, sorted by code point, duplicates an error."""
    return frozen_all([ids])[0]


def frozen_all(lists: Sequence[Iterable[str]], run: Map = map) -> list[list[str]]:
    """`frozen` of each list. Large lists are sorted in halves by `run` (UTF-8 bytes sort in
    code-point order), then the two sorted halves are merged here in one pass."""
    canonical = [sampler.nfc(list(ids)) for ids in lists]
    jobs: list[tuple[int, bytes]] = []
    if run is not map:
        for n, ids in enumerate(canonical):
            halves = sampler.blobs(ids, -(-len(ids) // 2)) if len(ids) > CHUNK else None
            jobs += [(n, blob) for blob in halves or ()]
    jobs.sort(key=lambda job: -len(job[1]))  # the largest first: the caller takes the last
    parts: dict[int, list[bytes]] = {}
    for (n, _), blob in zip(jobs, run(sorted_chunk, [blob for _, blob in jobs]), strict=True):
        parts.setdefault(n, []).append(blob)
    for n, sorted_halves in parts.items():
        canonical[n] = b"\n".join(sorted_halves).decode("utf-8").split("\n")
    for ids in canonical:
        ids.sort()  # sorted runs (halves, or ids read in order) merge in a pass each
        if not _strictly_increasing(ids):
            duplicate = next(a for a, b in itertools.pairwise(ids) if a == b)
            raise ValueError(f"duplicate id in population: {duplicate}")
    return canonical


def sorted_chunk(blob: bytes) -> bytes:
    """A map call's unit: newline-separated UTF-8 ids, sorted (byte order is code-point order)."""
    return b"\n".join(sorted(blob.split(b"\n")))


def _strictly_increasing(ids: Sequence[str]) -> bool:
    return all(map(operator.lt, ids, itertools.islice(ids, 1, None)))


def leaf_hashes(data: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 leaf hashes, SHA-256(0x00 || entry), as one chain of C calls."""
    return list(map(_digest, map(_sha256, map(operator.add, itertools.repeat(b"\x00"), data))))


def tree_root(nodes: Sequence[bytes]) -> bytes:
    """MTH above already-hashed leaves (or aligned subtree roots of equal size, the last one
    possibly smaller): neighbours paired level by level, a lone last node promoted unchanged,
    which builds exactly the RFC tree (the same as `ssj.ledger.merkle.root`, faster)."""
    level = list(nodes)
    if not level:
        return merkle.EMPTY_ROOT
    ones = itertools.repeat(b"\x01")
    add = operator.add
    while len(level) > 1:
        left, right = level[0::2], level[1::2]
        paired = list(map(_digest, map(_sha256, map(add, map(add, ones, left), right))))
        if len(left) > len(right):
            paired.append(left[-1])
        level = paired
    return level[0]


def chunk_root(blob: bytes) -> bytes:
    """MTH of the newline-separated UTF-8 ids in `blob` (a map call's unit of work)."""
    return tree_root(leaf_hashes(blob.split(b"\n")))


def population_roots(strata: Sequence[Sequence[str]], run: Map = map) -> list[str]:
    """Hex MTH of each sorted id list, every list's chunks handed to `run` together."""
    pieces: list[tuple[int, bytes]] = []
    small: dict[int, str] = {}
    for n, ids in enumerate(strata):
        runs = sampler.blobs(ids, CHUNK) if len(ids) > CHUNK // 4 else None
        if runs is None:
            small[n] = population_root(ids)
        else:
            pieces += [(n, blob) for blob in runs]
    roots: list[list[bytes]] = [[] for _ in strata]
    for (n, _), root in zip(pieces, run(chunk_root, [blob for _, blob in pieces]), strict=True):
        roots[n].append(root)
    return [small[n] if n in small else tree_root(roots[n]).hex() for n in range(len(strata))]


def population_root(sorted_ids: Sequence[str]) -> str:
    """Hex MTH over the ids (UTF-8) in the canonical order; the caller sorts (see `frozen`)."""
    return tree_root(leaf_hashes(encoded(sorted_ids))).hex()
