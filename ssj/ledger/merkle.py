"""RFC 9162 §2.1 Merkle tree hashing, proofs and verification; pure functions, no I/O.

`TreeHash` holds the construction for one hash function: `SHA256` is the RFC's, and the module's
plain functions are its methods; the sm2-sm3 suite builds the same tree with SM3.

Proof builders speak in leaf ranges [lo, hi) so that the in-memory functions here and a database
holding only complete aligned subtrees share one algorithm and produce byte-identical proofs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32


def _split(n: int) -> int:
    """Largest power of two strictly less than n (n >= 2): where RFC 9162 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_nodes(lo: int, hi: int) -> list[tuple[int, int]]:
    """Complete aligned subtrees (level, index) covering [lo, hi), left to right, largest first.

    Only ranges that RFC recursion produces are accepted (lo aligned to the largest piece); for
    others the stored nodes would not add up to the range's MTH.
    """
    if lo < 0 or hi < lo:
        raise ValueError(f"invalid leaf range [{lo}, {hi})")
    nodes: list[tuple[int, int]] = []
    size = hi - lo
    if size == 0:
        return nodes
    top = size.bit_length() - 1
    if lo % (1 << top):
        raise ValueError(f"leaf range [{lo}, {hi}) is not aligned to a subtree of 2^{top} leaves")
    start = lo
    for level in range(top, -1, -1):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def _check_hashes(leaf_hashes: Sequence[bytes], size: int) -> None:
    if size > len(leaf_hashes):
        raise ValueError(f"tree size {size} exceeds the {len(leaf_hashes)} leaf hashes given")


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form PATH(index, D[size]) (RFC 9162 §2.1.3.1), leaf end first."""
    if size < 1:
        raise ValueError(f"inclusion proof needs a non-empty tree, got size {size}")
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} out of range for tree size {size}")
    out: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
    out.reverse()
    return out


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form PROOF(old_size, D[new_size]) (RFC 9162 §2.1.4.1)."""
    if old_size < 0 or new_size < old_size:
        raise ValueError(f"invalid consistency sizes: old {old_size}, new {new_size}")
    out: list[tuple[int, int]] = []
    if old_size in (0, new_size):
        return out
    lo, hi, m, whole = 0, new_size, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        out.append((lo, hi))
    out.reverse()
    return out


def _is_hash(h: object) -> bool:
    return isinstance(h, bytes) and len(h) == HASH_SIZE


def _is_size(n: object) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n >= 0


class TreeHash:
    """RFC 9162 §2.1 with a given 32-byte hash function: SHA-256 (the RFC), or SM3 for the
    sm2-sm3 suite (the same construction with SM3 in place of SHA-256: 0x00 leaf and 0x01 node
    prefixes, the same splits, proofs and verification)."""

    def __init__(self, name: str, digest: Callable[[bytes], bytes]) -> None:
        self.name = name
        self.digest = digest
        self.empty_root = digest(b"")

    def leaf_hash(self, data: bytes) -> bytes:
        """MTH of one entry: the 0x00 prefix keeps leaves and inner nodes apart (second preimages)."""
        return self.digest(b"\x00" + data)

    def node_hash(self, left: bytes, right: bytes) -> bytes:
        """Hash of an inner node, domain-separated from leaves by the 0x01 prefix."""
        return self.digest(b"\x01" + left + right)

    def root(self, leaf_hashes: Sequence[bytes]) -> bytes:
        """MTH over already-hashed leaves, level by level so a million leaves need no recursion.

        Pairing neighbours and promoting a lone last node unchanged builds exactly the RFC tree.
        """
        level = list(leaf_hashes)
        if not level:
            return self.empty_root
        digest = self.digest
        while len(level) > 1:
            pairs = iter(level)  # zip(it, it) walks neighbours two by two
            paired = [
                digest(b"\x01" + left + right) for left, right in zip(pairs, pairs, strict=False)
            ]
            if len(level) % 2:
                paired.append(level[-1])
            level = paired
        return level[0]

    def fold(self, node_hashes: Sequence[bytes]) -> bytes:
        """Combine the subtree hashes of subtree_nodes() right to left into the range's MTH."""
        if not node_hashes:
            return self.empty_root
        h = node_hashes[-1]
        for x in reversed(node_hashes[:-1]):
            h = self.node_hash(x, h)
        return h

    def inclusion_proof(self, index: int, size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
        """Audit path for leaf `index` in the tree of the first `size` leaf hashes."""
        _check_hashes(leaf_hashes, size)
        return [self.root(leaf_hashes[lo:hi]) for lo, hi in inclusion_ranges(index, size)]

    def consistency_proof(
        self, old_size: int, new_size: int, leaf_hashes: Sequence[bytes]
    ) -> list[bytes]:
        """Proof that the first `old_size` leaves are a prefix of the first `new_size` leaves."""
        _check_hashes(leaf_hashes, new_size)
        return [self.root(leaf_hashes[lo:hi]) for lo, hi in consistency_ranges(old_size, new_size)]

    def verify_inclusion(
        self, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
    ) -> bool:
        """RFC 9162 §2.1.3.2; False on any malformed input, because a verifier must never crash."""
        if not (_is_size(index) and _is_size(size) and index < size):
            return False
        if not (_is_hash(leaf_hash) and _is_hash(root) and all(_is_hash(p) for p in proof)):
            return False
        node_hash = self.node_hash
        fn, sn, r = index, size - 1, leaf_hash
        for p in proof:
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                r = node_hash(p, r)
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
            else:
                r = node_hash(r, p)
            fn >>= 1
            sn >>= 1
        return sn == 0 and r == root

    def verify_consistency(
        self, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
    ) -> bool:
        """RFC 9162 §2.1.4.2, plus the trivial cases the RFC leaves out.

        Equal sizes need equal roots and an empty proof; an empty old tree needs the empty root
        and an empty proof. False on any malformed input.
        """
        if not (_is_size(old_size) and _is_size(new_size) and old_size <= new_size):
            return False
        if not (_is_hash(old_root) and _is_hash(new_root) and all(_is_hash(p) for p in proof)):
            return False
        if old_size == 0:
            return (
                not proof
                and old_root == self.empty_root
                and (new_size > 0 or new_root == self.empty_root)
            )
        if old_size == new_size:
            return not proof and old_root == new_root
        if not proof:
            return False
        node_hash = self.node_hash
        path = list(proof)
        if old_size & (old_size - 1) == 0:
            path.insert(0, old_root)
        fn, sn = old_size - 1, new_size - 1
        while fn & 1:
            fn >>= 1
            sn >>= 1
        fr = sr = path[0]
        for c in path[1:]:
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                fr = node_hash(c, fr)
                sr = node_hash(c, sr)
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
            else:
                sr = node_hash(sr, c)
            fn >>= 1
            sn >>= 1
        return sn == 0 and fr == old_root and sr == new_root

    def compact(self, size: int = 0, frontier: Sequence[bytes] = ()) -> CompactRange:
        return CompactRange(size, frontier, self)

    def __repr__(self) -> str:
        return f"TreeHash({self.name})"


def _sha256_digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


SHA256 = TreeHash("sha256", _sha256_digest)
EMPTY_ROOT = SHA256.empty_root

# The RFC's own hashing (SHA-256), as plain functions.
leaf_hash = SHA256.leaf_hash
node_hash = SHA256.node_hash
root = SHA256.root
fold = SHA256.fold
inclusion_proof = SHA256.inclusion_proof
consistency_proof = SHA256.consistency_proof
verify_inclusion = SHA256.verify_inclusion
verify_consistency = SHA256.verify_consistency


class CompactRange:
    """Right edge of the tree: the hashes of subtree_nodes(0, size), enough to append and root.

    Appending is amortised O(1) hashing with no recursion, so it can run on every write and
    stream-verify millions of leaves.
    """

    __slots__ = ("_hashes", "_size", "tree")

    def __init__(
        self, size: int = 0, frontier: Sequence[bytes] = (), tree: TreeHash | None = None
    ) -> None:
        self.tree = SHA256 if tree is None else tree
        if not _is_size(size):
            raise ValueError(f"invalid tree size {size!r}")
        if len(frontier) != size.bit_count():
            raise ValueError(
                f"tree size {size} needs {size.bit_count()} frontier hashes, got {len(frontier)}"
            )
        if not all(_is_hash(h) for h in frontier):
            raise ValueError(f"frontier hashes must be {HASH_SIZE} bytes each")
        self._size = size
        self._hashes = list(frontier)

    @property
    def size(self) -> int:
        return self._size

    @property
    def frontier(self) -> list[bytes]:
        """Hashes of subtree_nodes(0, size), left to right (a copy, safe to store)."""
        return list(self._hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf; return every node it completes as (level, index, hash), leaf first."""
        if not _is_hash(leaf_hash):
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
        hashes = self._hashes
        index = self._size
        h = leaf_hash
        level = 0
        done = [(0, index, h)]
        node = self.tree.node_hash
        while index & 1:
            h = node(hashes.pop(), h)
            index >>= 1
            level += 1
            done.append((level, index, h))
        hashes.append(h)
        self._size += 1
        return done

    def root(self) -> bytes:
        return self.tree.fold(self._hashes)

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()}, {self.tree.name})"
