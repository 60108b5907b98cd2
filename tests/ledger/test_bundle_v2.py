"""`ssj-audit-bundle/2` on both backends and both suites: read back as docs/developers/bundle-format.md documents it
(the standard library and `zstandard` only), seeking by seq through the index, and the file's own
tampering: a flipped byte in a frame, a wrong index entry, a truncated file, frames swapped (by
a careless hand and by a forger who rewrites the index)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import zstandard

from ssj.config import Settings
from ssj.ledger.application import Ledger
from ssj.ledger.bundle import FORMAT_V1, FORMAT_V2, bundle_format, verify_bundle
from ssj.ledger.bundle_v2 import read_events
from ssj.ledger.suite import Suite
from tests.ledger.test_bundle import export, flip, kinds, records
from tests.ledger.test_tamper import SIZE, Published, published, raw, suite

__all__ = ["published", "raw", "suite"]


def u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 4], "little")


def small_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten events per frame, so the test ledger's 28 events fill three event frames."""
    monkeypatch.setattr("ssj.ledger.bundle_v2.FRAME_RECORDS", 10)


def event_frames(path: Path) -> list[dict[str, int]]:
    data = path.read_bytes()
    at, length = u32(data, len(data) - 16), u32(data, len(data) - 8)
    index = json.loads(data[at + 8 : at + length])
    return [f for f in index["frames"] if f["section"] == "event"]


def test_v2_read_as_documented(
    settings: Settings, published: Published, suite: Suite, tmp_path: Path
) -> None:
    """An auditor's reader in a few lines: preamble, trailer, index, frames, heads, columns."""
    path = export(settings, tmp_path / "all.ssjbundle")
    assert bundle_format(path) == FORMAT_V2
    result = verify_bundle(path, (published.mid_note, published.final_note), jobs=1)
    assert result.ok, result.report.damage
    assert result.manifest_ok and result.events == SIZE

    data = path.read_bytes()
    assert u32(data, 0) == 0x184D2A50 and data[8 : 8 + u32(data, 4)] == b"ssj-audit-bundle/2\n"
    assert u32(data, len(data) - 24) == 0x184D2A52 and u32(data, len(data) - 20) == 16
    index_at = int.from_bytes(data[-16:-8], "little")
    index_len = int.from_bytes(data[-8:], "little")
    assert index_at + index_len + 24 == len(data) and u32(data, index_at) == 0x184D2A51
    index = json.loads(data[index_at + 8 : index_at + index_len])
    assert index["format"] == FORMAT_V2
    assert index["body"] == {
        "bytes": index_at,
        "sha256": hashlib.sha256(data[:index_at]).hexdigest(),
    }
    dctx = zstandard.ZstdDecompressor()
    events = []
    sections = []
    at = 8 + 19
    for f in index["frames"]:
        assert f["offset"] == at  # frames follow each other, preamble first, index last
        frame = data[at : at + f["length"]]
        at += f["length"]
        assert hashlib.sha256(frame).hexdigest() == f["sha256"]
        content = dctx.decompress(frame)
        assert len(content) == f["content"]
        head_line, payload = content.split(b"\n", 1)
        head = json.loads(head_line)
        assert head["section"] == f["section"] and head["records"] == f["records"]
        sections.append(f["section"])
        if f["section"] != "event":
            lines = payload.split(b"\n")
            assert lines.pop() == b"" and len(lines) == f["records"]
            assert all(json.loads(x)["kind"] == f["section"] for x in lines)
            continue
        assert (head["seq"][0], head["seq"][-1]) == (f["first_seq"], f["last_seq"])
        pos = 0
        envelopes = []
        for n in head["envelope"]:
            envelopes.append(payload[pos : pos + n])
            pos += n
        signatures = []
        for n in head["signature"]:
            signatures.append(payload[pos : pos + n])
            pos += n
        for seq, nid, envelope, signature, ev in zip(
            head["seq"], head["notification_id"], envelopes, signatures, head["event"], strict=True
        ):
            state = payload[pos : pos + ev[4]]
            pos += ev[4]
            events.append((seq, nid, envelope, signature, ev[:4], state))
        assert pos == len(payload)
    assert at == index_at
    assert sections == ["header", "key", "checkpoint", "consistency", "event"]

    ledger = Ledger(settings)
    try:
        stored = ledger.ledger_recorder.select_envelopes(0, SIZE)
        notifications = ledger.recorder.select_notifications(1, SIZE + 10)
    finally:
        ledger.close()
    assert [e[:4] for e in events] == [tuple(r) for r in stored]  # exactly the stored bytes
    by_nid = {n.id: n for n in notifications}
    for _, nid, envelope, _, (ev_nid, originator, version, topic), state in events:
        n = by_nid[nid]
        assert (ev_nid, originator, version, topic) == (
            n.id,
            str(n.originator_id),
            n.originator_version,
            n.topic,
        )
        assert state == n.state
        assert suite.digest(state).hex() == json.loads(envelope)[suite.state_key]

    # Smaller than v1, and the same records.
    v1 = export(settings, tmp_path / "v1.ssjbundle", fmt=FORMAT_V1)
    assert len(data) < v1.stat().st_size / 2
    assert records(v1) == [
        {**r, "format": FORMAT_V1} if r["kind"] == "header" else r for r in records(path)
    ] or [r for r in records(v1) if r["kind"] == "event"] == [
        r for r in records(path) if r["kind"] == "event"
    ]


def test_seek_by_seq_reads_only_its_frames(
    settings: Settings, published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_frames(monkeypatch)
    path = export(settings, tmp_path / "all.ssjbundle")
    assert len(event_frames(path)) == 3
    whole = {r["seq"]: r for r in records(path) if r["kind"] == "event"}
    found = list(read_events(path, 12, 14))
    assert [row[0] for row, _, _ in found] == [12, 13, 14]
    for (seq, nid, envelope, _), ev, state in found:
        assert (nid, envelope.hex()) == (
            whole[seq]["notification_id"],
            bytes.fromhex(__import__("base64").b64decode(whole[seq]["envelope"]).hex()).hex(),
        )
        assert ev is not None and ev[1] == whole[seq]["event"]["originator_id"] and state
    # A frame damaged on disk is refused when read by seeking.
    first = event_frames(path)[1]
    flip(path, first["offset"] + first["length"] // 2)
    with pytest.raises(ValueError, match="SHA-256"):
        list(read_events(path, 12, 14))


def test_flipped_byte_in_a_frame(settings: Settings, published: Published, tmp_path: Path) -> None:
    path = export(settings, tmp_path / "b.ssjbundle")
    original = path.read_bytes()
    frame = event_frames(path)[0]
    for at in (
        frame["offset"] + 3,
        frame["offset"] + frame["length"] // 2,
        frame["offset"] + frame["length"] - 1,
    ):
        path.write_bytes(original)
        flip(path, at)
        result = verify_bundle(path, jobs=1)
        found = {d.kind for d in result.report.damage}
        # The frame's hash or its decompression (a damaged header stops the reading there).
        assert not result.ok and found & {"manifest", "bundle"}, (at, found)
        assert not result.manifest_ok


def test_wrong_index_entry(settings: Settings, published: Published, tmp_path: Path) -> None:
    """An index entry changed (same length, trailer still right): the rebuilt index differs."""
    path = export(settings, tmp_path / "b.ssjbundle")
    data = path.read_bytes()
    index_at = int.from_bytes(data[-16:-8], "little")
    for old, new in ((b'"records":28', b'"records":27'), (b'"first_seq":0', b'"first_seq":1')):
        assert old in data[index_at:]  # the frame's entry comes first (then the sections')
        path.write_bytes(data[:index_at] + data[index_at:].replace(old, new, 1))
        result = verify_bundle(path, jobs=1)
        assert {d.kind for d in result.report.damage} == {"manifest"}, result.report.damage
        assert "event frame at byte" in result.report.damage[0].detail
    # A trailer pointing elsewhere.
    path.write_bytes(data[:-16] + (index_at - 1).to_bytes(8, "little") + data[-8:])
    assert kinds(path) == {"manifest"}


def test_truncated_v2_file(settings: Settings, published: Published, tmp_path: Path) -> None:
    path = export(settings, tmp_path / "b.ssjbundle")
    data = path.read_bytes()
    index_at = int.from_bytes(data[-16:-8], "little")
    frame = event_frames(path)[0]
    for cut in (frame["offset"] + frame["length"] // 2, frame["offset"], index_at, index_at + 9):
        path.write_bytes(data[:cut])
        result = verify_bundle(path, jobs=1)
        assert "bundle_truncated" in {d.kind for d in result.report.damage}, cut
        assert not result.ok
    for cut in (len(data) - 1, len(data) - 24):  # the trailer cut
        path.write_bytes(data[:cut])
        assert "manifest" in kinds(path), cut
    path.write_bytes(data + b"\0")
    assert "manifest" in kinds(path)  # data after the trailer
    path.write_bytes(b"")
    assert not verify_bundle(path, jobs=1).ok


@pytest.mark.parametrize("forger", [False, True])
def test_frames_swapped(
    settings: Settings,
    published: Published,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    forger: bool,
) -> None:
    """Two event frames swapped on disk; a forger also rewrites the index to match (then the
    file checks pass, and the ledger checks catch the order)."""
    small_frames(monkeypatch)
    path = export(settings, tmp_path / "b.ssjbundle")
    data = path.read_bytes()
    a, b, _ = event_frames(path)
    fa = data[a["offset"] : a["offset"] + a["length"]]
    fb = data[b["offset"] : b["offset"] + b["length"]]
    assert a["offset"] + a["length"] == b["offset"]
    swapped = data[: a["offset"]] + fb + fa + data[b["offset"] + b["length"] :]
    if forger:
        from ssj.ledger import bundle_v2

        index_at = int.from_bytes(data[-16:-8], "little")
        body = swapped[:index_at]
        index = json.loads(data[index_at + 8 : -24])
        frames = index["frames"]
        i = frames.index(a)
        nb = {**b, "offset": a["offset"]}
        na = {**a, "offset": a["offset"] + b["length"]}
        frames[i], frames[i + 1] = nb, na
        rebuilt = bundle_v2.index_json(frames, index_at, hashlib.sha256(body).hexdigest())
        frame = bundle_v2.skippable(bundle_v2.INDEX_MAGIC, rebuilt)
        swapped = body + frame + bundle_v2.trailer(index_at, len(frame))
    path.write_bytes(swapped)
    result = verify_bundle(path, jobs=1)
    found = {d.kind for d in result.report.damage}
    assert not result.ok
    assert "gap" in found and "chain" in found, found
    assert ("manifest" in found) is not forger, found
