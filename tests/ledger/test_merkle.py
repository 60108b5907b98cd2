"""RFC 9162 Merkle tree: known answers, proof soundness, and storage helpers equal to pure code."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssj.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    consistency_ranges,
    fold,
    inclusion_proof,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    root,
    subtree_nodes,
    verify_consistency,
    verify_inclusion,
)
from tests.conftest import examples

# Known answers from transparency-dev/merkle (testonly/constants.go, proof/verify_test.go),
# the Certificate Transparency reference data for RFC 6962 / RFC 9162 SHA-256 trees.
LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [
    bytes.fromhex(h)
    for h in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]
NODE_HASHES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]
NH = {(lv, i): bytes.fromhex(h) for lv, row in enumerate(NODE_HASHES) for i, h in enumerate(row)}
# (index, size, proof); transparency-dev numbers leaves from 1, these are 0-based.
INCLUSION_VECTORS = [
    (0, 1, []),
    (0, 8, [NH[0, 1], NH[1, 1], NH[2, 1]]),
    (5, 8, [NH[0, 4], NH[1, 3], NH[2, 0]]),
    (2, 3, [NH[1, 0]]),
    (1, 5, [NH[0, 0], NH[1, 1], NH[0, 4]]),
]
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (1, 8, [NH[0, 1], NH[1, 1], NH[2, 1]]),
    (6, 8, [NH[1, 2], NH[1, 3], NH[2, 0]]),
    (2, 5, [NH[1, 1], NH[0, 4]]),
    (6, 7, [NH[1, 2], NH[0, 6], NH[2, 0]]),
]
LEAVES = [leaf_hash(x) for x in LEAF_INPUTS]

# A longer tree for property tests: distinct leaves, roots of every prefix precomputed.
N = 320
BIG = [leaf_hash(i.to_bytes(4, "big")) for i in range(N)]
BIG_ROOTS = [root(BIG[:n]) for n in range(N + 1)]


def flip(b: bytes, bit: int) -> bytes:
    out = bytearray(b)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_hash_primitives() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    # Golden value of Go's golang.org/x/mod/sumdb/tlog RecordHash("hello world").
    assert base64.b64encode(leaf_hash(b"hello world")) == (
        b"TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0="
    )


def test_known_roots() -> None:
    for n, want in enumerate(ROOTS):
        assert root(LEAVES[:n]) == want


def test_known_node_hashes_via_compact_range() -> None:
    cr = CompactRange()
    nodes = {}
    for lh in LEAVES:
        for level, index, h in cr.append(lh):
            nodes[level, index] = h
        assert cr.root() == ROOTS[cr.size]
    assert nodes == NH


def test_known_frontiers() -> None:
    # transparency-dev testonly CompactTrees(): the frontier of every size 0..8.
    cr = CompactRange()
    for n in range(9):
        assert cr.frontier == [NH[x] for x in subtree_nodes(0, n)]
        if n < 8:
            cr.append(LEAVES[n])


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_known_inclusion_proofs(index: int, size: int, proof: list[bytes]) -> None:
    assert inclusion_proof(index, size, LEAVES) == proof
    assert verify_inclusion(LEAVES[index], index, size, proof, ROOTS[size])
    for i, p in enumerate(proof):
        for bit in range(256):
            bad = [*proof[:i], flip(p, bit), *proof[i + 1 :]]
            assert not verify_inclusion(LEAVES[index], index, size, bad, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_known_consistency_proofs(old: int, new: int, proof: list[bytes]) -> None:
    assert consistency_proof(old, new, LEAVES) == proof
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)
    for i, p in enumerate(proof):
        for bit in range(256):
            bad = [*proof[:i], flip(p, bit), *proof[i + 1 :]]
            assert not verify_consistency(old, new, ROOTS[old], ROOTS[new], bad)


def test_rfc_example_tree_of_seven() -> None:
    # RFC 6962 §2.1.3 / RFC 9162 §2.1.5: the seven-leaf example, nodes named by leaf ranges.
    a, b, c, d, e, f = ((i, i + 1) for i in range(6))
    g, h, i_, j, k, l_ = (0, 2), (2, 4), (4, 6), (6, 7), (0, 4), (4, 7)
    assert inclusion_ranges(0, 7) == [b, h, l_]
    assert inclusion_ranges(3, 7) == [c, g, l_]
    assert inclusion_ranges(4, 7) == [f, j, k]
    assert inclusion_ranges(6, 7) == [i_, k]
    assert consistency_ranges(3, 7) == [c, d, g, l_]
    assert consistency_ranges(4, 7) == [l_]
    assert consistency_ranges(6, 7) == [i_, j, k]
    assert (a, e) == ((0, 1), (4, 5))


def test_trivial_consistency() -> None:
    assert consistency_proof(0, 5, BIG) == []
    assert consistency_proof(5, 5, BIG) == []
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, BIG_ROOTS[5], [])
    assert verify_consistency(5, 5, BIG_ROOTS[5], BIG_ROOTS[5], [])
    assert not verify_consistency(5, 5, BIG_ROOTS[5], BIG_ROOTS[4], [])
    assert not verify_consistency(5, 5, BIG_ROOTS[5], BIG_ROOTS[5], [BIG_ROOTS[5]])
    assert not verify_consistency(0, 5, BIG_ROOTS[1], BIG_ROOTS[5], [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, BIG_ROOTS[1], [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, BIG_ROOTS[5], [EMPTY_ROOT])
    assert not verify_consistency(1, 2, BIG_ROOTS[1], BIG_ROOTS[2], [])


@pytest.mark.parametrize(
    "args",
    [
        (b"", 0, 1, [], b""),
        (LEAVES[0], 0, 0, [], EMPTY_ROOT),
        (LEAVES[0], 1, 1, [], LEAVES[0]),
        (LEAVES[0], -1, 1, [], LEAVES[0]),
        (LEAVES[0], 0, 1, [], LEAVES[0][:31]),
        (LEAVES[0][:31], 0, 1, [], LEAVES[0]),
        (LEAVES[0], 0, 2, [b"short"], ROOTS[2]),
        (LEAVES[0], 0, 2, ["not bytes"], ROOTS[2]),
        (LEAVES[0], True, 2, [LEAVES[1]], ROOTS[2]),
        (LEAVES[0], 0, 2, [LEAVES[1], LEAVES[1]], ROOTS[2]),
        (LEAVES[0], 0, 2, [], ROOTS[2]),
    ],
)
def test_verify_inclusion_malformed_is_false(args: tuple) -> None:
    assert verify_inclusion(*args) is False


@pytest.mark.parametrize(
    "args",
    [
        (2, 1, ROOTS[2], ROOTS[1], []),
        (-1, 1, EMPTY_ROOT, ROOTS[1], []),
        (1, 2, ROOTS[1], ROOTS[2][:31], [LEAVES[1]]),
        (1, 2, ROOTS[1], ROOTS[2], [b"x"]),
        (1, 2, ROOTS[1], ROOTS[2], [LEAVES[1], LEAVES[1]]),
        (1, 2, ROOTS[1], ROOTS[2], [None]),
        ("1", 2, ROOTS[1], ROOTS[2], [LEAVES[1]]),
    ],
)
def test_verify_consistency_malformed_is_false(args: tuple) -> None:
    assert verify_consistency(*args) is False


def test_builders_validate_arguments() -> None:
    with pytest.raises(ValueError, match="out of range"):
        inclusion_proof(3, 3, LEAVES)
    with pytest.raises(ValueError, match="out of range"):
        inclusion_proof(-1, 3, LEAVES)
    with pytest.raises(ValueError, match="non-empty"):
        inclusion_proof(0, 0, LEAVES)
    with pytest.raises(ValueError, match="exceeds"):
        inclusion_proof(0, 9, LEAVES)
    with pytest.raises(ValueError, match="invalid consistency"):
        consistency_proof(5, 4, LEAVES)
    with pytest.raises(ValueError, match="invalid consistency"):
        consistency_proof(-1, 4, LEAVES)
    with pytest.raises(ValueError, match="exceeds"):
        consistency_proof(1, 9, LEAVES)
    with pytest.raises(ValueError, match="not aligned"):
        subtree_nodes(1, 3)
    with pytest.raises(ValueError, match="invalid leaf range"):
        subtree_nodes(3, 1)


def test_subtree_nodes_and_fold() -> None:
    assert subtree_nodes(0, 0) == []
    assert subtree_nodes(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert subtree_nodes(8, 13) == [(2, 2), (0, 12)]
    assert subtree_nodes(5, 6) == [(0, 5)]
    assert fold([]) == EMPTY_ROOT
    assert fold([NH[x] for x in subtree_nodes(0, 7)]) == ROOTS[7]


def test_compact_range_validates() -> None:
    with pytest.raises(ValueError):
        CompactRange(3, [EMPTY_ROOT])
    with pytest.raises(ValueError):
        CompactRange(1, [b"short"])
    with pytest.raises(ValueError):
        CompactRange(-1, [])
    with pytest.raises(ValueError):
        CompactRange().append(b"short")
    assert CompactRange().root() == EMPTY_ROOT


def _node_map(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    cr = CompactRange()
    nodes: dict[tuple[int, int], bytes] = {}
    for lh in leaves:
        for level, index, h in cr.append(lh):
            assert (level, index) not in nodes
            nodes[level, index] = h
    return nodes


NODES = _node_map(BIG)


def test_compact_range_emits_exactly_the_complete_subtrees() -> None:
    assert len(NODES) == 2 * N - N.bit_count()
    for (level, index), h in NODES.items():
        lo, hi = index << level, (index + 1) << level
        assert hi <= N
        assert h == root(BIG[lo:hi])


def test_compact_range_resumes_from_stored_frontier() -> None:
    for size in [0, 1, 5, 64, 100, 255]:
        frontier = [NODES[x] for x in subtree_nodes(0, size)]
        cr = CompactRange(size, frontier)
        assert cr.root() == BIG_ROOTS[size]
        for n in range(size, size + 40):
            cr.append(BIG[n])
            assert cr.size == n + 1
            assert cr.root() == BIG_ROOTS[n + 1]


def test_compact_range_long_stream() -> None:
    leaves = [leaf_hash(i.to_bytes(8, "big")) for i in range(20_000)]
    cr = CompactRange()
    for lh in leaves:
        cr.append(lh)
    assert cr.root() == root(leaves)
    assert repr(cr).startswith("CompactRange(size=20000")


def _stored(ranges: list[tuple[int, int]]) -> list[bytes]:
    return [fold([NODES[x] for x in subtree_nodes(lo, hi)]) for lo, hi in ranges]


@settings(max_examples=examples(200), deadline=None)
@given(st.data())
def test_inclusion_property(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, N - 1), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(index, size, BIG)
    good = BIG_ROOTS[size]
    assert _stored(inclusion_ranges(index, size)) == proof
    assert verify_inclusion(BIG[index], index, size, proof, good)
    bits = st.integers(0, 255)
    for i, p in enumerate(proof):
        bad = [*proof[:i], flip(p, data.draw(bits)), *proof[i + 1 :]]
        assert not verify_inclusion(BIG[index], index, size, bad, good)
    assert not verify_inclusion(flip(BIG[index], data.draw(bits)), index, size, proof, good)
    assert not verify_inclusion(BIG[index], index, size, proof, flip(good, data.draw(bits)))
    assert not verify_inclusion(BIG[index], index, size, [*proof, good], good)
    if proof:
        assert not verify_inclusion(BIG[index], index, size, proof[:-1], good)
    other = data.draw(
        st.integers(0, size - 1).filter(lambda x: x != index) if size > 1 else st.none()
    )
    if other is not None:
        assert not verify_inclusion(BIG[index], other, size, proof, good)
        assert not verify_inclusion(BIG[other], other, size, proof, good)
    # With its own true root, another size must not accept this size's proof either.
    # (Against the same root it may: a root only means something next to its size, and the
    # signed checkpoint binds the two.)
    wrong = data.draw(st.integers(index + 1, N).filter(lambda s: s != size))
    assert not verify_inclusion(BIG[index], index, wrong, proof, BIG_ROOTS[wrong])


@settings(max_examples=examples(200), deadline=None)
@given(st.data())
def test_consistency_property(data: st.DataObject) -> None:
    new = data.draw(st.integers(0, N - 1), label="new")
    old = data.draw(st.integers(0, new), label="old")
    proof = consistency_proof(old, new, BIG)
    r1, r2 = BIG_ROOTS[old], BIG_ROOTS[new]
    assert _stored(consistency_ranges(old, new)) == proof
    assert verify_consistency(old, new, r1, r2, proof)
    bits = st.integers(0, 255)
    for i, p in enumerate(proof):
        bad = [*proof[:i], flip(p, data.draw(bits)), *proof[i + 1 :]]
        assert not verify_consistency(old, new, r1, r2, bad)
    assert not verify_consistency(old, new, flip(r1, data.draw(bits)), r2, proof)
    if old > 0:  # anything is consistent with the empty tree
        assert not verify_consistency(old, new, r1, flip(r2, data.draw(bits)), proof)
    if proof:
        assert not verify_consistency(old, new, r1, r2, proof[:-1])
        assert not verify_consistency(old, new, r1, r2, [*proof, r2])
        assert not verify_consistency(old, new, r2, r1, proof)
        o2 = data.draw(st.integers(0, N - 1), label="old2")
        n2 = data.draw(st.integers(o2, N - 1), label="new2")
        if (o2, n2) != (old, new):
            assert not verify_consistency(o2, n2, BIG_ROOTS[o2], BIG_ROOTS[n2], proof)


@settings(max_examples=examples(100), deadline=None)
@given(st.integers(0, N), st.data())
def test_stored_roots_and_ranges_cover(size: int, data: st.DataObject) -> None:
    assert fold([NODES[x] for x in subtree_nodes(0, size)]) == BIG_ROOTS[size]
    assert CompactRange(size, [NODES[x] for x in subtree_nodes(0, size)]).root() == BIG_ROOTS[size]
    if size:
        index = data.draw(st.integers(0, size - 1))
        spans = sorted([*inclusion_ranges(index, size), (index, index + 1)])
        assert [lo for lo, _ in spans[1:]] == [hi for _, hi in spans[:-1]]
        assert spans[0][0] == 0 and spans[-1][1] == size
