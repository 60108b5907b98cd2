"""ssj's sampler against Rivest's reference package, and the properties auditors rely on.

Any difference from `consistent_sampler` would mean a draw that the public reference cannot
reproduce, so equality is tested on random seeds and populations, and the fast path (ordering by
the ticket's first nine digits, full tickets only for ties in them, hashing in chunks) is pushed
into its corners on purpose.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from functools import cache

import consistent_sampler as reference
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssj.draw import sampler
from ssj.draw.population import frozen
from ssj.draw.sampler import normalise, ranked, sample, ticket
from tests.conftest import examples

TIE_SEED = "tie-seed"


def ref_sample(seed: str, ids: list[str], k: int) -> list[str]:
    return list(reference.sampler(ids, seed, with_replacement=False, take=k, output="id"))


def prefix(seed: str, id: str) -> str:
    """The ticket's first nine digits: the key of sampler's fast path."""
    return ticket(seed, id)[2 : 2 + sampler.PREFIX_DIGITS]


ids_text = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs", "M")), max_size=12
).map(normalise)
seeds = st.text(max_size=30)


@st.composite
def populations(draw: st.DrawFn) -> list[str]:
    """Distinct NFC ids: a few arbitrary texts (Chinese, marks, symbols) plus up to 2000
    registry-like ids, so both odd strings and large populations are covered."""
    odd = draw(st.lists(ids_text, max_size=20, unique=True))
    n = draw(st.integers(0, 2000))
    stem = draw(st.sampled_from(["", "9131", "企业-", "é/", "Ω"]))
    bulk = [f"{stem}{i}" for i in range(n)]
    return list(dict.fromkeys(odd + bulk))


@settings(max_examples=examples(60), deadline=None)
@given(seeds, populations(), st.data())
def test_sample_equals_reference(seed: str, ids: list[str], data: st.DataObject) -> None:
    k = data.draw(st.integers(0, len(ids) + 3), label="k")
    assert sample(seed, ids, k) == ref_sample(seed, ids, k)


@settings(max_examples=examples(30), deadline=None)
@given(seeds, st.lists(ids_text, max_size=60, unique=True))
def test_ranked_equals_reference_full_order(seed: str, ids: list[str]) -> None:
    assert ranked(seed, ids) == ref_sample(seed, ids, len(ids))


@given(seeds, ids_text)
def test_ticket_equals_reference_first_ticket(seed: str, id: str) -> None:
    assert ticket(seed, id) == reference.first_ticket(id, seed).ticket_number


@settings(max_examples=examples(40), deadline=None)
@given(seeds, populations(), st.randoms(use_true_random=False), st.data())
def test_order_of_population_does_not_matter(
    seed: str, ids: list[str], rnd, data: st.DataObject
) -> None:
    k = data.draw(st.integers(0, len(ids) + 1), label="k")
    shuffled = list(ids)
    rnd.shuffle(shuffled)
    assert sample(seed, shuffled, k) == sample(seed, ids, k)


@settings(max_examples=examples(40), deadline=None)
@given(seeds, populations(), st.randoms(use_true_random=False), st.data())
def test_sample_of_subset_is_subset_of_full_ranking(
    seed: str, ids: list[str], rnd, data: st.DataObject
) -> None:
    subset = set(rnd.sample(ids, rnd.randint(0, len(ids))))
    in_order = [i for i in ranked(seed, ids) if i in subset]
    k = data.draw(st.integers(0, len(subset) + 1), label="k")
    assert sample(seed, subset, k) == in_order[:k]


def test_composed_and_decomposed_are_one_id() -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    assert composed != decomposed and normalise(decomposed) == composed
    assert ticket("s", decomposed) == ticket("s", composed)
    assert sample("s", [decomposed, "x"], 2) == sample("s", [composed, "x"], 2)
    assert composed in sample("s", [decomposed], 1)
    with pytest.raises(ValueError, match="distinct"):
        sample("s", [composed, decomposed], 1)
    with pytest.raises(ValueError, match="duplicate"):
        frozen([composed, decomposed])


def test_duplicates_and_negative_k_are_errors() -> None:
    with pytest.raises(ValueError, match="distinct"):
        sample("s", ["a", "b", "a"], 0)
    with pytest.raises(ValueError, match="negative"):
        sample("s", ["a"], -1)
    assert sample("s", [], 5) == []
    assert sample("s", ["a", "b"], 0) == []
    assert sample("s", iter(["a", "b"]), 5) == ref_sample("s", ["a", "b"], 5)


@cache
def tie_groups() -> list[list[str]]:
    """Ids sharing a 9-digit ticket prefix under TIE_SEED, found by brute force among 400,000
    (about 80 pairs; 0.3 s with the vectorised keys, checked against full tickets below)."""
    ids = [f"T{i}" for i in range(400_000)]
    hexed = sampler.seed_hex(TIE_SEED).encode()
    keys = sampler.prefix_keys(hexed, [i.encode() for i in ids]).tolist()
    groups: dict[int, list[str]] = defaultdict(list)
    for key, id in zip(keys, ids, strict=True):
        groups[key].append(id)
    found = [g for g in groups.values() if len(g) >= 2]
    assert all(len({prefix(TIE_SEED, i) for i in g}) == 1 for g in found)
    return found


def test_prefix_ties_are_broken_by_the_full_ticket() -> None:
    groups = tie_groups()
    assert len(groups) > 40
    population = [i for g in groups for i in g]
    # the fast path must order within a group by the full ticket, which differs from id order
    assert any(ranked(TIE_SEED, g) != sorted(g) for g in groups)
    full = ref_sample(TIE_SEED, population, len(population))
    assert ranked(TIE_SEED, population) == full
    # every cut that falls inside a group of equal prefixes
    cuts = [
        k for k in range(1, len(full)) if prefix(TIE_SEED, full[k - 1]) == prefix(TIE_SEED, full[k])
    ]
    assert len(cuts) > 40
    for k in cuts:
        assert sample(TIE_SEED, population, k) == full[:k]


def test_tie_group_among_many_other_ids() -> None:
    group = max(tie_groups(), key=len)
    key = prefix(TIE_SEED, group[0])
    others = [f"O{i}" for i in range(3000)]
    below = sum(prefix(TIE_SEED, o) < key for o in others)
    population = others + group
    for k in range(below - 1, below + len(group) + 2):
        assert sample(TIE_SEED, population, k) == ref_sample(TIE_SEED, population, k)


def test_prefix_keys_are_the_tickets_first_nine_digits() -> None:
    ids = [f"K{i}" for i in range(2000)] + ["企业é", ""]
    hexed = sampler.seed_hex(TIE_SEED).encode()
    keys = sampler.prefix_keys(hexed, [i.encode() for i in ids]).tolist()
    assert keys == [int(prefix(TIE_SEED, i)) for i in ids]


def test_candidates_are_every_id_up_to_the_kth_key() -> None:
    ids = [f"C{i}" for i in range(500)] + [i for g in tie_groups()[:50] for i in g]
    keys = sampler.prefix_keys(sampler.seed_hex(TIE_SEED).encode(), [i.encode() for i in ids])
    for k in (1, 7, 100, 499, len(ids) - 1, len(ids)):
        exact = [i for _, i in sampler._candidates(keys, ids, k)]
        full = ref_sample(TIE_SEED, ids, k)
        assert set(full) <= set(exact)
        cut = max(prefix(TIE_SEED, i) for i in full)
        assert sorted(exact) == sorted(i for i in ids if prefix(TIE_SEED, i) <= cut)


def in_turn(fn, items):  # a map that is not the built-in one: takes the chunked path
    return [fn(item) for item in items]


def test_chunked_hashing_gives_the_same_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sampler, "CHUNK", 64)
    ids = [f"9132{i:06d}" for i in range(1000)] + [i for g in tie_groups()[:20] for i in g]
    for k in (0, 1, 37, 500, len(ids)):
        expected = ref_sample(TIE_SEED, ids, k)
        assert sample(TIE_SEED, ids, k, run=in_turn) == expected
    with_newline = [*ids[:100], "a\nb"]
    assert sample(TIE_SEED, with_newline, 9, run=in_turn) == ref_sample(TIE_SEED, with_newline, 9)


def test_a_sample_is_drawn_with_the_collector_paused(
    collector_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hashing of a sample runs with the cyclic collector off (`ssj.collector`), which is on
    again afterwards, as before; the sample is the reference's."""
    monkeypatch.setattr(sampler, "CHUNK", 64)
    seen: list[bool] = []

    def watching(fn, items):  # a map, as in_turn, that notes the collector
        seen.append(gc.isenabled())
        return in_turn(fn, items)

    ids = [f"9132{i:06d}" for i in range(500)]
    assert sample(TIE_SEED, ids, 25, run=watching) == ref_sample(TIE_SEED, ids, 25)
    assert seen == [False]
    assert gc.isenabled()


def test_firsts_equals_first_pool_by_pool() -> None:
    groups = tie_groups()
    pools = [[f"L{i}" for i in range(55)], groups[0] + groups[1], [], ["x"], groups[2]]
    pools += [[f"P{i}-{j}" for j in range(n % 9 + 1)] for i, n in enumerate(range(60))]
    seeds = [TIE_SEED, TIE_SEED, "a", "b", TIE_SEED, *(f"s{i}" for i in range(60))]
    for k in (0, 1, 2, 5, 60):
        expected = [sampler.first(s, p, k) for s, p in zip(seeds, pools, strict=True)]
        assert sampler.firsts(seeds, pools, k) == expected
    assert sampler.firsts([TIE_SEED], [groups[0]], 9) == [ranked(TIE_SEED, groups[0])[:9]]


@pytest.mark.parametrize("n", [1, 2, 3, 17, 400])
def test_k_at_and_around_n(n: int) -> None:
    ids = [f"企业{i}" for i in range(n)]
    for k in {0, 1, n - 2, n - 1, n, n + 1, 10 * n}:
        if k >= 0:
            assert sample("边界", ids, k) == ref_sample("边界", ids, k)


@given(seed=st.text(max_size=20), n=st.integers(0, 300), k=st.integers(0, 320))
def test_first_equals_sample_for_distinct_nfc_ids(seed: str, n: int, k: int) -> None:
    ids = [f"3204{i:07d}" for i in range(n)]
    assert sampler.first(seed, ids, k) == sample(seed, ids, k)
