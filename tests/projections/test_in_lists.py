"""A batch's keys in one statement (projections/store.py `select_in`, `execute_in`,
`select_in_pairs`): every key found whatever the list's length (on PostgreSQL a short list is
an array, a long one a subquery) and whatever its text (the keys travel as JSON)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from projections import store as view_store
from projections.store import ViewStore, execute_in, open_view_store, select_in, select_in_pairs
from ssj.config import Settings

# Text an array literal or a JSON string would have to escape, and text beyond ASCII.
AWKWARD = ['a"b', "a\\b", "a,b", "{a}", "NULL", "", " lead", "常州市 天宁区", "é\u200b", "'quote'"]
ARRAY_MAX = view_store.PG_ARRAY_MAX - len(AWKWARD)  # the longest list PostgreSQL gets as an array


@pytest.fixture
def store(settings: Settings) -> Iterator[ViewStore]:
    s = open_view_store(settings)
    with s.transaction() as c:
        c.execute("DROP TABLE IF EXISTS in_lists")
        c.execute(
            "CREATE TABLE in_lists (kind TEXT NOT NULL, id TEXT NOT NULL, n BIGINT NOT NULL, "
            "PRIMARY KEY (kind, id))"
        )
    yield s
    s.close()


def fill(store: ViewStore, ids: list[str]) -> None:
    with store.transaction() as c:
        c.executemany(
            "INSERT INTO in_lists (kind, id, n) VALUES (?, ?, ?)",
            [("k", i, n) for n, i in enumerate(ids)],
        )


@pytest.mark.parametrize("count", [1, ARRAY_MAX, ARRAY_MAX + 1, 3000])
def test_every_key_is_found_whatever_the_list_length(store: ViewStore, count: int) -> None:
    ids = [f"id-{n:05d}" for n in range(count)] + AWKWARD
    fill(store, [*ids, "not-asked-1", "not-asked-2"])
    asked = [*ids, "absent"]
    with store.transaction() as c:
        found = select_in(c, "SELECT id, n FROM in_lists WHERE id {}", asked)
        pairs = select_in_pairs(
            c,
            "SELECT t.id FROM {} AS v JOIN in_lists AS t ON t.kind = v.column1 "
            "AND t.id = v.column2",
            [("k", i) for i in ids] + [("other", ids[0])],
        )
    assert sorted(i for i, _ in found) == sorted(ids)
    assert sorted(i for (i,) in pairs) == sorted(ids)
    assert {i: int(n) for i, n in found} == {i: n for n, i in enumerate(ids)}


@pytest.mark.parametrize("count", [3, 3000])
def test_an_update_or_delete_touches_exactly_the_keys(store: ViewStore, count: int) -> None:
    ids = [f"id-{n:05d}" for n in range(count)] + AWKWARD
    fill(store, ids)
    gone, moved = ids[::2], ids[1::4]
    with store.transaction() as c:
        execute_in(c, "DELETE FROM in_lists WHERE id {}", gone)
        execute_in(c, "UPDATE in_lists SET n = -1 WHERE id {}", moved)
    left = dict(store.query("SELECT id, n FROM in_lists"))
    assert sorted(left) == sorted(set(ids) - set(gone))
    assert sorted(i for i, n in left.items() if int(n) == -1) == sorted(moved)


def test_no_keys_no_statement(store: ViewStore) -> None:
    with store.transaction() as c:
        assert select_in(c, "SELECT id FROM no_such_table WHERE id {}", []) == []
        assert select_in_pairs(c, "SELECT * FROM {} AS v JOIN no_such_table", []) == []
        execute_in(c, "DELETE FROM no_such_table WHERE id {}", [])


@pytest.mark.parametrize("count", [3, 3000])
def test_a_key_asked_twice_gives_its_row_once(store: ViewStore, count: int) -> None:
    """As one statement would, however many statements the list takes (on SQLite a key
    repeated 600 keys later fell into another chunk of placeholders, and its row came twice)."""
    ids = [f"id-{n:05d}" for n in range(count)]
    fill(store, ids)
    asked = [*ids, *ids[:: max(1, count // 10)], ids[0]]
    with store.transaction() as c:
        found = select_in(c, "SELECT id FROM in_lists WHERE id {}", asked)
    assert sorted(i for (i,) in found) == sorted(ids)


@pytest.mark.postgres
def test_a_long_key_list_is_planned_for_the_table_as_it_is_now(
    postgres_settings: Settings,
) -> None:
    """psycopg prepares a statement on its fifth run, and PostgreSQL then keeps one generic plan
    for it until the table is analysed: a long list's subquery kept from an empty table parsed
    the keys again for every row it scanned once the table had grown (issue #13, 2026-12-05).
    So the long forms are never kept prepared; the short one, an array, may be (the control:
    it is, so the check below would see a kept statement)."""
    s = open_view_store(postgres_settings)
    try:
        with s.transaction() as c:
            c.execute("CREATE TABLE in_lists (kind TEXT NOT NULL, id TEXT NOT NULL, n BIGINT)")
            c.execute("CREATE INDEX in_lists_id ON in_lists (id)")
        long_list = [f"id-{n:05d}" for n in range(view_store.PG_ARRAY_MAX + 1)]
        pair_sql = (
            "SELECT t.id FROM {} AS v JOIN in_lists AS t ON t.kind = v.column1 AND t.id = v.column2"
        )
        for empty in (True, False):
            with s.transaction() as c:
                for _ in range(8):
                    found = select_in(c, "SELECT id FROM in_lists WHERE id {}", long_list)
                    pairs = select_in_pairs(c, pair_sql, [("k", i) for i in long_list])
                    select_in(c, "SELECT id FROM in_lists WHERE id {}", long_list[:3])
                c.execute("SELECT statement FROM pg_prepared_statements")
                kept = [str(statement) for (statement,) in c.fetchall()]
            if empty:
                assert found == [] and pairs == []
                fill(s, [f"id-{n:05d}" for n in range(5000)])
            else:
                assert sorted(i for (i,) in found) == long_list
                assert sorted(i for (i,) in pairs) == long_list
            assert any("= ANY(ARRAY(SELECT json_array_elements_text" in k for k in kept)
            assert [k for k in kept if "IN (SELECT json_array_elements_text" in k] == []
            assert [k for k in kept if pair_sql.split("{}")[1] in k] == []
    finally:
        s.close()
