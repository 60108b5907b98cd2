"""Signatures reach the verifier's workers as one `SignatureBatch` of flat columns: every row
is checked against its own key, message and signature, whatever the lengths (SM2's DER
signatures vary) and however the rows fall into runs of one key."""

from __future__ import annotations

import pickle

import pytest

from ssj.ledger.suite import NAMES
from ssj.ledger.suite import get as get_suite
from ssj.ledger.verify import SignatureColumns, verify_batch, verify_signatures


@pytest.mark.parametrize("suite_name", NAMES)
def test_every_row_is_checked_against_its_own_key_message_and_signature(
    suite_name: str,
) -> None:
    suite = get_suite(suite_name)
    privates = [suite.generate() for _ in range(2)]
    signers = [suite.private_key(p) for p in privates]
    public = {f"k{n}": suite.public_material(p) for n, p in enumerate(privates)}
    rows = []
    # Runs of one key, then the other, then the first again; messages of varied lengths.
    for seq, key in enumerate([0, 0, 0, 1, 1, 0, 1]):
        message = f"envelope {seq} ".encode() * (seq + 1)
        rows.append((seq + 10, f"k{key}", message, signers[key].sign(message)))
    bad = {11, 14, 16, 17, 18}
    rows[1] = (*rows[1][:3], rows[2][3])  # another row's signature
    rows[4] = (rows[4][0], "k0", *rows[4][2:])  # signed by k1, said to be k0's
    rows[6] = (rows[6][0], "unknown", *rows[6][2:])
    # A signature a byte short, and one a byte long (their messages shift by as much).
    message = b"envelope 17"
    rows.append((17, "k0", message, signers[0].sign(message)[:-1]))
    rows.append((18, "k0", message[1:], signers[0].sign(message) + message[:1]))
    columns = SignatureColumns()
    for row in rows:
        columns.add(*row)
    batch = pickle.loads(pickle.dumps(columns.batch()))  # as a worker receives it
    assert len(batch) == len(rows)
    assert batch.key_runs == (("k0", 3), ("k1", 1), ("k0", 2), ("unknown", 1), ("k0", 2))
    assert set(verify_batch(public, batch, suite_name)) == bad
    # Each key's verdicts on the rows where they lie are those of `verify`, row by row.
    key = suite.public_key(public["k0"])
    every = range(len(rows))
    alone = [i for i in every if not key.verify(rows[i][2], rows[i][3])]
    assert key.failures(batch.signed, batch.marks, every) == alone
    assert set(verify_signatures(public, rows, suite_name)) == bad
    good = [r for r in rows if r[0] not in bad]
    assert verify_signatures(public, good, suite_name) == []
    assert verify_signatures(public, [], suite_name) == []
