"""Crafted files from the hostile probe of issue #16, built small and fast.

A bomb's big part is one deflated block of about 1 MiB repeated: a block compressed up to a full
flush is byte-aligned and refers only to its own bytes, so copies of it concatenate into a valid
stream of any length without compressing that length. The ZIP is written by hand, so a part's
declared sizes and CRC can say anything (the reader must not believe them).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

from ssj.domain.identifiers import organization_code_check_character, uscc_check_character

MIB = 1 << 20

CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/></Types>'
)
ROOT_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="\xe6\xb8\x85\xe5\x8d\x95" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
BOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)
SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
SHEET_TAIL = b"</sheetData></worksheet>"
STRINGS_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
)


def inline(row: int, values: Sequence[str]) -> bytes:
    """One row of inline-string cells (A, B, C, ...)."""
    cells = "".join(
        f'<c r="{chr(65 + i)}{row}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{row}">{cells}</row>'.encode()


class Part:
    """A part's raw deflate stream, with what its header will declare."""

    def __init__(self, stream: bytes, size: int, crc: int) -> None:
        self.stream, self.size, self.crc = stream, size, crc

    @classmethod
    def of(cls, data: bytes) -> Part:
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        return cls(packer.compress(data) + packer.flush(), len(data), zlib.crc32(data))

    @classmethod
    def repeated(
        cls, head: bytes, unit: bytes, total: int, tail: bytes, *, honest: bool = False
    ) -> Part:
        """`head`, then `unit` repeated to about `total` bytes, then `tail`. The declared size is
        the head's and tail's alone, a lie as a crafted file may tell, and so is the CRC unless
        `honest` (then it is computed, for parts meant to be read to the end)."""
        copies = max(1, MIB // len(unit))
        block = unit * copies
        blocks = max(1, total // len(block))
        first = zlib.compressobj(9, zlib.DEFLATED, -15)
        start = first.compress(head) + first.flush(zlib.Z_FULL_FLUSH)
        middle = zlib.compressobj(9, zlib.DEFLATED, -15)
        repeated = middle.compress(block) + middle.flush(zlib.Z_FULL_FLUSH)
        last = zlib.compressobj(9, zlib.DEFLATED, -15)
        end = last.compress(tail) + last.flush()
        crc = 0
        if honest:
            crc = zlib.crc32(head)
            for _ in range(blocks):
                crc = zlib.crc32(block, crc)
            crc = zlib.crc32(tail, crc)
        return cls(start + repeated * blocks + end, len(head) + len(tail), crc)


def write_zip(path: Path, parts: dict[str, Part]) -> Path:
    """A ZIP of deflated parts, headers as each part declares."""
    body = bytearray()
    directory = bytearray()
    for name, part in parts.items():
        encoded = name.encode()
        offset = len(body)
        fields = (20, 0, 8, 0, 0x21, part.crc, len(part.stream), part.size, len(encoded), 0)
        body += b"PK\x03\x04" + struct.pack("<5H3L2H", *fields) + encoded + part.stream
        directory += (
            b"PK\x01\x02" + struct.pack("<6H3L5H2L", 20, *fields, 0, 0, 0, 0, offset) + encoded
        )
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(parts), len(parts), len(directory), len(body), 0
    )
    path.write_bytes(bytes(body + directory + end))
    return path


def workbook(path: Path, sheet: Part, strings: Part | None = None) -> Path:
    parts = {
        "[Content_Types].xml": Part.of(CONTENT_TYPES),
        "_rels/.rels": Part.of(ROOT_RELS),
        "xl/workbook.xml": Part.of(WORKBOOK),
        "xl/_rels/workbook.xml.rels": Part.of(BOOK_RELS),
        "xl/worksheets/sheet1.xml": sheet,
    }
    if strings is not None:
        parts["xl/sharedStrings.xml"] = strings
    return write_zip(path, parts)


HEADER = ["事项编码", "事项名称", "法律依据"]


def last_row_bomb(
    path: Path, header: Sequence[str] = HEADER, row: Sequence[str] = ("A-1", "名称", "《法》")
) -> Path:
    """2 KB: a header, one row, and one cell at row 1,048,576 (Excel's last)."""
    sheet = SHEET_HEAD + inline(1, header) + inline(2, row)
    sheet += b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>Z</t></is></c></row>'
    return workbook(path, Part.of(sheet + SHEET_TAIL))


ROW = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>'


def sheet_bomb(
    path: Path,
    inflated: int = 1 << 30,
    unit: bytes = b" ",
    *,
    honest: bool = False,
    header: Sequence[str] = HEADER,
) -> Path:
    """About 1 MB whose sheet inflates to `inflated` bytes: a header row, then `unit` repeated
    (spaces between rows by default, or `ROW`, one-cell rows, three times as large zipped)."""
    head = SHEET_HEAD + inline(1, header)
    return workbook(path, Part.repeated(head, unit, inflated, SHEET_TAIL, honest=honest))


def long_string_bomb(path: Path, length: int = 512 * MIB, header: Sequence[str] = HEADER) -> Path:
    """About 0.5 MB with one shared string of `length` characters."""
    sheet = SHEET_HEAD + inline(1, header)
    sheet += b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>' + SHEET_TAIL
    strings = Part.repeated(
        STRINGS_HEAD + b' count="1" uniqueCount="1"><si><t>', b"A", length, b"</t></si></sst>"
    )
    return workbook(path, Part.of(sheet), strings)


def many_strings_bomb(
    path: Path,
    count: int = 20_000_000,
    *,
    declared: bool = True,
    header: Sequence[str] = HEADER,
) -> Path:
    """About 0.8 MB with `count` shared strings (the last one used by the sheet)."""
    sheet = SHEET_HEAD + inline(1, header)
    sheet += f'<row r="2"><c r="A2" t="s"><v>{count - 1}</v></c></row>'.encode() + SHEET_TAIL
    unit = b"<si><t>a</t></si>"
    counts = f' count="{count}" uniqueCount="{count}">'.encode() if declared else b">"
    strings = Part.repeated(STRINGS_HEAD + counts, unit, count * len(unit), b"</sst>")
    return workbook(path, Part.of(sheet), strings)


def csv_bomb(path: Path, size: int = 200 * MIB, *, distinct: bool = False) -> Path:
    """A CSV of about `size` bytes of target rows and one bad last row. The file repeats one
    block of 10,000 rows unless `distinct` (each row a valid identifier of its own: slower to
    write, about 16 µs a row, for tests that read the file rather than refuse it for its size).
    Why the block is made once: formatting 1.4 million rows took 15 CPU-s a 200 MB file."""
    header = "统一社会信用代码,名称,地址,行政区划代码,对象类型,责任部门,信用风险分类\n"
    line = "{},常州某某机械制造有限公司第{:08d}号,常州市天宁区青龙街道某某路{}号,320402,企业,CZ-SJJ-TZ,B\n"

    def rows(start: int) -> bytes:
        return "".join(
            line.format(identifier(n), n, n % 997) for n in range(start, start + 10_000)
        ).encode()

    block = b"" if distinct else rows(0)
    with path.open("wb") as handle:
        handle.write(header.encode())
        written = n = 0
        while written < size:
            chunk = rows(n) if distinct else block
            handle.write(chunk)
            written += len(chunk)
            n += 10_000
        handle.write("坏行,,,,,,\n".encode())
    return path


def identifier(n: int) -> str:
    body = f"MA{n:07d}"[-8:]
    first17 = "91320402" + body + organization_code_check_character(body)
    return first17 + uscc_check_character(first17)
