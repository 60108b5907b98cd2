"""The ledger's transcoder writes exactly the bytes eventsourcing's JSONTranscoder writes, and
raises where it raises: orjson is used only where it writes the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder
from hypothesis import given
from hypothesis import strategies as st

from ssj.domain.targets import Target, TargetRecord
from ssj.ledger.encoding import LedgerTranscoder
from tests.services.conftest import target_row


def transcoders() -> tuple[JSONTranscoder, LedgerTranscoder]:
    standard, ledger = JSONTranscoder(), LedgerTranscoder()
    for transcoder in (standard, ledger):
        Application.register_transcodings(None, transcoder)  # type: ignore[arg-type]
    return standard, ledger


STANDARD, LEDGER = transcoders()

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True),
    st.text(),  # lone surrogates too
    st.text(st.characters(codec="utf-8")),
    st.uuids(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))])),
    st.dates(),
    st.decimals(allow_nan=False),
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
        st.dictionaries(st.integers(), inner, max_size=2),
    ),
    max_leaves=12,
)


def encoded(transcoder: JSONTranscoder, value: Any) -> bytes | str:
    try:
        return transcoder.encode(value)
    except Exception as e:  # the same exception, by type
        return type(e).__name__


@given(VALUES)
def test_the_same_bytes_or_the_same_error_as_eventsourcing(value: Any) -> None:
    assert encoded(LEDGER, value) == encoded(STANDARD, value)


def test_an_event_state_is_written_alike_and_reads_back() -> None:
    target = Target.register(TargetRecord.parse(target_row(3, address="天宁区（某某）路“1”号")))
    state = dict(target.collect_events()[0].__dict__)
    state.update(uuid=UUID(int=7), amount=Decimal("1.50"), when=datetime.now(UTC))
    assert LEDGER.encode(state) == STANDARD.encode(state)
    assert LEDGER.decode(LEDGER.encode(state)) == state
