"""`ssj-audit-bundle/2`: the bundle as Zstandard frames, one section per frame, with an index.

The file is a sequence of Zstandard frames (RFC 8878), so `zstd -dc` reads all of it:

    preamble   skippable frame (magic 0x184D2A50): the 19 bytes `ssj-audit-bundle/2\\n`
    sections   one or more zstd frames per section, in section order (`SECTIONS_V2`; unsealed
               frames among the event frames, where the exporter met them); each
               decompresses to one JSON line (the block head: {"section", "records", ...}) and
               then the block's payload (see below)
    index      skippable frame (magic 0x184D2A51): one JSON object, every frame's section,
               offset, length, records and SHA-256, and the SHA-256 of every byte before it
    trailer    skippable frame (magic 0x184D2A52, 16 bytes): the index frame's offset and length
               (unsigned 64-bit little-endian each), so a reader can seek from the end

Payloads: for every section but `event`, `records` JSON lines (the v1 objects, with `kind`).
For `event`, the head carries the columns (`seq`, `notification_id`, `envelope` and `signature`
byte lengths, `event`: per record [notification id, originator id, version, topic, state length]
or null) and the payload is every envelope, then every signature, then every state, concatenated
exactly as stored. The verifier reads the frames in order (frame boundaries from the frames
themselves, never from the index), then rebuilds the index from what it read and compares bytes.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import zstandard

from ssj.ledger.verify import EnvelopeRow

FORMAT_V2 = "ssj-audit-bundle/2"
SECTIONS_V2 = (
    "header",
    "key",
    "context",
    "checkpoint",
    "frontier",
    "consistency",
    "event",
    "unsealed",
)
# Unsealed records (stored events no envelope seals) sit among the event frames where the
# exporter met them, so they rank with the events.
RANK = {name: min(i, SECTIONS_V2.index("event")) for i, name in enumerate(SECTIONS_V2)}
SKIPPABLE = 0x184D2A50  # RFC 8878 §3.1.2: 0x184D2A50..5F
PREAMBLE_MAGIC, INDEX_MAGIC, TRAILER_MAGIC = SKIPPABLE, SKIPPABLE + 1, SKIPPABLE + 2
ZSTD_MAGIC = 0xFD2FB528
PREAMBLE = FORMAT_V2.encode() + b"\n"
FRAME_BYTES = 1 << 20  # a section's frame is closed once its content reaches this size
FRAME_RECORDS = 2048
MAX_CONTENT = 64 << 20  # a frame claiming more content than this is refused (no bombs)
LEVEL = 3

Damage = Callable[[str, str], None]  # (kind, detail)


def skippable(magic: int, content: bytes) -> bytes:
    return magic.to_bytes(4, "little") + len(content).to_bytes(4, "little") + content


@dataclass
class EventBlock:
    """One event frame, decoded: columns from its head, and the payload they slice."""

    seqs: list[int]
    nids: list[int]
    envelopes: list[int]  # byte lengths
    signatures: list[int]
    events: list[list[Any] | None]  # [nid, originator id, version, topic, state length]
    payload: memoryview

    def rows(self) -> Iterator[tuple[EnvelopeRow, list[Any] | None, bytes]]:
        """(row, event columns or None, state bytes) per record."""
        data = self.payload
        env_at = 0
        sig_at = sum(self.envelopes)
        state_at = sig_at + sum(self.signatures)
        for seq, nid, env_len, sig_len, ev in zip(
            self.seqs, self.nids, self.envelopes, self.signatures, self.events, strict=True
        ):
            envelope = bytes(data[env_at : env_at + env_len])
            signature = bytes(data[sig_at : sig_at + sig_len])
            env_at += env_len
            sig_at += sig_len
            state = b""
            if ev is not None:
                state = bytes(data[state_at : state_at + ev[4]])
                state_at += ev[4]
            yield (seq, nid, envelope, signature), ev, state

    def pick(self, wanted: Callable[[str], bool]) -> Iterator[tuple[int, list[Any], bytes, bytes]]:
        """(seq, event columns, state, envelope) of the records whose topic is `wanted`; the
        others are skipped unsliced."""
        data = self.payload
        env_at = 0
        state_at = sum(self.envelopes) + sum(self.signatures)
        for seq, env_len, ev in zip(self.seqs, self.envelopes, self.events, strict=True):
            if ev is not None:
                if wanted(ev[3]):
                    state = bytes(data[state_at : state_at + ev[4]])
                    yield seq, ev, state, bytes(data[env_at : env_at + env_len])
                state_at += ev[4]
            env_at += env_len

    @classmethod
    def of(cls, head: dict[str, Any], payload: memoryview) -> EventBlock:
        block = cls(
            [int(x) for x in head["seq"]],
            [int(x) for x in head["notification_id"]],
            [int(x) for x in head["envelope"]],
            [int(x) for x in head["signature"]],
            head["event"],
            payload,
        )
        n = int(head["records"])
        columns = (block.nids, block.envelopes, block.signatures, block.events)
        if len(block.seqs) != n or any(len(c) != n for c in columns):
            raise ValueError("columns of unequal length")
        states = 0
        for ev in block.events:
            if ev is None:
                continue
            # Written out, not `all(...)` over the indexes: two generators an event were a
            # fifth of an offline replay's CPU (2026-12-05). JSON gives exact types.
            if (
                type(ev) is not list
                or len(ev) != 5
                or type(ev[0]) is not int
                or type(ev[2]) is not int
                or type(ev[4]) is not int
                or type(ev[1]) is not str
                or type(ev[3]) is not str
                or ev[4] < 0
            ):
                raise ValueError("an event column entry is not [nid, id, version, topic, size]")
            states += ev[4]
        lengths = block.envelopes + block.signatures
        if min(lengths, default=0) < 0 or sum(lengths) + states != len(payload):
            raise ValueError("column lengths do not add up to the payload")
        return block


# Writing ---------------------------------------------------------------------------------------


class WriterV2:
    """Buffers each section's records and writes them as frames; `close` adds index and
    trailer. Sections out of order are refused, as in v1."""

    def __init__(self, path: Path, level: int = LEVEL) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".part")
        self.file: IO[bytes] = self.tmp.open("wb")
        self.compressor = zstandard.ZstdCompressor(
            level=level, write_checksum=True, write_content_size=True
        )
        self.total = hashlib.sha256()
        self.size = 0
        self.frames: list[dict[str, Any]] = []
        self.section = "header"
        self.lines: list[bytes] = []
        self.raw = 0
        self._reset_events()
        self._put(skippable(PREAMBLE_MAGIC, PREAMBLE))

    def _reset_events(self) -> None:
        self.seqs: list[int] = []
        self.nids: list[int] = []
        self.env_lens: list[int] = []
        self.sig_lens: list[int] = []
        self.events: list[list[Any] | None] = []
        self.envs: list[bytes] = []
        self.sigs: list[bytes] = []
        self.states: list[bytes] = []

    def _put(self, data: bytes) -> None:
        self.file.write(data)
        self.total.update(data)
        self.size += len(data)

    def _enter(self, section: str) -> None:
        if section == self.section:
            return
        if RANK[section] < RANK[self.section]:
            raise ValueError(f"section {section!r} after {self.section!r}")
        self.flush()
        self.section = section

    def write(self, obj: dict[str, Any]) -> None:
        """A record as a v1 line object (events too, decoded into columns)."""
        kind = obj["kind"]
        if kind == "event":
            from ssj.ledger.bundle import row_from_json

            row, event = row_from_json(obj)
            self.event(row, event)
            return
        line = orjson.dumps(obj) + b"\n"
        self._enter(kind)
        self.lines.append(line)
        self.raw += len(line)
        if self.raw >= FRAME_BYTES or len(self.lines) >= FRAME_RECORDS:
            self.flush()

    def event(self, row: EnvelopeRow, event: Any) -> None:
        """One sealed row and its stored event (a `Notification`, or None if missing)."""
        self._enter("event")
        seq, nid, data, signature = row
        self.seqs.append(seq)
        self.nids.append(nid)
        self.env_lens.append(len(data))
        self.sig_lens.append(len(signature))
        self.envs.append(data)
        self.sigs.append(signature)
        self.raw += len(data) + len(signature)
        if event is None:
            self.events.append(None)
        else:
            state = event.state
            self.events.append(
                [
                    event.id,
                    str(event.originator_id),
                    event.originator_version,
                    event.topic,
                    len(state),
                ]
            )
            self.states.append(state)
            self.raw += len(state)
        if self.raw >= FRAME_BYTES or len(self.seqs) >= FRAME_RECORDS:
            self.flush()

    def flush(self) -> None:
        """Write the buffered records of the current section as one frame."""
        extra: dict[str, Any] = {}
        if self.section == "event":
            n = len(self.seqs)
            if not n:
                return
            head = {
                "section": "event",
                "records": n,
                "seq": self.seqs,
                "notification_id": self.nids,
                "envelope": self.env_lens,
                "signature": self.sig_lens,
                "event": self.events,
            }
            content = b"".join([orjson.dumps(head), b"\n", *self.envs, *self.sigs, *self.states])
            extra = {"first_seq": self.seqs[0], "last_seq": self.seqs[-1]}
            self._reset_events()
        else:
            n = len(self.lines)
            if not n:
                return
            head_line = orjson.dumps({"section": self.section, "records": n})
            content = b"".join([head_line, b"\n", *self.lines])
            self.lines = []
        self.raw = 0
        frame = self.compressor.compress(content)
        self.frames.append(frame_entry(self.section, self.size, frame, len(content), n, extra))
        self._put(frame)

    def close(self) -> None:
        self.flush()
        index = index_json(self.frames, self.size, self.total.hexdigest())
        at = self.size
        frame = skippable(INDEX_MAGIC, index)
        self._put(frame)
        self._put(trailer(at, len(frame)))
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        self.tmp.replace(self.path)

    def abort(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


def trailer(index_at: int, index_length: int) -> bytes:
    return skippable(
        TRAILER_MAGIC, index_at.to_bytes(8, "little") + index_length.to_bytes(8, "little")
    )


def frame_entry(
    section: str, offset: int, frame: bytes | memoryview, content: int, records: int, extra: Any
) -> dict[str, Any]:
    return {
        "section": section,
        "offset": offset,
        "length": len(frame),
        "content": content,
        "records": records,
        **extra,
        "sha256": hashlib.sha256(frame).hexdigest(),
    }


def index_json(frames: list[dict[str, Any]], body: int, digest: str) -> bytes:
    """The index; the verifier rebuilds it from what it read and compares bytes."""
    sections = []
    for name in SECTIONS_V2:
        mine = [f for f in frames if f["section"] == name]
        if mine:
            sections.append(
                {
                    "name": name,
                    "frames": len(mine),
                    "records": sum(f["records"] for f in mine),
                    "bytes": sum(f["length"] for f in mine),
                }
            )
    return orjson.dumps(
        {
            "format": FORMAT_V2,
            "frames": frames,
            "sections": sections,
            "body": {"bytes": body, "sha256": digest},
        }
    )


# Reading ---------------------------------------------------------------------------------------


def frame_length(buf: Any, pos: int, end: int) -> int | None:
    """The length of the zstd frame at `pos` from its own block headers (RFC 8878 §3.1.1);
    None if the file ends inside it. Raises ValueError if it is not a valid frame."""
    try:
        params = zstandard.get_frame_parameters(buf[pos : pos + 18])
        p = pos + zstandard.frame_header_size(buf[pos : pos + 18])
    except zstandard.ZstdError as e:
        raise ValueError(f"bad frame header: {e}") from None
    while True:
        if p + 3 > end:
            return None
        h = int.from_bytes(buf[p : p + 3], "little")
        p += 3
        block_type = (h >> 1) & 3
        if block_type == 3:
            raise ValueError("reserved block type")
        p += 1 if block_type == 1 else h >> 3
        if h & 1:
            break
    if params.has_checksum:
        p += 4
    return None if p > end else p - pos


class FrameReader:
    """Reads a v2 file front to back, frame by frame: yields (section, head, payload) and
    hashes every byte; `check_index` then compares the stored index with the one rebuilt."""

    def __init__(self, path: Path, damage: Damage) -> None:
        self.path = path
        self.damage = damage
        self.total = hashlib.sha256()
        self.size = 0  # bytes before the index (hashed)
        self.frames: list[dict[str, Any]] = []
        self.index: bytes | None = None
        self.index_at = 0
        self.tail = b""  # what follows the index frame
        self.section = 0
        self.dctx = zstandard.ZstdDecompressor()

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any], memoryview]]:
        with self.path.open("rb") as f:
            try:
                buf: Any = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:  # empty file
                buf = b""
            try:
                if hasattr(buf, "madvise"):
                    buf.madvise(mmap.MADV_SEQUENTIAL)
                yield from self._frames(buf)
            finally:
                if isinstance(buf, mmap.mmap):
                    buf.close()

    def _frames(self, buf: Any) -> Iterator[tuple[str, dict[str, Any], memoryview]]:
        end = len(buf)
        if buf[: len(PREAMBLE) + 8] != skippable(PREAMBLE_MAGIC, PREAMBLE):
            self.damage("bundle", f"no {FORMAT_V2} preamble")
            return
        pos = len(PREAMBLE) + 8
        self._hash(buf, 0, pos)
        while pos < end:
            magic = int.from_bytes(buf[pos : pos + 4], "little")
            if magic == INDEX_MAGIC:
                self.index_at = pos
                n = int.from_bytes(buf[pos + 4 : pos + 8], "little")
                if pos + 8 + n > end:
                    break
                self.index = bytes(buf[pos + 8 : pos + 8 + n])
                self.tail = bytes(buf[pos + 8 + n :])
                return
            if magic != ZSTD_MAGIC:
                self.damage("bundle", f"no zstd frame at byte {pos}")
                return
            try:
                length = frame_length(buf, pos, end)
            except ValueError as e:
                self.damage("bundle", f"frame at byte {pos}: {e}")
                return
            if length is None:
                break
            frame = memoryview(buf)[pos : pos + length]
            entry = self._frame(frame, pos)
            self._hash(buf, pos, pos + length)
            pos += length
            if entry is not None:
                yield entry
        self.damage("bundle_truncated", f"the file ends at byte {end} before its index")

    def _hash(self, buf: Any, start: int, stop: int) -> None:
        self.total.update(memoryview(buf)[start:stop])
        self.size = stop

    def _frame(self, frame: memoryview, pos: int) -> tuple[str, dict[str, Any], memoryview] | None:
        """Decompress, split the head line, record the index entry; damage if unreadable."""
        entry = frame_entry("?", pos, frame, 0, 0, {})
        self.frames.append(entry)
        try:
            size = zstandard.frame_content_size(frame)
            if not 0 <= size <= MAX_CONTENT:
                raise ValueError(f"content size {size} not given or over {MAX_CONTENT}")
            raw = self.dctx.decompress(frame)
            cut = raw.find(b"\n")
            content = memoryview(raw)
            head = orjson.loads(content[:cut] if cut >= 0 else content)
            section = head["section"]
            if cut < 0 or section not in SECTIONS_V2:
                raise ValueError(f"no block head naming a section ({section!r})")
            records = int(head["records"])
        except (zstandard.ZstdError, ValueError, KeyError, TypeError) as e:
            self.damage("bundle", f"frame at byte {pos}: {e}")
            return None
        if RANK[section] < self.section:
            self.damage("bundle", f"frame at byte {pos}: {section} out of order")
        self.section = max(self.section, RANK[section])
        entry.update(section=section, content=len(content), records=records)
        if section == "event":
            seqs = head.get("seq") or [None]
            extra = {"first_seq": seqs[0], "last_seq": seqs[-1]}
            entry.update(extra)
            sha = entry.pop("sha256")
            entry["sha256"] = sha  # keep the writer's key order
        return section, head, content[cut + 1 :]

    def check_index(self) -> bool:
        """The stored index must be byte for byte the one the frames read produce, and the
        trailer must point at it and end the file."""
        if self.index is None:
            return False  # truncation was reported
        expected = index_json(self.frames, self.size, self.total.hexdigest())
        index_len = len(self.index) + 8
        if self.tail != trailer(self.index_at, index_len):
            self.damage("manifest", "the trailer does not point at the index, or data follows it")
            return False
        if expected == self.index:
            return True
        try:
            stored = orjson.loads(self.index)
            if stored.get("format") != FORMAT_V2:
                detail = f"format {stored.get('format')!r} is not {FORMAT_V2}"
            else:
                have = stored["frames"]
                want = orjson.loads(expected)["frames"]
                bad = [
                    f"{w['section']} frame at byte {w['offset']}"
                    for i, w in enumerate(want)
                    if i >= len(have) or have[i] != w
                ]
                if len(have) > len(want):
                    bad.append(f"{len(have) - len(want)} frames listed but not in the file")
                detail = "; ".join(bad[:5]) if bad else "the index itself differs"
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            detail = "the index does not parse"
        self.damage("manifest", detail)
        return False


def read_index(path: Path) -> dict[str, Any]:
    """The stored index, found from the trailer (for seeking; the verifier rebuilds it)."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        if end < 24:
            raise ValueError("too short for a trailer")
        f.seek(end - 24)
        tail = f.read(24)
        if tail[:8] != skippable(TRAILER_MAGIC, b"")[:4] + (16).to_bytes(4, "little"):
            raise ValueError("no trailer at the end")
        at = int.from_bytes(tail[8:16], "little")
        length = int.from_bytes(tail[16:24], "little")
        f.seek(at)
        frame = f.read(length)
    if frame[:4] != INDEX_MAGIC.to_bytes(4, "little") or len(frame) != length:
        raise ValueError("the trailer does not point at an index frame")
    return orjson.loads(frame[8:])  # type: ignore[no-any-return]


def read_frame(path: Path, entry: dict[str, Any]) -> tuple[dict[str, Any], memoryview]:
    """One frame by its index entry, its SHA-256 checked: (head, payload)."""
    with path.open("rb") as f:
        f.seek(int(entry["offset"]))
        frame = f.read(int(entry["length"]))
    if hashlib.sha256(frame).hexdigest() != entry["sha256"]:
        raise ValueError(f"frame at byte {entry['offset']}: SHA-256 differs from the index")
    raw = zstandard.ZstdDecompressor().decompress(frame)
    cut = raw.index(b"\n")
    return orjson.loads(raw[:cut]), memoryview(raw)[cut + 1 :]


def read_events(
    path: Path, first: int, last: int
) -> Iterator[tuple[EnvelopeRow, list[Any] | None, bytes]]:
    """Seqs first..last (inclusive) by seeking: only the frames that hold them are read."""
    for entry in read_index(path)["frames"]:
        if entry["section"] != "event" or entry["last_seq"] < first or entry["first_seq"] > last:
            continue
        head, payload = read_frame(path, entry)
        for row, ev, state in EventBlock.of(head, payload).rows():
            if first <= row[0] <= last:
                yield row, ev, state
