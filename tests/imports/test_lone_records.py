"""Two shortcuts of the reader give what the general code gives: a table without a key or list
fields reads each row as a record of its own without a draft (`spreadsheet._lone_record`;
`LONE_RECORDS = False` is the reference), and `_clean_text` runs its edge expression only on
text whose first or last character it could strip. Compared on the real corpus and on
generated tables (CSV and XLSX, with merges, blank, edged, sample, footer and error cells)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ssj.config import ImportLimits
from ssj.imports import spreadsheet
from ssj.imports.spreadsheet import ImportFileError, read_table
from ssj.services.imports import INSPECTORS, TARGETS, Kind, _labels
from tests.conftest import examples
from tests.imports.test_spreadsheet import write_xlsx
from tests.real_corpus import manifest, real_file


def outcome(path: Path, kind: Kind, lone: bool) -> Any:
    """Everything reading gives for `kind`'s header: records, problems, notes, counts, layout;
    or the error (both languages) if the file is refused."""
    labels = _labels(kind, {})
    optional = [f for f in dict.fromkeys([*kind.optional, "department"]) if f in labels]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spreadsheet, "LONE_RECORDS", lone)
        try:
            with read_table(
                path,
                expected=labels,
                key=kind.key,
                optional=optional,
                limits=ImportLimits(),
                fallback_labels=kind.fallback_labels,
                keep_unmapped=True,
            ) as table:
                records = list(table.records)
                return (
                    records,
                    list(table.problems),
                    list(table.notes),
                    (table.rows_seen, table.records_read, table.last_row, table.stopped),
                    (table.columns, table.unmapped, table.header_rows),
                )
        except ImportFileError as e:
            return (e.zh, e.en)


@pytest.mark.parametrize("name", sorted(manifest()))
def test_real_files_read_as_the_drafts_read_them(name: str) -> None:
    path = real_file(name)
    for kind in (TARGETS, INSPECTORS):
        assert outcome(path, kind, lone=True) == outcome(path, kind, lone=False)


HEADERS = ["企业名称", "统一社会信用代码", "登记机关", "备注", "备注", "经营状态", "其他"]
CELLS = st.sampled_from(
    [
        "",
        " ",
        "甲公司",
        " 乙公司\u3000",
        "\u200b丙",
        "丁\ufeff",
        "#N/A",
        "N/A",
        "示例",
        "案例（请删除）",
        "注：本表自发布之日起施行",
        "详见参数表",
        "91330000668306747T",
        "存续",
        "=1+1",
    ]
)
GRIDS = st.lists(st.lists(CELLS, max_size=7), max_size=8)


def _csv(path: Path, header: list[str], grid: list[list[str]]) -> Path:
    lines = [",".join(header), *(",".join(row) for row in grid)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(columns=st.permutations(HEADERS).map(lambda h: h[:5]), grid=GRIDS)
def test_generated_csv_read_as_the_drafts_read_it(
    tmp_path: Path, columns: list[str], grid: list[list[str]]
) -> None:
    path = _csv(tmp_path / "generated.csv", columns, grid)
    for kind in (TARGETS, INSPECTORS):
        assert outcome(path, kind, lone=True) == outcome(path, kind, lone=False)


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    columns=st.permutations(HEADERS).map(lambda h: h[:5]),
    grid=GRIDS,
    merges=st.lists(
        st.tuples(st.integers(2, 9), st.integers(0, 4), st.integers(0, 2), st.integers(0, 1)),
        max_size=3,
    ),
)
def test_generated_workbooks_read_as_the_drafts_read_them(
    tmp_path: Path,
    columns: list[str],
    grid: list[list[str]],
    merges: list[tuple[int, int, int, int]],
) -> None:
    """Merged cells too: a value merged down a column of its own rows or across columns."""
    letters = "ABCDEFG"
    ranges: list[str] = []
    taken: set[tuple[int, int]] = set()
    for row, col, down, across in merges:
        cells = {(r, c) for r in range(row, row + down + 1) for c in range(col, col + across + 1)}
        if cells & taken:
            continue
        taken |= cells
        ranges.append(f"{letters[col]}{row}:{letters[col + across]}{row + down}")
    values: list[list[object]] = [list(columns), *[[v or None for v in row] for row in grid]]
    path = write_xlsx(tmp_path / "generated.xlsx", values, ranges)
    for kind in (TARGETS, INSPECTORS):
        assert outcome(path, kind, lone=True) == outcome(path, kind, lone=False)


def test_the_edge_test_agrees_with_the_expression_on_every_character() -> None:
    """`_clean_text` skips `_EDGE` unless the first or last character is one it strips: that
    is exactly the characters `_EDGE` matches alone (\\s in `re` is str.isspace)."""
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        stripped = bool(spreadsheet._EDGE.fullmatch(ch))
        assert stripped == (ch.isspace() or ch in spreadsheet._ZERO_WIDTH), hex(code)


@settings(max_examples=examples(500), deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(["a", "中", " ", "\n", "\u3000", "\u00a0", "\u200b", "\ufeff"])
        | st.characters(),
        max_size=12,
    )
)
def test_clean_text_is_the_edge_expression(value: str) -> None:
    import unicodedata

    text = spreadsheet._EDGE.sub("", unicodedata.normalize("NFC", value))
    expected = (
        None
        if not text
        else spreadsheet._Bad("error", text)
        if text in (spreadsheet._EXCEL_ERRORS)
        else text
    )
    assert spreadsheet._clean_text(value) == expected


_SAMPLE_PIECES = [
    "示例",
    "样例",
    "范例",
    "案例",
    "填写示例",
    "填表示例",
    "请删除",
    "删除本行",
    "删除",
]
_SAMPLE_TEXT = st.lists(
    st.sampled_from([*_SAMPLE_PIECES, "例", "删", "除", "：", ":", "（", "1", " ", "\n", "a", "中"])
    | st.characters(),
    max_size=6,
).map("".join)


@settings(max_examples=examples(2000), deadline=None)
@given(st.lists(_SAMPLE_TEXT, min_size=1, max_size=5))
@example(["示例：第一行\n第二行"])  # not a sample: `.` stops at a line's end
@example(["某公司", "案例（请删除）"])
@example(["请删除此行"])
@example(["样例1", "a"])
@example(["删", "除"])  # the joined texts hold 删除, no text does
def test_a_row_is_looked_at_for_sample_markers_only_if_it_may_hold_one(texts: list[str]) -> None:
    """`_skip_reason` searches a row's texts with `_SAMPLE` only when they hold what every
    alternative of it needs (`_SAMPLE_NEEDS`): the same rows are sample rows as when it searched
    each text. Texts as the reader gives them (`_clean_text`)."""
    own = [t for t in map(spreadsheet._clean_text, texts) if isinstance(t, str)]
    if not own:
        return
    row = [spreadsheet._Cell(text, (5, index)) for index, text in enumerate(own)]
    by_text = next((t for t in own if spreadsheet._SAMPLE.search(t)), None)
    reason = spreadsheet._skip_reason(row, 5, started=True)
    found = reason is not None and reason[0] == "示例行（模板中的样例）"
    assert found == (by_text is not None)
    if found:
        assert reason is not None and reason[2] == by_text
