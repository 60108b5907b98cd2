"""The offline audit bundle on both backends: the format round trips (v1 read back with nothing
but the standard library, v2 with the standard library and `zstandard`, as docs/developers/bundle-format.md documents
them), every database tamper case of test_tamper caught again offline, altered bytes, truncated
files, foreign checkpoints, missing keys, and seq-range bundles with proofs. Bundles are v2
unless a test says v1 (the old writer, kept)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from ssj.config import Settings
from ssj.ledger import note
from ssj.ledger.application import Ledger
from ssj.ledger.bundle import (
    FORMAT_V1,
    FORMAT_V2,
    bundle_format,
    open_writer,
    verify_bundle,
)
from ssj.ledger.bundle import records as bundle_records
from ssj.ledger.checkpoint import Checkpoint, sign_checkpoint
from ssj.ledger.keys import KeyStore
from ssj.ledger.suite import Suite
from ssj.services.audit_bundle import export_bundle
from tests.conftest import base_settings
from tests.ledger.test_ledger import ALICE, Thing
from tests.ledger.test_tamper import (
    CASES,
    FINAL_SIZE,
    SIZE,
    Published,
    RawDB,
    build_ledger,
    published,
    raw,
    suite,
)

__all__ = ["published", "raw", "suite"]  # test_tamper's fixtures, shared here


def export(
    settings: Settings,
    path: Path,
    a: int | None = None,
    b: int | None = None,
    fmt: str = FORMAT_V2,
) -> Path:
    ledger = Ledger(settings)
    try:
        export_bundle(ledger, path, a, b, fmt=fmt)
    finally:
        ledger.close()
    return path


def kinds(path: Path, *outside: str, keys: tuple[str, ...] = ()) -> set[str]:
    result = verify_bundle(path, outside, keys, jobs=1)
    return {d.kind for d in result.report.damage}


def records(path: Path) -> list[dict[str, Any]]:
    """Every record (v1 line objects, whichever the format), without manifest or index."""
    return list(bundle_records(path))


def rewrite(path: Path, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
    """Change records and write a fresh, correct manifest or index in the file's own format: a
    forger who knows the format."""
    objs = change(records(path))
    writer = open_writer(path, bundle_format(path))
    for obj in objs:
        writer.write(obj)
    writer.close()


def flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] = ord("A") if data[at] != ord("A") else ord("B")
    path.write_bytes(bytes(data))


# Round trip --------------------------------------------------------------------------------------


def test_v1_bundle_round_trip(
    settings: Settings, published: Published, suite: Suite, tmp_path: Path
) -> None:
    """The old writer's format is still written on request, read and verified."""
    path = export(settings, tmp_path / "all.ssjbundle", fmt=FORMAT_V1)
    assert bundle_format(path) == FORMAT_V1
    result = verify_bundle(path, (published.mid_note, published.final_note), jobs=1)
    assert result.ok, result.report.damage
    assert (result.events, result.report.size, result.report.checkpoints) == (SIZE, SIZE, 2)
    assert result.manifest_ok and result.covered_to == FINAL_SIZE
    assert result.report.outside_checkpoints == 2

    # Readable with the standard library alone, as the format documents it.
    raw_lines = path.read_bytes().split(b"\n")
    assert raw_lines[-1] == b""
    lines = [json.loads(x) for x in raw_lines[:-1]]
    assert lines[0]["kind"] == "header" and lines[0]["format"] == FORMAT_V1
    manifest = lines[-1]
    assert manifest["kind"] == "manifest" and manifest["format"] == FORMAT_V1
    body = b"".join(x + b"\n" for x in raw_lines[:-2])
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["bytes"] == len(body)
    by_section: dict[str, bytes] = {}
    for line, obj in zip(raw_lines[:-2], lines[:-1], strict=True):
        section = "event" if obj["kind"] == "unsealed" else obj["kind"]
        by_section[section] = by_section.get(section, b"") + line + b"\n"
    for s in manifest["sections"]:
        assert hashlib.sha256(by_section[s["name"]]).hexdigest() == s["sha256"]
        assert len(by_section[s["name"]]) == s["bytes"]
    events = [x for x in lines if x["kind"] == "event"]
    assert [e["seq"] for e in events] == list(range(SIZE))
    # The envelope bytes are exactly the stored ones, and so is each state.
    ledger = Ledger(settings)
    try:
        stored = ledger.ledger_recorder.select_envelopes(0, SIZE)
    finally:
        ledger.close()
    for e, (_, _, data, signature) in zip(events, stored, strict=True):
        assert base64.b64decode(e["envelope"]) == data
        assert base64.b64decode(e["signature"]) == signature
        state = base64.b64decode(e["event"]["state"])
        assert suite.digest(state).hex() == orjson.loads(data)[suite.state_key]
    assert {x["size"] for x in lines if x["kind"] == "checkpoint"} == {14, FINAL_SIZE}


def test_export_refuses_bad_ranges(
    settings: Settings, published: Published, tmp_path: Path
) -> None:
    from ssj.errors import ValidationError

    ledger = Ledger(settings)
    try:
        for a, b in ((5, 3), (-1, 3), (0, SIZE), (SIZE, None)):
            with pytest.raises(ValidationError) as caught:
                export_bundle(ledger, tmp_path / "x.ssjbundle", a, b)
            assert caught.value.zh and caught.value.en
    finally:
        ledger.close()
    assert not (tmp_path / "x.ssjbundle").exists()
    assert not list(tmp_path.glob("*.part"))


# The database tamper cases, caught offline ----------------------------------------------------


@pytest.mark.parametrize("fmt", [FORMAT_V2, FORMAT_V1])
@pytest.mark.parametrize("case", list(CASES))
def test_tampered_database_exports_a_failing_bundle(
    settings: Settings,
    published: Published,
    raw: RawDB,
    suite: Suite,
    case: str,
    tmp_path: Path,
    fmt: str,
) -> None:
    """The bundle carries rows exactly as stored: the same first damage as `ssj verify`."""
    expected = CASES[case](raw, suite)
    result = verify_bundle(export(settings, tmp_path / "b.ssjbundle", fmt=fmt), jobs=1)
    first = result.report.first
    assert first is not None and (first.kind, first.seq) == (expected.kind, expected.seq), (
        result.report.damage
    )
    assert result.manifest_ok  # the file is intact: the ledger inside it is not


def test_truncated_database_needs_the_outside_checkpoint(
    settings: Settings, published: Published, raw: RawDB, tmp_path: Path
) -> None:
    cut = 22
    nids = [r[0] for r in raw.run("SELECT notification_id FROM ssj_envelopes WHERE seq >= ?", cut)]
    for nid in nids:
        raw.run("DELETE FROM {events} WHERE {nid} = ?", nid)
    raw.run("DELETE FROM ssj_envelopes WHERE seq >= ?", cut)
    for level, idx in raw.run("SELECT level, idx FROM ssj_merkle_nodes"):
        if (idx + 1) << level > cut:
            raw.run("DELETE FROM ssj_merkle_nodes WHERE level = ? AND idx = ?", level, idx)
    path = export(settings, tmp_path / "b.ssjbundle")
    assert verify_bundle(path, jobs=1).ok  # a prefix is consistent on its own
    result = verify_bundle(path, (published.final_note,), jobs=1)
    first = result.report.first
    assert first is not None and (first.kind, first.seq) == ("truncated", cut)


# The file itself ----------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["header", "manifest", "state", "envelope", "signature"])
def test_one_altered_byte_is_named_v1(
    settings: Settings, published: Published, tmp_path: Path, where: str
) -> None:
    path = export(settings, tmp_path / "b.ssjbundle", fmt=FORMAT_V1)
    data = path.read_bytes()
    lines = data.split(b"\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    index, field = {
        "header": (0, b'"origin":"'),
        "manifest": (len(lines) - 2, b'"sha256":"'),
        "state": (len(lines) - 6, b'"state":"'),
        "envelope": (len(lines) - 6, b'"envelope":"'),
        "signature": (len(lines) - 6, b'"signature":"'),
    }[where]
    at = offsets[index] + lines[index].index(field) + len(field) + 4
    flip(path, at)
    found = kinds(path)
    assert "manifest" in found, found
    if where in ("envelope", "signature"):
        assert "signature" in found or "envelope" in found or "bundle" in found, found
    if where == "state":
        assert "state" in found or "bundle" in found, found


@pytest.mark.parametrize("fmt", [FORMAT_V1, FORMAT_V2])
def test_any_altered_byte_fails(
    settings: Settings, published: Published, tmp_path: Path, fmt: str
) -> None:
    """Forty positions spread over the whole file: every one is caught."""
    original = export(settings, tmp_path / "b.ssjbundle", fmt=fmt).read_bytes()
    for at in range(0, len(original), max(1, len(original) // 40)):
        path = tmp_path / "flipped.ssjbundle"
        path.write_bytes(original)
        flip(path, at)
        result = verify_bundle(path, jobs=1)
        assert not result.ok, at


def test_truncated_file_v1(settings: Settings, published: Published, tmp_path: Path) -> None:
    path = export(settings, tmp_path / "b.ssjbundle", fmt=FORMAT_V1)
    data = path.read_bytes()
    for cut in (len(data) // 2, data.rindex(b"\n", 0, len(data) - 1) + 1, len(data) - 1):
        path.write_bytes(data[:cut])
        result = verify_bundle(path, jobs=1)
        assert "bundle_truncated" in {d.kind for d in result.report.damage}, cut
        assert not result.ok


def test_checkpoint_from_another_log(
    settings: Settings, published: Published, suite: Suite, tmp_path: Path
) -> None:
    path = export(settings, tmp_path / "b.ssjbundle")
    other = base_settings(tmp_path / "other", f"sqlite:///{tmp_path / 'other' / 'o.sqlite'}")
    foreign = build_ledger(other, suite)  # another log: its own key
    found = verify_bundle(path, (foreign.final_note,), jobs=1).report.damage
    assert [d.kind for d in found] == ["checkpoint"] and "no verifiable" in found[0].detail
    # Our own key, but another log's name (origin).
    ledger = Ledger(settings)
    try:
        signer = KeyStore(settings.keys_dir).load(ledger.keyring().active_key_id)
        root = ledger.root(FINAL_SIZE)
    finally:
        ledger.close()
    renamed = signer.sign_note(Checkpoint("example.org/other-log", FINAL_SIZE, root).to_text())
    found = verify_bundle(path, (renamed,), jobs=1).report.damage
    assert [d.kind for d in found] == ["checkpoint"] and "origin" in found[0].detail
    # --key pins the key: a checkpoint signed by another key fails even if the bundle agrees.
    assert "untrusted" in kinds(path, keys=(foreign.verifier_key,))
    assert not kinds(path, keys=(published.verifier_key,))


def test_keyring_replaced_by_forger_is_caught_by_pinned_key(
    settings: Settings, published: Published, suite: Suite, tmp_path: Path
) -> None:
    """A whole history re-signed with another key verifies on its own; the auditor's pinned
    key or a published checkpoint exposes it."""
    other = base_settings(tmp_path / "other", f"sqlite:///{tmp_path / 'other' / 'o.sqlite'}")
    build_ledger(other, suite)
    forged = export(other, tmp_path / "forged.ssjbundle")
    assert verify_bundle(forged, jobs=1).ok
    assert "untrusted" in kinds(forged, keys=(published.verifier_key,))
    assert "checkpoint" in kinds(forged, published.final_note)


# Seq ranges --------------------------------------------------------------------------------------


def test_range_bundle_with_rotation_and_proofs(
    settings: Settings, published: Published, tmp_path: Path
) -> None:
    """A range after a key rotation carries the key ring events before it; the frontier and the
    proofs tie it to the checkpoints on both sides."""
    ledger = Ledger(settings)
    try:
        ledger.rotate_key(ALICE)  # seq 28
        for i in range(5):
            ledger.save(Thing(f"later-{i}"), actor=ALICE)  # seqs 29..33
        ledger.issue_checkpoint()  # seq 34, size 34
        ledger.save(Thing("after"), actor=ALICE)  # seq 35
        keys = [k["verifier_key"] for k in ledger.key_listing()]
    finally:
        ledger.close()
    path = export(settings, tmp_path / "r.ssjbundle", 30, 32)
    objs = records(path)
    context = [o["seq"] for o in objs if o["kind"] == "context"]
    assert context == [0, 28, 29]  # genesis key, the rotation, the envelope before the range
    result = verify_bundle(path, (published.mid_note, published.final_note), jobs=1)
    assert result.ok, result.report.damage
    assert (result.from_seq, result.to_seq, result.events) == (30, 32, 3)
    assert result.inclusion_proofs == 3 and result.covered_to == 34
    assert verify_bundle(path, (), tuple(keys), jobs=1).ok
    # An outside checkpoint beyond what the bundle holds cannot be checked: it says so.
    ledger = Ledger(settings)
    try:
        later = ledger.issue_checkpoint()
    finally:
        ledger.close()
    assert kinds(path, later) == {"out_of_range"}

    # A bundle missing its key ring event: every signature in the range is by an unknown key.
    missing = tmp_path / "missing-key.ssjbundle"
    missing.write_bytes(path.read_bytes())
    rewrite(
        missing, lambda objs: [o for o in objs if not (o["kind"] == "context" and o["seq"] == 28)]
    )
    found = {(d.kind, d.seq) for d in verify_bundle(missing, jobs=1).report.damage}
    assert {("unknown_key", s) for s in (29, 30, 31, 32)} <= found, found

    # A forged frontier no longer adds up to the checkpoints.
    forged = tmp_path / "frontier.ssjbundle"
    forged.write_bytes(path.read_bytes())

    def bad_frontier(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for o in objs:
            if o["kind"] == "frontier":
                o["hashes"][0] = hashlib.sha256(b"forged").hexdigest()
        return objs

    rewrite(forged, bad_frontier)
    assert "consistency" in kinds(forged)

    # A forged inclusion proof of the key ring event.
    proof = tmp_path / "proof.ssjbundle"
    proof.write_bytes(path.read_bytes())

    def bad_proof(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for o in objs:
            if o["kind"] == "context" and o["seq"] == 0:
                o["proof"][0] = hashlib.sha256(b"forged").hexdigest()
        return objs

    rewrite(proof, bad_proof)
    assert kinds(proof) == {"inclusion"}


def test_range_bundle_sees_a_later_revocation(
    settings: Settings, published: Published, tmp_path: Path
) -> None:
    """A key revoked later, as of a seq inside the range: the bundle carries the revocation."""
    ledger = Ledger(settings)
    try:
        old = ledger.keyring().active_key_id
        ledger.rotate_key(ALICE)
        ledger.save(Thing("after rotation"), actor=ALICE)
        ledger.revoke_key(ALICE, old, as_of_seq=20, reason="laptop stolen")
        ledger.issue_checkpoint()
    finally:
        ledger.close()
    path = export(settings, tmp_path / "r.ssjbundle", 15, 25)
    report = verify_bundle(path, jobs=1).report
    assert report.first is not None and (report.first.kind, report.first.seq) == (
        "revoked_key",
        20,
    )


def test_tampered_range_event(settings: Settings, published: Published, tmp_path: Path) -> None:
    path = export(settings, tmp_path / "r.ssjbundle", 15, 20)

    def change_state(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for o in objs:
            if o["kind"] == "event" and o["seq"] == 17:
                state = base64.b64decode(o["event"]["state"]).replace(b"thing-", b"thing_")
                o["event"]["state"] = base64.b64encode(state).decode()
        return objs

    rewrite(path, change_state)
    report = verify_bundle(path, jobs=1).report
    assert report.first is not None and (report.first.kind, report.first.seq) == ("state", 17)


def test_note_verifier_reads_bundle_checkpoints(
    settings: Settings, published: Published, tmp_path: Path
) -> None:
    """The bundled checkpoints are the ledger's signed notes, checkable with the note verifier."""
    path = export(settings, tmp_path / "b.ssjbundle")
    notes = [o["note"] for o in records(path) if o["kind"] == "checkpoint"]
    assert notes == [published.mid_note, published.final_note]
    for signed in notes:
        assert Checkpoint.from_text(note.verify(signed, [published.verifier_key]))
    assert sign_checkpoint  # the format is the one `sign_checkpoint` writes


@pytest.mark.parametrize("chunk", [1, 97, 4096])
def test_small_read_chunks_give_the_same_result(
    settings: Settings,
    published: Published,
    tmp_path: Path,
    chunk: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """v1: lines cut across read chunks: the same sections, digests and checks; a flip still
    fails."""
    path = export(settings, tmp_path / "b.ssjbundle", fmt=FORMAT_V1)
    whole = verify_bundle(path, (published.final_note,), jobs=1)
    monkeypatch.setattr("ssj.ledger.bundle.CHUNK", chunk)
    small = verify_bundle(path, (published.final_note,), jobs=1)
    assert small.ok and small.manifest_ok, small.report.damage
    assert (small.events, small.body_sha256, small.report.root, small.bundle_bytes) == (
        whole.events,
        whole.body_sha256,
        whole.report.root,
        whole.bundle_bytes,
    )
    data = path.read_bytes()
    assert small.body_sha256 == hashlib.sha256(data[: data.rindex(b"\n", 0, -1) + 1]).hexdigest()
    flip(path, len(data) // 2)
    assert not verify_bundle(path, jobs=1).ok
    path.write_bytes(data + b"{}\n")
    assert "manifest" in kinds(path)  # data after the manifest
