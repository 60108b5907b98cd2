"""A million ids give the same sample and the same population root as they always did.

The golden values were computed by the sampler and Merkle code as they stood before the speed
work of issue #13's third session, and the sample was checked once against the reference
`consistent-sampler` (equal). The ids come in a scrambled order (7919 is invertible modulo the
prime 1,000,003, so they are distinct), which exercises the distinctness check, the prefix keys
of a large population and the sort before the root; the chunked paths (workers) are pinned
against these same functions by tests/draw/test_parallel.py.
"""

from __future__ import annotations

import hashlib

import pytest

from ssj.draw import population, sampler

# A million ids are the point (large-population paths), and cost seconds: `make test` runs
# these, `make test-fast` leaves them out.
pytestmark = pytest.mark.slow

SEED = hashlib.sha256(b"ssj golden 1M").hexdigest()
K = 30_000
SAMPLE = "65490a1a0b439089f810cde9282a6f1b203c2280e0f8a498ee3af498d4248894"
ROOT = "858484bea1b0293ec76a4aca759a62d9c778b313f9d20f15ff8266259d72f2d5"


def million() -> list[str]:
    return [f"9132{(i * 7919) % 1_000_003:012d}X" for i in range(1_000_000)]


def test_a_million_ids_give_the_same_sample() -> None:
    chosen = sampler.sample(SEED, million(), K)
    assert len(chosen) == K
    assert hashlib.sha256("\n".join(chosen).encode()).hexdigest() == SAMPLE


def test_a_million_ids_give_the_same_population_root() -> None:
    assert population.population_root(population.frozen(million())) == ROOT
