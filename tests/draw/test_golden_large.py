"""A draw on 24,000 targets gives the same commitment, samples, teams and export rankings as
before the hashing of tickets was changed (issue #13 item 2, fourth session).

The digests were computed by the draw code of main at 775ddf2, before this change, on the
registry below: four credit-class strata of thousands of ids each (so the samples take the
prefix-key path, with ties broken by full tickets where nine digits tie), teams ranked from a
pool of 55 inspectors (the size of the benchmark's), experts, and the export's rankings of every
member for every drawn target. Both the in-process path and the worker processes' (small chunks,
so every split runs) must give them.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date

import pytest

from ssj.domain.draws import commit_digest
from ssj.draw import population, procedure, sampler
from ssj.draw.registry_view import RegistryView, TargetRow, TaskRow
from ssj.draw.seed import expert_seed, team_seed
from ssj.services import workers
from tests.draw.test_golden import ENTROPY, LEAD, NONCE_COMMITMENT, digest, person, plan_view
from tests.draw.test_golden import registry as golden_registry

TARGETS = 24_000
SEED = hashlib.sha256(b"ssj golden 24k").hexdigest()
DAY = date(2025, 6, 30)
REGIONS = ("320402", "320404", "320411", "320412", "320481")
GOLDEN = {
    "commitment": "7a9cc5333cf3fac3f1984ea5c66f99ecb1f150f951c7eb6c96492aa93a0a0d62",
    "strata": "4637342015e57a3ab2ca732bebac6ff2875e7e9315aa74264b1f82e28b8f5b19",
    "outcome": "7322468b8e1a71955bc19e9f947acb937855321e64421b0efee74cf094566411",
    "rankings": "b992fd0b215b6eb4a059714f675801ba346c75b57b6cf024c13a48958a96f7dd",
}


def registry() -> RegistryView:
    rng = random.Random(24)
    targets = [
        TargetRow(
            f"9132{rng.randrange(10**12):012d}{n % 10}",
            LEAD,
            "active" if n % 53 else "abnormal",
            "enterprise",
            rng.choice(REGIONS),
            rng.choice("AABBBBBCCD"),
        )
        for n in range(TARGETS)
    ]
    tasks = [
        TaskRow(targets[n].identifier, "old-plan", (LEAD,), "2025-01-15", n % 3 == 0)
        for n in range(0, TARGETS, 101)
    ]
    inspectors = [person(f"L{i:02d}", LEAD) for i in range(55)]
    inspectors += [person(f"E{i:02d}", LEAD, pool="expert") for i in range(6)]
    items = {k: v for k, v in golden_registry().items.items() if k[0] == LEAD}  # I1
    return RegistryView(seq=77, targets=targets, tasks=tasks, inspectors=inspectors, items=items)


def outcome_of(run: sampler.Map) -> dict[str, str]:
    view = registry()
    plan = plan_view(team_size=3, experts=1)
    frozen = procedure.freeze(plan, 1, DAY, view, ENTROPY, NONCE_COMMITMENT, run)
    outcome = procedure.select(frozen.facts, frozen.strata, SEED, view, plan, run)
    drawn = list(outcome["teams"])
    staff = procedure.staffing(frozen.facts, SEED, view, plan)
    rows = procedure.target_rows(view, drawn)
    pools = [staff.candidates(rows[t]) for t in drawn]
    everyone = max(len(p) for pool in pools for p in pool)
    rankings = [  # what the export lists for every drawn target (services.draws.draw_export)
        sampler.firsts([team_seed(SEED, t) for t in drawn], [p[0] for p in pools], everyone),
        sampler.firsts([expert_seed(SEED, t) for t in drawn], [p[1] for p in pools], everyone),
    ]
    return {
        "commitment": commit_digest(frozen.facts.as_dict()),
        "strata": digest(frozen.strata),
        "outcome": digest(outcome),
        "rankings": digest(rankings),
    }


def test_a_draw_on_24000_targets_is_unchanged() -> None:
    assert outcome_of(map) == GOLDEN


@pytest.mark.slow
def test_a_draw_on_24000_targets_is_unchanged_across_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(population, "CHUNK", 1024)  # here; the workers keep the real sizes
    monkeypatch.setattr(sampler, "CHUNK", 1024)
    assert workers.count() == 0 or workers.ready(120)
    assert outcome_of(workers.run) == GOLDEN
