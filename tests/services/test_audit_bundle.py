"""Bundles of a small `ssj demo` world, checked offline: every draw is re-run from the bundle's
own events; a range bundle says which draws it cannot re-run; a draw's reveal altered in the
bundle (and re-signed with a foreign key) fails."""

from __future__ import annotations

import base64
import gc
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from projections.registry_view import SQLITE_GROUPS, index_target_groups
from projections.versioned import at_seq_clause
from ssj.config import Settings
from ssj.demo import draws
from ssj.demo.jurisdiction import build
from ssj.domain.draws import Draw
from ssj.ledger import note
from ssj.ledger.bundle import FORMAT_V1, FORMAT_V2
from ssj.ledger.keys import LedgerSigner
from ssj.services import audit_bundle as audit_bundle_module
from ssj.services.audit_bundle import (
    DRAW_PREFIX,
    REPLAY_BATCH,
    OfflineAudit,
    _Replayer,
    audit_bundle,
    export_bundle,
    judge,
    replay_draws,
)
from ssj.services.context import Services
from ssj.services.draws import DrawService
from tests.ledger.test_bundle import records, rewrite

SMALL = 300
SEED = 3
REVEALED = Draw.Revealed.__qualname__  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def world(
    module_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Services, list[str]]]:
    """Built once per backend; the tests only read it (they alter bundles, never the ledger)."""
    s = Services(module_settings)
    try:
        s.ledger.initialise()
        build(s, tmp_path_factory.mktemp("demo"), targets=SMALL, seed=SEED)
        result = draws.run(s, seed=SEED)
        assert not result.skipped
        s.ledger.issue_checkpoint()
        s.refresh()
        ids = [row["draw_id"] for row in s.draw_queries.states("draws")]
        assert ids
        yield s, ids
    finally:
        s.close()


@pytest.mark.parametrize("fmt", [FORMAT_V2, FORMAT_V1])
def test_demo_bundle_verifies_offline_with_every_draw(
    world: tuple[Services, list[str]], tmp_path: Path, fmt: str
) -> None:
    s, ids = world
    path = tmp_path / "demo.ssjbundle"
    export_bundle(s.ledger, path, fmt=fmt)
    audit = audit_bundle(path, [s.ledger.latest_checkpoint() or ""], jobs=1)
    assert audit.result.ok, audit.result.report.damage
    assert audit.ok
    assert sorted(d.draw_id for d in audit.draws) == sorted(ids)
    assert all(d.status == "passed" for d in audit.draws), [
        (d.label, d.reason_en) for d in audit.draws
    ]
    # The same checks as the service's own verification on the operator's read models.
    service = DrawService(s)
    for d in audit.draws:
        assert d.verification is not None
        online = service.verify(d.draw_id)
        assert [(c.name, c.ok) for c in d.verification.checks] == [
            (c.name, c.ok) for c in online.checks
        ]


def test_range_bundle_skips_draws_with_reason(
    world: tuple[Services, list[str]], tmp_path: Path
) -> None:
    s, _ = world
    size = s.ledger.size()
    path = tmp_path / "tail.ssjbundle"
    export_bundle(s.ledger, path, size // 2, size - 1)
    audit = audit_bundle(path, jobs=1)
    assert audit.result.ok, audit.result.report.damage
    assert audit.draws, "the demo's later draws are in the second half"
    assert all(d.status == "skipped" and d.reason_en for d in audit.draws)
    assert all("seq 0" in d.reason_en or "before the bundle" in d.reason_en for d in audit.draws)


def _alter_reveal(objs: list[dict[str, Any]], signer: LedgerSigner | None) -> int:
    """Swap two strata's drawn targets in a Revealed event; optionally re-sign the envelope."""
    for o in objs:
        if o["kind"] != "event" or not o["event"]["topic"].endswith(REVEALED):
            continue
        state = orjson.loads(base64.b64decode(o["event"]["state"]))
        samples = [x["sample"] for x in state["outcome"]["strata"] if x["sample"]]
        if len(samples) < 2:
            continue
        samples[0][0], samples[1][0] = samples[1][0], samples[0][0]
        forged = orjson.dumps(state)
        o["event"]["state"] = base64.b64encode(forged).decode()
        if signer is not None:
            env = orjson.loads(base64.b64decode(o["envelope"]))
            env["state_sha256"] = hashlib.sha256(forged).hexdigest()
            env["key_id"] = signer.key_id
            data = orjson.dumps(env, option=orjson.OPT_SORT_KEYS)
            o["envelope"] = base64.b64encode(data).decode()
            o["signature"] = base64.b64encode(signer.sign(data)).decode()
        return int(o["seq"])
    raise AssertionError("no revealed draw with two non-empty strata")


def test_altered_reveal_resigned_with_foreign_key_fails(
    world: tuple[Services, list[str]], tmp_path: Path
) -> None:
    s, _ = world
    path = tmp_path / "forged.ssjbundle"
    export_bundle(s.ledger, path)
    key, _ = note.generate_key("ssj.local/ledger")
    signer = LedgerSigner(note.parse_signer_key(key), key)
    seq = 0

    def forge(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal seq
        seq = _alter_reveal(objs, signer)
        return objs

    rewrite(path, forge)
    audit = audit_bundle(path, jobs=1)
    assert not audit.ok
    found = {(d.kind, d.seq) for d in audit.result.report.damage}
    assert ("unknown_key", seq) in found and ("chain", seq + 1) in found, found
    assert all(d.status == "skipped" for d in audit.draws)  # a damaged ledger is not replayed

    # And the re-run itself catches the altered sample, should the ledger checks be bypassed.
    reruns = replay_draws(path).checks  # as if the ledger checks had passed
    failed = [d for d in reruns if d.status == "failed"]
    assert len(failed) == 1 and "sample:" in failed[0].reason_en, [
        (d.status, d.reason_en) for d in reruns
    ]


def test_altered_reveal_without_resigning_is_a_state_change(
    world: tuple[Services, list[str]], tmp_path: Path
) -> None:
    s, _ = world
    path = tmp_path / "forged.ssjbundle"
    export_bundle(s.ledger, path)
    seq = 0

    def forge(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal seq
        seq = _alter_reveal(objs, None)
        return objs

    rewrite(path, forge)
    audit = audit_bundle(path, jobs=1)
    first = audit.result.report.first
    assert first is not None and (first.kind, first.seq) == ("state", seq)
    assert any(
        o["kind"] == "event" and o["event"]["topic"].startswith(DRAW_PREFIX) for o in records(path)
    )


@pytest.mark.parametrize("fmt", [FORMAT_V2, FORMAT_V1])
def test_draws_replayed_in_a_second_process_agree(
    world: tuple[Services, list[str]], tmp_path: Path, fmt: str
) -> None:
    """The re-run beside the ledger check (large bundles) gives the inline re-run's checks."""
    s, ids = world
    path = tmp_path / "demo.ssjbundle"
    export_bundle(s.ledger, path, fmt=fmt)
    inline = audit_bundle(path, jobs=1, parallel=False)
    beside = audit_bundle(path, jobs=2, parallel=True)
    assert beside.ok and inline.ok
    assert sorted(d.draw_id for d in beside.draws) == sorted(ids)

    def checks(audit: OfflineAudit) -> list[tuple[str, str, list[tuple[str, bool, str]]]]:
        return sorted(
            (
                d.draw_id,
                d.status,
                [(c.name, c.ok, c.detail) for c in d.verification.checks] if d.verification else [],
            )
            for d in audit.draws
        )

    assert checks(beside) == checks(inline)
    assert all(d.status == "passed" for d in beside.draws)


@pytest.mark.parametrize("parallel", [False, True])
def test_rerun_uses_only_what_the_ledger_check_vouched_for(
    world: tuple[Services, list[str]], tmp_path: Path, parallel: bool
) -> None:
    """v1: a decoy `topic` key ahead of a target's event (ignored by the ledger check, which
    reads the event's own) hides it from the re-run's fast line filter: the re-run must not
    count. (v2 has no such filter: its re-run reads the same event columns.)"""
    s, _ = world
    path = tmp_path / "decoy.ssjbundle"
    export_bundle(s.ledger, path, fmt=FORMAT_V1)

    def decoy(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for o in objs:
            if o["kind"] == "event" and o["event"]["topic"].endswith("Target.Registered"):
                o = {"kind": "event", "topic": "ops.bench.ledger:Thing.Created", **o}
            out.append(o)
        return out

    rewrite(path, decoy)
    audit = audit_bundle(path, jobs=2 if parallel else 1, parallel=parallel)
    assert audit.result.ok, audit.result.report.damage  # the ledger itself is intact
    assert not audit.ok
    assert audit.draws and all(d.status == "failed" for d in audit.draws)
    assert all("other bytes or events" in d.reason_en for d in audit.draws), [
        d.reason_en for d in audit.draws
    ]


def test_judge_needs_the_same_bytes(world: tuple[Services, list[str]], tmp_path: Path) -> None:
    s, _ = world
    path = tmp_path / "demo.ssjbundle"
    export_bundle(s.ledger, path)
    audit = audit_bundle(path, jobs=1)
    replay = replay_draws(path)
    assert judge(audit.result, replay) == replay.checks
    replay.body_sha256 = hashlib.sha256(b"another file").hexdigest()
    assert {d.status for d in judge(audit.result, replay)} == {"failed"}
    replay.error = "boom"
    assert all("boom" in d.reason_en for d in judge(audit.result, replay))


def test_the_replay_runs_with_the_collector_paused(
    world: tuple[Services, list[str]], tmp_path: Path, collector_on: None
) -> None:
    """A replay's events and rows form no cycles: the collector's passes over them are skipped
    until the draws are re-run, and it is on again afterwards."""
    s, ids = world
    path = tmp_path / "demo.ssjbundle"
    export_bundle(s.ledger, path)
    seen: list[bool] = []
    replay = replay_draws(path, lambda done, total: seen.append(gc.isenabled()))
    assert not replay.error
    assert len(seen) == len(ids) and not any(seen)
    assert gc.isenabled()


def _replayed_tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    replayer = _Replayer()
    try:
        replayer.read(path)
        tables = [t.table for p in replayer.projections for t in p.tables]
        return {t: sorted(replayer.store.query(f"SELECT * FROM {t}"), key=repr) for t in tables}
    finally:
        replayer.store.close()


@pytest.mark.parametrize("fmt", [FORMAT_V2, FORMAT_V1])
def test_the_replay_holds_the_same_rows_whatever_its_batches(
    world: tuple[Services, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    """Consecutive events of one read model are applied together: one at a time, a few at a
    time and all together give the same rows, every version of every registry row."""
    s, _ = world
    path = tmp_path / "demo.ssjbundle"
    export_bundle(s.ledger, path, fmt=fmt)
    found = []
    for batch in (1, 7, REPLAY_BATCH):
        monkeypatch.setattr(audit_bundle_module, "REPLAY_BATCH", batch)
        found.append(_replayed_tables(path))
    assert found[0]["targets"] and found[0]["draws"] and found[0]["plans"]
    assert found[0] == found[1] == found[2]


def test_the_replay_reads_each_draws_groups_from_one_index(
    world: tuple[Services, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From `GROUPS_INDEX_FROM` draws on, the replay indexes the targets by group before the
    re-runs: a draw's groups are then one range of that index, read in group order (no scan
    of every version, no sort), and every draw's checks come out as they do without it."""
    s, ids = world
    path = tmp_path / "demo.ssjbundle"
    export_bundle(s.ledger, path)
    made: list[int] = []  # the thresholds under which the replay made the index

    def index(store: Any) -> None:
        made.append(audit_bundle_module.GROUPS_INDEX_FROM)
        index_target_groups(store)

    monkeypatch.setattr(audit_bundle_module, "index_target_groups", index)
    outcomes = []
    for threshold in (len(ids) + 1, len(ids)):
        monkeypatch.setattr(audit_bundle_module, "GROUPS_INDEX_FROM", threshold)
        replay = replay_draws(path)
        assert not replay.error
        outcomes.append(
            sorted(
                (c.draw_id, c.status, [(k.name, k.ok) for k in c.verification.checks])
                for c in replay.checks
                if c.verification is not None
            )
        )
    assert made == [len(ids)]
    assert len(outcomes[0]) == len(ids)
    assert outcomes[0] == outcomes[1]

    replayer = _Replayer()
    try:
        replayer.read(path)
        where, params = at_seq_clause(replayer.to_seq)
        sql = "EXPLAIN QUERY PLAN " + SQLITE_GROUPS.format(where=where)

        def plan() -> str:
            return " ".join(str(r[-1]) for r in replayer.store.query(sql, [*params, "any"]))

        assert "targets_groups" not in plan() and "TEMP B-TREE" in plan()
        index_target_groups(replayer.store)
        assert "targets_groups" in plan() and "TEMP B-TREE" not in plan(), plan()
    finally:
        replayer.store.close()
