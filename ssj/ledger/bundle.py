"""The offline audit bundle: its file formats and its ledger checks.

An auditor gets one file and checks it years later with no database and no network. Two formats
are read and verified: `ssj-audit-bundle/2` (written today: the same records in Zstandard frames
with an index, `ssj.ledger.bundle_v2`) and `ssj-audit-bundle/1`, described here. Version 1 is
UTF-8 JSON lines, one JSON object per line, readable with any standard library:

    header        1 line: format, log origin, range (from_seq, to_seq; to_seq null = to the end)
    key           the key ring as the ledger lists it (informational: the key ring's own events,
                  signed and proven, are what the verifier trusts)
    context       envelopes outside a seq range that the range needs (every key ring event, and
                  the envelope just before the range, for the chain), each with its stored event
                  and an RFC 9162 inclusion proof at the bundle's proof size
    checkpoint    every recorded checkpoint: the seq of its record, its size, its signed note
    frontier      the Merkle compact range at from_seq (RFC 9162 subtree hashes of [0, from_seq))
    consistency   RFC 9162 consistency proofs between successive checkpoint sizes and the range
    event         one per seq: the envelope and signature bytes exactly as stored (base64) and the
                  stored event (topic, originator, version, state bytes in base64)
    unsealed      a stored event no envelope seals (what `ssj verify` reports), where it was found
    manifest      the last line: format, each section's line count, bytes and SHA-256, and the
                  SHA-256 and length of everything before this line

Lines appear in that section order. Any altered, added or removed byte changes a section's or
the file's digest; a file that stops before its manifest is truncated. The manifest is integrity
against damage, not against forgery: the signatures, the chain and the checkpoints are that, and
`LedgerVerifier` checks them here exactly as `ssj verify` does on a database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Mapper, Notification

from ssj.errors import ValidationError
from ssj.ledger import merkle, note
from ssj.ledger.bundle_v2 import FORMAT_V2, PREAMBLE_MAGIC, EventBlock, FrameReader, WriterV2
from ssj.ledger.checkpoint import Checkpoint
from ssj.ledger.envelope import GENESIS_PREV
from ssj.ledger.suite import DEFAULT
from ssj.ledger.verify import (
    EnvelopeRow,
    LedgerVerifier,
    Report,
    check_quorum,
    unverified_checkpoint,
)

FORMAT_V1 = "ssj-audit-bundle/1"
FORMAT = FORMAT_V2  # what `export_bundle` writes unless told otherwise
SECTIONS = ("header", "key", "context", "checkpoint", "frontier", "consistency", "event")
SECTION_OF = {kind: kind for kind in SECTIONS} | {"unsealed": "event"}
PARALLEL_FROM = 20_000  # events; below this, worker start-up costs more than it saves
PROGRESS_EVERY = 5000
CHUNK = 4 << 20  # bytes read (and hashed) at a time

Progress = Callable[[int, int], None]
# Aggregate topics ("module:Class") whose events' seqs the verifier lists (`BundleResult.selected`).
Selection = frozenset[str]


def offline_mapper() -> Mapper[Any]:
    """The ledger's mapper without a database: the same transcodings `Ledger` registers."""
    transcoder = JSONTranscoder()
    Application.register_transcodings(None, transcoder)  # type: ignore[arg-type]
    return Mapper(transcoder=transcoder)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return binascii.a2b_base64(text, strict_mode=True)


def event_json(n: Notification) -> dict[str, Any]:
    return {
        "notification_id": n.id,
        "originator_id": str(n.originator_id),
        "originator_version": n.originator_version,
        "topic": n.topic,
        "state": b64(n.state),
    }


def event_from_json(d: dict[str, Any]) -> Notification:
    return Notification(
        id=int(d["notification_id"]),
        originator_id=UUID(d["originator_id"]),
        originator_version=int(d["originator_version"]),
        topic=str(d["topic"]),
        state=unb64(d["state"]),
    )


def event_of_record(event: Notification | dict[str, Any] | tuple[list[Any], bytes]) -> Notification:
    """The stored event of a bundle record (key ring and checkpoint events are decoded): a v1
    line's object or a v2 event column with its state."""
    if isinstance(event, Notification):
        return event
    if isinstance(event, tuple):
        (nid, originator_id, version, topic, _), state = event
        return Notification(
            id=int(nid),
            originator_id=UUID(originator_id),
            originator_version=int(version),
            topic=str(topic),
            state=state,
        )
    return event_from_json(event)


def row_json(kind: str, row: EnvelopeRow, event: Notification | None) -> dict[str, Any]:
    seq, nid, data, signature = row
    return {
        "kind": kind,
        "seq": seq,
        "notification_id": nid,
        "envelope": b64(data),
        "signature": b64(signature),
        "event": None if event is None else event_json(event),
    }


def row_from_json(d: dict[str, Any]) -> tuple[EnvelopeRow, Notification | None]:
    row = (int(d["seq"]), int(d["notification_id"]), unb64(d["envelope"]), unb64(d["signature"]))
    event = None if d.get("event") is None else event_from_json(d["event"])
    return row, event


# Writing ---------------------------------------------------------------------------------------


class BundleWriter:
    """Writes `ssj-audit-bundle/1`: lines section by section, hashing as it goes; `close`
    appends the manifest. Kept so that v1 bundles can still be written for old readers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".part")
        self.file: IO[bytes] = self.tmp.open("wb")
        self.total = hashlib.sha256()
        self.size = 0
        self.stats: dict[str, list[Any]] = {}  # section -> [lines, bytes, sha256]
        self.section_index = 0

    def event(self, row: EnvelopeRow, event: Notification | None) -> None:
        self.write(row_json("event", row, event))

    def write(self, obj: dict[str, Any]) -> None:
        section = SECTION_OF[obj["kind"]]
        index = SECTIONS.index(section)
        if index < self.section_index:
            raise ValueError(f"section {section!r} after {SECTIONS[self.section_index]!r}")
        self.section_index = index
        line = orjson.dumps(obj) + b"\n"
        stat = self.stats.setdefault(section, [0, 0, hashlib.sha256()])
        stat[0] += 1
        stat[1] += len(line)
        stat[2].update(line)
        self.total.update(line)
        self.size += len(line)
        self.file.write(line)

    def manifest(self) -> dict[str, Any]:
        return manifest_json(self.stats, self.size, self.total.hexdigest())

    def close(self) -> None:
        self.file.write(orjson.dumps(self.manifest()) + b"\n")
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        self.tmp.replace(self.path)

    def abort(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


def manifest_json(stats: dict[str, list[Any]], size: int, digest: str) -> dict[str, Any]:
    """The manifest line; the verifier rebuilds it and compares bytes."""
    return {
        "kind": "manifest",
        "format": FORMAT_V1,
        "sections": [
            {"name": s, "lines": st[0], "bytes": st[1], "sha256": st[2].hexdigest()}
            for s in SECTIONS
            if (st := stats.get(s)) is not None
        ],
        "bytes": size,
        "sha256": digest,
    }


# Reading and checking --------------------------------------------------------------------------


@dataclass
class ContextEntry:
    row: EnvelopeRow
    event: Notification | None
    proof: list[bytes]
    size: int


@dataclass
class BundleResult:
    """What the offline check found, beyond the streaming verifier's report."""

    report: Report
    header: dict[str, Any] = field(default_factory=dict)
    from_seq: int = 0
    to_seq: int = -1
    events: int = 0
    unsealed: int = 0
    keys: list[dict[str, Any]] = field(default_factory=list)
    manifest_ok: bool = False
    bundle_bytes: int = 0
    checkpoints: int = 0  # in the checkpoint section
    consistency_proofs: int = 0
    inclusion_proofs: int = 0
    roots_checked: int = 0  # checkpoint roots compared with a recomputed root
    covered_to: int = 0  # largest tree size tied to a signed checkpoint
    body_sha256: str = ""  # SHA-256 of every byte before the manifest line, as read
    # (seq, aggregate topic, originator id) of every sealed event of the selected aggregates
    selected: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def full(self) -> bool:
        return self.header.get("to_seq") is None and self.from_seq == 0

    @property
    def ok(self) -> bool:
        return self.report.ok


class BundleError(ValidationError):
    """The file cannot be read as a bundle at all (wrong file, unreadable)."""


class _Lines:
    """The bundle's lines in order, each hashed into its section and the whole; stops at the
    manifest line and records what went wrong with the file itself."""

    def __init__(self, path: Path, verifier: LedgerVerifier) -> None:
        self.path = path
        self.verifier = verifier
        self.total = hashlib.sha256()
        self.size = 0
        self.stats: dict[str, list[Any]] = {}
        self.manifest_line: bytes | None = None
        self.section_index = 0
        self.trailing = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Reads in large chunks; each run of consecutive lines of one section is hashed in one
        call (into its section and the whole), not line by line."""
        try:
            f = self.path.open("rb")
        except OSError as e:
            raise BundleError(
                f"无法读取审计包 {self.path}：{e}", f"cannot read {self.path}: {e}"
            ) from None
        loads = orjson.loads
        with f:
            lineno = 0
            carry = b""
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                buf = carry + chunk if carry else chunk
                lines = buf.split(b"\n")
                carry = lines.pop()  # the start of a line the next chunk ends (or b"")
                view = memoryview(buf)
                pos = 0  # where the current line starts in buf
                run = "?"  # section of the run of lines not yet hashed, from run_start
                run_start = run_lines = 0
                for line in lines:
                    lineno += 1
                    if self.manifest_line is not None:
                        self.trailing = True
                        self._hash_run(run, view[run_start:pos], run_lines)
                        return
                    end = pos + len(line) + 1
                    section: str | None
                    try:
                        obj = loads(line)
                        kind = obj["kind"]
                    except (orjson.JSONDecodeError, KeyError, TypeError):
                        self.verifier.damage(-1, "bundle", f"line {lineno} is not a bundle record")
                        obj, section = None, "?"
                    else:
                        if kind == "manifest":  # not counted in any section
                            self._hash_run(run, view[run_start:pos], run_lines)
                            run_start, run_lines = end, 0
                            self.manifest_line = bytes(view[pos:end])
                            pos = end
                            continue
                        section = SECTION_OF.get(kind) if isinstance(kind, str) else None
                        if section is None:
                            self.verifier.damage(
                                -1, "bundle", f"line {lineno}: unknown kind {kind!r}"
                            )
                            obj, section = None, "?"
                    if section != run:
                        self._hash_run(run, view[run_start:pos], run_lines)
                        run, run_start, run_lines = section, pos, 0
                    run_lines += 1
                    pos = end
                    if obj is None:
                        continue
                    index = SECTIONS.index(section)
                    if index < self.section_index:
                        self.verifier.damage(-1, "bundle", f"line {lineno}: {kind} out of order")
                    elif index > self.section_index:
                        self.section_index = index
                    yield obj
                self._hash_run(run, view[run_start:pos], run_lines)
            if carry:
                if self.manifest_line is not None:
                    self.trailing = True
                else:
                    # The last line was cut off: the file was truncated.
                    self.verifier.damage(-1, "bundle_truncated", f"line {lineno + 1} incomplete")

    def _hash_run(self, section: str, data: memoryview, lines: int) -> None:
        if not lines:
            return
        stat = self.stats.get(section)
        if stat is None:
            stat = self.stats[section] = [0, 0, hashlib.sha256()]
        stat[0] += lines
        stat[1] += len(data)
        stat[2].update(data)
        self.total.update(data)
        self.size += len(data)

    def check_manifest(self) -> bool:
        """The stored manifest must be byte-for-byte the one these lines produce."""
        if self.manifest_line is None:
            if not any(d.kind == "bundle_truncated" for d in self.verifier.report.damage):
                self.verifier.damage(-1, "bundle_truncated", "no manifest line at the end")
            return False
        if self.trailing:
            self.verifier.damage(-1, "manifest", "data after the manifest line")
            return False
        expected = orjson.dumps(manifest_json(self.stats, self.size, self.total.hexdigest()))
        if expected + b"\n" == self.manifest_line:
            return True
        try:
            stored = orjson.loads(self.manifest_line)
            if stored.get("format") != FORMAT_V1:
                detail = f"format {stored.get('format')!r} is not {FORMAT_V1}"
            else:
                have = {s["name"]: s for s in stored["sections"]}
                bad = [
                    s["name"]
                    for s in orjson.loads(expected)["sections"]
                    if have.get(s["name"]) != s
                ]
                detail = (
                    f"section {', '.join(bad)} differs" if bad else "the manifest itself differs"
                )
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            detail = "the manifest line does not parse"
        self.verifier.damage(-1, "manifest", detail)
        return False


class _Frames:
    """A v2 file's records: the JSON sections' objects one by one, the events as blocks."""

    def __init__(self, path: Path, verifier: LedgerVerifier) -> None:
        self.verifier = verifier
        self.reader = FrameReader(path, lambda kind, detail: self.verifier.damage(-1, kind, detail))

    @property
    def size(self) -> int:
        return self.reader.size

    @property
    def total(self) -> Any:
        return self.reader.total

    def __iter__(self) -> Iterator[dict[str, Any] | EventBlock]:
        for section, head, payload in self.reader:
            try:
                if section == "event":
                    yield EventBlock.of(head, payload)
                    continue
                lines = bytes(payload).split(b"\n")
                if lines.pop() != b"" or len(lines) != int(head["records"]):
                    raise ValueError(f"{section} frame: not {head['records']} whole lines")
                objs = [orjson.loads(line) for line in lines]
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                self.verifier.damage(-1, "bundle", str(e))
                continue
            for obj in objs:
                if not isinstance(obj, dict) or obj.get("kind") != section:
                    self.verifier.damage(-1, "bundle", f"a record in the {section} frame")
                    continue
                yield obj

    def check_manifest(self) -> bool:
        return self.reader.check_index()


def bundle_format(path: Path) -> str:
    """Which format a file claims by its first bytes (v2: the zstd preamble; else v1)."""
    try:
        with path.open("rb") as f:
            start = f.read(4)
    except OSError as e:
        raise BundleError(f"无法读取审计包 {path}：{e}", f"cannot read {path}: {e}") from None
    return FORMAT_V2 if start == PREAMBLE_MAGIC.to_bytes(4, "little") else FORMAT_V1


def open_writer(path: Path, fmt: str = FORMAT) -> BundleWriter | WriterV2:
    if fmt == FORMAT_V1:
        return BundleWriter(path)
    if fmt == FORMAT_V2:
        return WriterV2(path)
    raise ValidationError(
        f"未知的审计包格式：{fmt}", f"unknown bundle format {fmt!r} (ssj-audit-bundle/1 or /2)"
    )


def records(path: Path) -> Iterator[dict[str, Any]]:
    """Every record of a bundle of either format as a v1 line object (events with base64
    fields), without the manifest or index; for tools and tests (nothing is checked)."""
    scratch = LedgerVerifier(offline_mapper())
    if bundle_format(path) == FORMAT_V1:
        for line in path.read_bytes().splitlines():
            obj = orjson.loads(line)
            if obj.get("kind") != "manifest":
                yield obj
        return
    for item in _Frames(path, scratch):
        if not isinstance(item, EventBlock):
            yield item
            continue
        for row, ev, state in item.rows():
            event = None if ev is None else event_of_record((ev, state))
            yield row_json("event", row, event)


def verify_bundle(
    path: Path,
    outside: Sequence[str] = (),
    trusted_keys: Sequence[str] = (),
    jobs: int | None = None,
    progress: Progress | None = None,
    select: Selection = frozenset(),
    witness_keys: Sequence[str] = (),
    quorum: int = 0,
) -> BundleResult:
    """Check a bundle with no database: the file, every envelope, key, signature, link, seq,
    the Merkle roots against every checkpoint (bundled and `outside`), consistency between
    them, and the inclusion of every context envelope. The seqs of sealed events of the
    aggregates in `select` are listed in `result.selected`."""
    outside_cps = [unverified_checkpoint(s) for s in outside]
    verifier: LedgerVerifier | None = None
    result = BundleResult(Report())
    # Damage found before the verifier exists goes to a scratch one, merged later.
    scratch = LedgerVerifier(offline_mapper())
    fmt = bundle_format(path)
    lines: _Lines | _Frames = _Lines(path, scratch) if fmt == FORMAT_V1 else _Frames(path, scratch)
    contexts: list[ContextEntry] = []
    checkpoints: list[tuple[int, int, str]] = []  # (record seq, size, signed note)
    frontier: tuple[int, list[bytes]] | None = None
    proofs: dict[tuple[int, int], list[bytes]] = {}
    total = 0
    header_seen = False

    def start() -> LedgerVerifier:
        nonlocal jobs
        sizes = {size for _, size, _ in checkpoints}
        sizes |= {cp.size for cp in outside_cps if cp is not None}
        sizes |= {s for pair in proofs for s in pair}
        if jobs is None:
            jobs = (os.cpu_count() or 1) if total >= PARALLEL_FROM else 1
        v = LedgerVerifier(scratch.mapper, sizes, jobs=jobs, origin=result.header.get("origin"))
        v.to_notification = event_of_record
        v.report.damage.extend(scratch.report.damage)
        lines.verifier = v
        _start_range(v, result, contexts, frontier)
        return v

    done = 0
    selected = result.selected
    try:
        for obj in lines:
            if isinstance(obj, EventBlock):  # v2: a frame of events, the hot path
                if verifier is None:
                    verifier = start()
                check_row = verifier.check_row
                for (seq, nid, data, signature), ev, state in obj.rows():
                    if ev is None:
                        fields = None
                    else:
                        topic = ev[3]
                        fields = (ev[1], ev[2], topic, state, (ev, state))
                        if select and (aggregate := topic.rpartition(".")[0]) in select:
                            selected.append((seq, aggregate, ev[1]))
                    check_row(seq, nid, data, signature, fields)
                result.events += len(obj.seqs)
                done += len(obj.seqs)
                if progress is not None:
                    progress(done, total)
                continue
            kind = obj["kind"]
            try:
                if kind == "event" and verifier is not None:
                    # The hot path: plain values straight from the line, each decoded once.
                    seq = int(obj["seq"])
                    ev = obj["event"]
                    if ev is None:
                        fields = None
                    else:
                        topic = ev["topic"]
                        int(ev["notification_id"])
                        fields = (
                            ev["originator_id"],
                            ev["originator_version"],
                            topic,
                            unb64(ev["state"]),
                            ev,
                        )
                        if select and (aggregate := topic.rpartition(".")[0]) in select:
                            selected.append((seq, aggregate, ev["originator_id"]))
                    verifier.check_row(
                        seq,
                        int(obj["notification_id"]),
                        unb64(obj["envelope"]),
                        unb64(obj["signature"]),
                        fields,
                    )
                    result.events += 1
                    done += 1
                    if progress is not None and done % PROGRESS_EVERY == 0:
                        progress(done, total)
                elif kind == "header":
                    if header_seen or obj.get("format") != fmt:
                        raise ValueError(f"header format {obj.get('format')!r}")
                    header_seen = True
                    result.header = obj
                    result.from_seq = int(obj["from_seq"])
                    to_seq = obj.get("to_seq")
                    total = int(obj.get("events", 0))
                    result.to_seq = -1 if to_seq is None else int(to_seq)
                elif not header_seen:
                    raise ValueError("no header line first")
                elif kind == "key":
                    result.keys.append(obj)
                elif kind == "context":
                    row, event = row_from_json(obj)
                    proof = [bytes.fromhex(h) for h in obj["proof"]]
                    contexts.append(ContextEntry(row, event, proof, int(obj["size"])))
                elif kind == "checkpoint":
                    checkpoints.append((int(obj["seq"]), int(obj["size"]), str(obj["note"])))
                elif kind == "frontier":
                    frontier = (int(obj["size"]), [bytes.fromhex(h) for h in obj["hashes"]])
                elif kind == "consistency":
                    key = (int(obj["old_size"]), int(obj["new_size"]))
                    proofs[key] = [bytes.fromhex(h) for h in obj["proof"]]
                elif kind == "event":
                    verifier = start()
                    row, event = row_from_json(obj)
                    verifier.feed(((row, event),))
                    result.events += 1
                    if event is not None:
                        aggregate = event.topic.rpartition(".")[0]
                        if aggregate in select:
                            selected.append((row[0], aggregate, obj["event"]["originator_id"]))
                    done += 1
                    if progress is not None and done % PROGRESS_EVERY == 0:
                        progress(done, total)
                else:  # unsealed
                    if verifier is None:
                        verifier = start()
                    verifier.unsealed(int(obj["seq"]), event_from_json(obj["event"]))
                    result.unsealed += 1
            except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as e:
                (verifier or scratch).damage(-1, "bundle", f"{kind} record: {e}")
        if verifier is None:
            verifier = start()
        if result.to_seq >= 0:
            _after_range(verifier, result, contexts)
    finally:
        report = (verifier or scratch).finish()
    if progress is not None:
        progress(done, total)
    result.report = report
    result.bundle_bytes = lines.size
    result.body_sha256 = lines.total.hexdigest()
    result.manifest_ok = lines.check_manifest()
    if result.to_seq < 0:
        result.to_seq = verifier.size - 1
    roots = _check_checkpoints(verifier, result, checkpoints, trusted_keys)
    _check_consistency(verifier, result, checkpoints, proofs, roots)
    _check_inclusion(verifier, result, contexts, roots)
    _check_outside(verifier, result, outside, outside_cps, trusted_keys, roots)
    if witness_keys or quorum:
        check_quorum(verifier, witness_keys, quorum, outside)
    return result


def _start_range(
    v: LedgerVerifier,
    result: BundleResult,
    contexts: list[ContextEntry],
    frontier: tuple[int, list[bytes]] | None,
) -> None:
    """For a range from seq A > 0: the key ring events before A, then the tree and chain at A."""
    a = result.from_seq
    for c in sorted(contexts, key=lambda c: c.row[0]):
        if c.row[0] < a:
            seq, nid, data, signature = c.row
            v.check_context(seq, nid, data, signature, c.event)
    if a == 0:
        return
    before = [c for c in contexts if c.row[0] == a - 1]
    prev = GENESIS_PREV
    last_nid = 0
    if before:
        prev = (v.suite or DEFAULT).digest(before[0].row[2])
        last_nid = before[0].row[1]
    else:
        v.damage(a, "chain", f"the envelope before seq {a} is not in the bundle")
    try:
        if frontier is None or frontier[0] != a:
            raise ValueError(f"no frontier at size {a}")
        tree = merkle.CompactRange(a, frontier[1], (v.suite or DEFAULT).tree)
    except ValueError as e:
        v.damage(a, "frontier", str(e))
        tree = merkle.CompactRange(tree=(v.suite or DEFAULT).tree)
    v.start_at(tree, prev, last_nid)


def _after_range(v: LedgerVerifier, result: BundleResult, contexts: list[ContextEntry]) -> None:
    """Key ring events after the range (a revocation can reach back into it)."""
    for c in sorted(contexts, key=lambda c: c.row[0]):
        if c.row[0] > result.to_seq:
            seq, nid, data, signature = c.row
            v.check_context(seq, nid, data, signature, c.event)


def _computed_root(v: LedgerVerifier, size: int, lo: int) -> bytes | None:
    """The root we rebuilt ourselves at `size`, if the streamed range reaches it."""
    if lo <= size <= v.tree.size:
        return v.roots.get(size)
    return None


def _check_checkpoints(
    v: LedgerVerifier,
    result: BundleResult,
    checkpoints: list[tuple[int, int, str]],
    trusted_keys: Sequence[str],
) -> dict[int, bytes]:
    """Roots at every known size: recomputed where the range reaches, else from a checkpoint
    signed by a key valid when it was recorded. Bundled checkpoints recorded inside the range
    were already checked as the stream passed them; here the others, and the trusted keys."""
    roots: dict[int, bytes] = {}
    lo = result.from_seq
    for size in v.roots:
        root = _computed_root(v, size, lo)
        if root is not None:
            roots[size] = root
    result.checkpoints = len(checkpoints)
    for seq, size, signed in checkpoints:
        in_range = lo <= seq <= result.to_seq
        if trusted_keys:
            try:
                note.verify(signed, list(trusted_keys))
            except note.NoteError as e:
                v.damage(seq, "untrusted", e.en)
                continue
        if in_range:
            cp = unverified_checkpoint(signed)
            if cp is not None and cp.size in roots:
                result.roots_checked += 1
                result.covered_to = max(result.covered_to, cp.size)
            continue
        cp = v.open_checkpoint(seq, signed, v.verifiers_at(seq))
        if cp is None:
            continue
        if cp.size != size:
            v.damage(seq, "checkpoint", f"listed size {size}, signed size {cp.size}")
            continue
        known = roots.get(cp.size)
        if known is None:
            roots[cp.size] = cp.root_hash
        elif known != cp.root_hash:
            v.damage(seq, "checkpoint", f"root at size {cp.size} differs")
            continue
        else:
            result.roots_checked += 1
        result.covered_to = max(result.covered_to, cp.size)
    return roots


def _check_consistency(
    v: LedgerVerifier,
    result: BundleResult,
    checkpoints: list[tuple[int, int, str]],
    proofs: dict[tuple[int, int], list[bytes]],
    roots: dict[int, bytes],
) -> None:
    """Successive sizes (every checkpoint, and a range's ends) by RFC 9162 consistency proofs."""
    record_seq = {size: seq for seq, size, _ in checkpoints}
    sizes = {size for _, size, _ in checkpoints if size in roots}
    if not result.full:
        sizes |= {result.from_seq, v.tree.size}
    ordered = sorted(sizes)
    for old, new in itertools.pairwise(ordered):
        at = record_seq.get(new, max(new - 1, 0))
        if old not in roots or new not in roots:
            v.damage(at, "consistency", f"no root known at size {old if old not in roots else new}")
            continue
        proof = proofs.get((old, new))
        if proof is None:
            v.damage(at, "consistency", f"no proof for sizes {old} -> {new} in the bundle")
            continue
        result.consistency_proofs += 1
        if not v.tree.tree.verify_consistency(old, new, roots[old], roots[new], proof):
            v.damage(at, "consistency", f"sizes {old} -> {new}")
        elif new > result.covered_to and new in record_seq:
            result.covered_to = new


def _check_inclusion(
    v: LedgerVerifier,
    result: BundleResult,
    contexts: list[ContextEntry],
    roots: dict[int, bytes],
) -> None:
    tree = v.tree.tree
    for c in contexts:
        seq, _, data, _ = c.row
        root = roots.get(c.size)
        if root is None:
            v.damage(seq, "inclusion", f"no root known at size {c.size}")
            continue
        result.inclusion_proofs += 1
        if not tree.verify_inclusion(tree.leaf_hash(data), seq, c.size, c.proof, root):
            v.damage(seq, "inclusion", f"seq {seq} in tree size {c.size}")


def _check_outside(
    v: LedgerVerifier,
    result: BundleResult,
    outside: Sequence[str],
    parsed: Sequence[Checkpoint | None],
    trusted_keys: Sequence[str],
    roots: dict[int, bytes],
) -> None:
    every_key: list[note.Verifier | str] = [s.verifier for s in v.keys.values()]
    keys: Sequence[note.Verifier | str] = list(trusted_keys) or every_key
    for signed, cp in zip(outside, parsed, strict=True):
        v.report.outside_checkpoints += 1
        at = max(cp.size - 1, 0) if cp is not None else 0
        if cp is None or result.full or result.from_seq <= cp.size <= v.tree.size:
            # Within what we rebuilt (or a full bundle, where a longer one means truncation).
            v.check_checkpoint(at, signed, keys)
            continue
        checked = v.open_checkpoint(at, signed, keys)
        if checked is None:
            continue
        root = roots.get(checked.size)
        if root is None:
            v.damage(
                at,
                "out_of_range",
                f"size {checked.size}, bundle covers {result.from_seq}–{v.tree.size}",
            )
        elif root != checked.root_hash:
            v.damage(at, "checkpoint", f"root at size {checked.size} differs")
