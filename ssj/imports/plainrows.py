"""A fast path for a worksheet's plain rows: one regular expression per row, no Python call per
XML event (expat's five callbacks per cell were most of an XLSX import's reading time).

Only rows written the plain way are read here: `<row r="N" …>` of ASCII attributes, and cells
`<c r="A1" s="3" t="s">` (those attributes only, in that order, each optional) holding nothing
or one `<v>` of ASCII text without `<`, `&` or `>`, with whitespace only between elements. Such
bytes are well-formed XML by construction (the only check left, that a row's other attributes
are distinct, is made here), carry no entity, CDATA, comment or namespace, and mean the same
in any ASCII-compatible encoding, so they need no XML parser. Everything before `<sheetData>`
still goes through expat and the reference handler (`enter`), which refuses a DOCTYPE, a row
outside `sheetData`, deep nesting and malformed XML as before.

The scanner never raises on the file's account. At the first thing it does not read exactly as
the reference would (formulas, inline or rich text, an entity, CDATA, a comment, a prefixed
name, odd attributes or quoting, a row out of order or beyond a limit, a value that does not
convert, a row longer than `MAX_TOKEN`, the end of the part before `</sheetData>`, the part
going beyond a limit or found damaged while inflated), it stops
(`finished` stays False) and the caller reads the part with the reference handler from the
start, skipping the rows already given: the same rows, values, limits and errors. A row is
given only once every byte of the chunk it ended in has been read here (the row running on
into the next chunk included): the reference stops at an error within the chunk, so it would
have given every such row too, and none is given that it would not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from ssj.imports.errors import ImportFileError
from ssj.imports.ooxml import MAX_TOKEN

Cells = list[object]
Row = tuple[int, Cells]

_SPACE = rb"[ \t\r\n]*"
_TEXT = rb"[\t\n !-%'-;=?-~]*"  # printable ASCII without < & > (so no ]]>), tab, newline
_VALUE = rb"[ !#-%'-;=-~]*"  # an attribute's: printable ASCII without " & <
_CELL = (
    rb'<c(?: r="[A-Z]{1,3}[0-9]{0,7}")?(?: s="[0-9]{1,9}")?(?: t="(?:s|n|str|b|e|d)")?'
    rb"(?: ?/>|>" + _SPACE + rb"(?:<v>" + _TEXT + rb"</v>" + _SPACE + rb")?</c>)"
)
_ROW = re.compile(
    _SPACE
    + rb'(?:<row(?: r="([0-9]{1,9})")?((?: (?!r=)[A-Za-z_][\w.:-]*="'
    + _VALUE
    + rb'")*)(?:/>|>((?:'
    + _SPACE
    + _CELL
    + rb")*)"
    + _SPACE
    + rb"</row>)|(</sheetData>))"
)
_CELLS = re.compile(
    rb'<c(?: r="([A-Z]{1,3})[0-9]*")?(?: s="([0-9]+)")?(?: t="([a-z]+)")?'
    rb"(?: ?/>|>\s*(?:(<v>)([^<]*)</v>)?)"
)
_NAMES = re.compile(rb' ([^=]+)="')
_RECENT = 4096  # shared strings kept decoded: a column of a few values reads each once
_START = b"<sheetData>"
_ENDS = (b"</row>", b"</sheetData>")


class Strings(Protocol):
    def __getitem__(self, index: int, /) -> str: ...


class PlainRows:
    """Reads the plain rows of one worksheet part; see the module's rule."""

    def __init__(
        self,
        strings: Strings,
        value: Callable[[str, str, int], object],
        rows: int,
        columns: int,
        cell_chars: int,
    ) -> None:
        self.strings = strings
        self.value = value  # a cell that is not a shared string: (type, text, style) -> value
        self.max_rows, self.max_columns, self.max_chars = rows, columns, cell_chars
        self.finished = False  # read to </sheetData>; otherwise the caller reads the rest
        self.given = 0  # rows given so far
        self._rownum = 0
        self._attributes: dict[bytes, bool] = {}
        self._letters: dict[bytes, int] = {}
        self._recent: dict[bytes, object] = {}  # shared strings by index, the last few thousand

    def batches(
        self, chunks: Iterator[bytes], enter: Callable[[bytes], bool]
    ) -> Iterator[list[Row]]:
        """The rows of each chunk. `enter` reads the part up to and including `<sheetData>` with
        the reference handler and says whether that left it inside sheetData, no row open."""
        try:
            data = b""
            for chunk in chunks:
                data += chunk
                at = data.find(_START)
                if at >= 0:
                    at += len(_START)
                    if not enter(data[:at]):
                        return
                    data = data[at:]
                    break
                if len(data) > MAX_TOKEN:
                    return
            else:
                return
            pos = 0
            held: list[Row] = []  # rows read, given once the bytes of their chunk are all read
            while True:
                batch: list[Row] = []
                pos = self._scan(data, pos, batch)
                if pos < 0:
                    return
                if self.finished:
                    self.given += len(held) + len(batch)
                    yield held + batch
                    return
                if any(data.find(end, pos) >= 0 for end in _ENDS) or len(data) - pos > MAX_TOKEN:
                    return  # a complete row that is not plain, or an endless one
                if batch:  # the row that ran on from earlier chunks is read: they are all read
                    self.given += len(held)
                    if held:
                        yield held
                    held = batch
                more = next(chunks, None)
                if more is None:
                    return
                data = data[pos:] + more
                pos = 0
        except ImportFileError:  # the part itself (a limit, damage): the reference stops there too
            return
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def _scan(self, data: bytes, pos: int, batch: list[Row]) -> int:
        """Plain rows from `pos` into `batch`; where they stop, or -1 to give up."""
        match = _ROW.match
        strings, value = self.strings, self.value
        letters, recent = self._letters, self._recent
        max_columns, max_chars = self.max_columns, self.max_chars
        try:
            while (found := match(data, pos)) is not None:
                number, others, body, end = found.groups()
                if end is not None:
                    self.finished = True
                    return found.end()
                cell: object
                rownum = int(number) if number is not None else self._rownum + 1
                if rownum <= self._rownum or rownum > self.max_rows:
                    return -1
                if others and not self._distinct(others):
                    return -1
                cells: Cells = []
                if body:
                    col = -1
                    for ref, style, kind, tag, text in _CELLS.findall(body):
                        if ref:
                            col = letters.get(ref, -1)
                            if col < 0:
                                col = _column(ref)
                                if len(letters) < 20_000:
                                    letters[ref] = col
                        else:
                            col += 1
                        if not tag:  # no value
                            continue
                        if len(text) > max_chars:
                            return -1
                        if kind == b"s":
                            cell = recent.get(text)
                            if cell is None:
                                cell = strings[int(text)]
                                if len(recent) >= _RECENT:
                                    recent.clear()
                                recent[text] = cell
                        else:
                            cell = value(
                                kind.decode() or "n", text.decode(), int(style) if style else 0
                            )
                        if cell is None or cell == "":
                            continue
                        if col >= max_columns:
                            return -1
                        place(cells, col, cell)
                self._rownum = rownum
                batch.append((rownum, cells))
                pos = found.end()
        except (ValueError, IndexError, OverflowError, KeyError):
            return -1
        return pos

    def _distinct(self, others: bytes) -> bool:
        """A row's other attributes are distinct (XML requires it); remembered per spelling."""
        known = self._attributes.get(others)
        if known is None:
            names = _NAMES.findall(others)
            known = len(names) == len(set(names))
            if len(self._attributes) < 1_000:
                self._attributes[others] = known
        return known


def place(cells: list[Any], col: int, value: object) -> None:
    """`value` at 0-based `col`, the columns before it None if not yet set (both readers)."""
    if col < len(cells):
        cells[col] = value
    else:
        if col > len(cells):
            cells.extend([None] * (col - len(cells)))
        cells.append(value)


def _column(letters: bytes) -> int:
    """b"A" -> 0 (the pattern admits 1 to 3 capitals only)."""
    found = 0
    for letter in letters:
        found = found * 26 + letter - 64
    return found - 1


_SI = re.compile(
    _SPACE
    + rb'(?:<si><t(?: xml:space="preserve")?>([^<&>\r\x00-\x08\x0b\x0c\x0e-\x1f]*)</t></si>'
    + rb"|<si><t/></si>|(</sst>))"
)
_SST = b"<sst"
_LONG = 1 << 16  # a string of more bytes is left to the reference


def plain_strings(
    chunks: Iterator[bytes],
    feed: Callable[[bytes, bool], bool],
    add: Callable[[str], int],
    limit: int,
    chars: int,
) -> bool:
    """Reads a shared-string table of plain strings (`<si><t>text</t></si>`, UTF-8 text without
    `<`, `&`, `>`, CR or control characters), each given to `add` (which says how many strings
    there are then); False at anything else, and then the caller drops what was added and reads
    the part with the reference handler. `feed` gives expat and the reference handler the part
    up to and including the `<sst …>` tag (True if that leaves the root open, in UTF-8) and, from
    `</sst>` on, the rest (True if well-formed); a rest over half of MAX_TOKEN is not read here."""
    try:
        data = b""
        for chunk in chunks:
            data += chunk
            at = data.find(_SST)
            end = data.find(b">", at) if at >= 0 else -1
            if end >= 0:
                if not feed(data[: end + 1], False):
                    return False
                data = data[end + 1 :]
                break
            if len(data) > MAX_TOKEN:
                return False
        else:
            return False
        pos = count = 0
        match = _SI.match
        while True:
            while (found := match(data, pos)) is not None:
                text, last = found.groups()
                if last is not None:
                    return _rest(data[found.start(2) :], chunks, feed)
                if count >= limit or (text is not None and len(text) > chars):
                    return False  # the reference says which limit, and where
                decoded = text.decode() if text else ""
                if "\ufffe" in decoded or "\uffff" in decoded:
                    return False
                count = add(decoded)
                pos = found.end()
            if data.find(b"</si>", pos) >= 0 or data.find(b"</sst>", pos) >= 0:
                return False  # a complete string that is not plain
            if len(data) - pos > _LONG:
                return False  # the reference stops a string over the limit after a chunk or two
            more = next(chunks, None)
            if more is None:
                return False
            data = data[pos:] + more
            pos = 0
    except (ImportFileError, ValueError):
        return False
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _rest(tail: bytes, chunks: Iterator[bytes], feed: Callable[[bytes, bool], bool]) -> bool:
    """The part from `</sst>` on, read by expat to its end."""
    size = len(tail)
    if not feed(tail, False):
        return False
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_TOKEN // 2 or not feed(chunk, False):
            return False
    return feed(b"", True)
