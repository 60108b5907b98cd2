"""Reading an Office Open XML package (an .xlsx file) without trusting it.

A ZIP's declared sizes are not believed. Each part is inflated here from its local header in
bounded chunks, counting what comes out and what went in, so a part that inflates beyond its
limit, all parts together beyond theirs, or a part far beyond what its compressed bytes can
honestly hold (the ratio, checked once a part has produced `GRACE` bytes) is refused while it
streams; its CRC-32 is checked when read to the end. The central directory's size is checked
before `zipfile` lists it, so a ZIP of millions of tiny entries is refused without listing them.

XML is parsed with expat in the same chunks (`parse`): no DOCTYPE (so no entity declarations),
no token (a tag, a comment) longer than `MAX_TOKEN` bytes and no nesting deeper than
`MAX_DEPTH`, so expat's own buffers stay small whatever the part holds. Writers use different
namespace prefixes, so names are compared without them (`local`).
"""

from __future__ import annotations

import posixpath
import pyexpat
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from ssj.config import ImportLimits
from ssj.imports.errors import ImportFileError, over

CHUNK = 1 << 16
GRACE = 1 << 20  # a part's ratio is checked once it has produced this many bytes
MAX_TOKEN = 1 << 20
MAX_DEPTH = 64
MAX_DIRECTORY = 4 << 20  # central-directory bytes: tens of thousands of parts
_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")


def broken(name: str, detail: object) -> ImportFileError:
    return ImportFileError(*_broken_text(name, detail))


def _broken_text(name: str, detail: object) -> tuple[str, str]:
    return (
        f"无法读取 {name}：文件已损坏或格式不受支持（{detail}）",
        f"cannot read {name}: the file is damaged or in an unsupported format ({detail})",
    )


class NotAZip(ImportFileError):
    """The bytes start like a ZIP but do not open as one."""


class Package:
    """The parts of one ZIP file, each read in bounded chunks under `limits`."""

    def __init__(self, path: Path, limits: ImportLimits, name: str | None = None) -> None:
        self.path = path
        self.name = name or path.name
        self.limits = limits
        self._check_directory()
        try:
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error) as e:
            raise NotAZip(*_broken_text(self.name, e)) from e
        self._infos = {info.filename: info for info in infos}
        self._folded = {name.casefold(): name for name in self._infos}
        self._sizes: dict[str, int] = {}  # bytes produced per part, the most of any pass

    def names(self) -> list[str]:
        return list(self._infos)

    def find(self, part: str) -> str | None:
        """The part's name as stored; OPC part names compare without case."""
        if part in self._infos:
            return part
        return self._folded.get(part.casefold())

    def size(self, part: str) -> int:
        """Bytes the part has produced so far (its whole size once read to the end)."""
        return self._sizes.get(part, 0)

    def chunks(self, part: str) -> Iterator[bytes]:
        """The part's inflated bytes, at most CHUNK at a time, limits checked as they come."""
        info = self._infos[part]
        if info.flag_bits & 0x1:
            raise ImportFileError(
                f"{self.name} 已加密：请在 Excel 中取消密码保护后另存再导入",
                f"{self.name} is encrypted: remove the password in Excel, save and import that",
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise broken(self.name, f"{part}: compression method {info.compress_type}")
        with self.path.open("rb") as handle:
            handle.seek(info.header_offset)
            header = handle.read(30)
            if len(header) < 30 or header[:4] != b"PK\x03\x04":
                raise broken(self.name, f"{part}: bad local header")
            name_length, extra_length = struct.unpack("<HH", header[26:30])
            handle.seek(info.header_offset + 30 + name_length + extra_length)
            if info.compress_type == zipfile.ZIP_STORED:
                blocks = self._stored(handle, part, info.compress_size)
            else:
                blocks = self._deflated(handle, part)
            crc = 0
            for block in blocks:
                crc = zlib.crc32(block, crc)
                yield block
        if crc != info.CRC:
            raise broken(self.name, f"{part}: CRC-32 mismatch")

    def _stored(self, handle: BinaryIO, part: str, length: int) -> Iterator[bytes]:
        produced = 0
        while produced < length:
            block = handle.read(min(CHUNK, length - produced))
            if not block:
                raise broken(self.name, f"{part}: truncated")
            produced += len(block)
            self._count(part, produced, produced)
            yield block

    def _deflated(self, handle: BinaryIO, part: str) -> Iterator[bytes]:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        consumed = produced = 0
        try:
            while not inflater.eof:
                raw = handle.read(CHUNK)
                if not raw:
                    raise broken(self.name, f"{part}: truncated")
                consumed += len(raw)
                block = inflater.decompress(raw, CHUNK)
                while True:
                    if block:
                        produced += len(block)
                        used = consumed - len(inflater.unconsumed_tail) - len(inflater.unused_data)
                        self._count(part, produced, used)
                        yield block
                    if inflater.eof or not inflater.unconsumed_tail:
                        break
                    block = inflater.decompress(inflater.unconsumed_tail, CHUNK)
            rest = inflater.flush()  # at most a few hundred bytes a block kept back
            if rest:
                produced += len(rest)
                self._count(part, produced, consumed)
                yield rest
        except zlib.error as e:
            raise broken(self.name, f"{part}: {e}") from e

    def _count(self, part: str, produced: int, used: int) -> None:
        limits = self.limits
        if produced > limits.member_bytes:
            raise over(
                self.name,
                "member_bytes",
                limits.member_bytes,
                f"其中的 {part} 解压后过大",
                f"its part {part} inflates to more than that",
            )
        if limits.ratio and produced > GRACE and produced > limits.ratio * used:
            raise over(
                self.name,
                "ratio",
                limits.ratio,
                f"其中的 {part} 解压后是压缩数据的 {produced // max(used, 1):,} 倍以上"
                "（压缩炸弹的特征）",
                f"its part {part} inflates to more than {produced // max(used, 1):,} times its "
                "compressed size (the mark of a zip bomb)",
            )
        if produced > self._sizes.get(part, 0):
            self._sizes[part] = produced
            total = sum(self._sizes.values())
            if total > limits.unzipped_bytes:
                raise over(
                    self.name,
                    "unzipped_bytes",
                    limits.unzipped_bytes,
                    "解压后的内容合计过大",
                    "its parts inflate to more than that together",
                )

    def _check_directory(self) -> None:
        """Refuse a central directory too large for a workbook before zipfile lists it."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(0, 2)
                end = handle.tell()
                start = max(0, end - _EOCD.size - 0xFFFF)
                handle.seek(start)
                tail = handle.read()
                at = tail.rfind(b"PK\x05\x06")
                if at < 0 or len(tail) - at < _EOCD.size:
                    raise NotAZip(*_broken_text(self.name, "no ZIP end record"))
                fields = _EOCD.unpack_from(tail, at)
                entries, directory = fields[4], fields[5]
                if (entries == 0xFFFF or directory == 0xFFFFFFFF) and at >= _ZIP64_LOCATOR.size:
                    locator = _ZIP64_LOCATOR.unpack_from(tail, at - _ZIP64_LOCATOR.size)
                    if locator[0] == b"PK\x06\x07":
                        handle.seek(locator[2])
                        record = handle.read(_ZIP64_EOCD.size)
                        if len(record) == _ZIP64_EOCD.size and record[:4] == b"PK\x06\x06":
                            values = _ZIP64_EOCD.unpack(record)
                            entries, directory = values[7], values[8]
        except OSError as e:
            raise broken(self.name, e) from e
        if directory > MAX_DIRECTORY:
            raise ImportFileError(
                f"{self.name} 的 ZIP 目录异常庞大（{entries:,} 项，{directory:,} 字节），"
                "不是正常的 Excel 工作簿",
                f"{self.name} has an abnormally large ZIP directory ({entries:,} entries, "
                f"{directory:,} bytes): not a normal Excel workbook",
            )


class Handler:
    """What `parse` calls. Subclasses bump `ticks` in `start` and `text` (the parser's sign of
    progress), keep `depth`, and set `done` to stop early."""

    def __init__(self) -> None:
        self.ticks = 0
        self.depth = 0
        self.done = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.ticks += 1
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ValueError(f"elements nested deeper than {MAX_DEPTH}")

    def end(self, name: str) -> None:
        self.depth -= 1

    def text(self, data: str) -> None:
        self.ticks += 1


def parse(chunks: Iterable[bytes], handler: Handler, name: str, part: str) -> Iterator[None]:
    """Feed `chunks` to expat with `handler`; yields after each chunk, so a caller can hand on
    what the handler gathered. Stops when the handler is done."""
    parser = expat(handler)
    quiet, seen = 0, handler.ticks
    source = iter(chunks)
    try:
        for chunk in source:
            parser.Parse(chunk, False)
            if handler.ticks != seen:
                quiet, seen = 0, handler.ticks
            else:
                quiet += len(chunk)
                if quiet > MAX_TOKEN:
                    raise ValueError(f"one XML token longer than {MAX_TOKEN:,} bytes")
            yield
            if handler.done:
                return
        parser.Parse(b"", True)
        yield
    except pyexpat.ExpatError as e:
        if handler.done:  # what follows the part of interest does not matter
            return
        raise broken(name, f"{part}: {e}") from e
    except (ValueError, KeyError, IndexError, OverflowError) as e:
        raise broken(name, f"{part}: {e}") from e
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()  # the part's file, when stopped early


def expat(handler: Handler) -> pyexpat.XMLParserType:
    """A parser calling `handler`, refusing a DOCTYPE (so no entity can be declared)."""
    parser = pyexpat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = CHUNK
    parser.StartDoctypeDeclHandler = _no_doctype
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.text
    return parser


def _no_doctype(*_: object) -> None:
    raise ValueError("a DOCTYPE, which spreadsheets never have")


LOCAL_NAMES: dict[str, str] = {}  # a cache; `LOCAL_NAMES.get(name) or local(name)` in hot loops


def local(name: str) -> str:
    """`x:row` -> `row`: the name without its namespace prefix."""
    found = LOCAL_NAMES.get(name)
    if found is None:
        found = name.rpartition(":")[2]
        if len(LOCAL_NAMES) < 10_000:
            LOCAL_NAMES[name] = found
    return found


def attribute(attrs: dict[str, str], wanted: str) -> str | None:
    """An attribute by local name (`r:id` -> `id`)."""
    if wanted in attrs:
        return attrs[wanted]
    for key, value in attrs.items():
        if local(key) == wanted:
            return value
    return None


def resolve(source: str, target: str) -> str:
    """A relationship's target, relative to the part `source` ("" for the package)."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))
