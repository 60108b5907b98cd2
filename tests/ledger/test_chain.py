"""The batch path's shortcuts write what the plain definitions write: envelopes joined from parts
are `Envelope.to_bytes`, the inlined Merkle appends are `CompactRange`'s stored nodes, and
signatures made by signer processes are the ones the writer would make, also when a worker is
gone or when there are none."""

from __future__ import annotations

import uuid
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from ssj.config import Settings
from ssj.ledger import note, signing
from ssj.ledger import suite as suites
from ssj.ledger.application import Ledger
from ssj.ledger.audit import verify_ledger
from ssj.ledger.chain import EMPTY_HEAD, STORED_LEVEL, Head, draft
from ssj.ledger.envelope import Actor, Envelope, EnvelopeWriter, envelope_hash, utc_text
from ssj.ledger.keys import LedgerSigner
from ssj.ledger.merkle import CompactRange
from tests.conftest import examples
from tests.ledger.test_ledger import ALICE, Thing

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=examples(200), deadline=None)
@given(
    seq=st.integers(0, 2**53),
    version=st.integers(1, 2**40),
    topic=text,
    user=text.filter(lambda u: u.strip() != ""),
    department=text,
    recorded_at=text,
    key_id=text,
    state_key=st.sampled_from(["state_sha256", "state_sm3"]),
    digest=st.binary(min_size=32, max_size=32),
    prev=st.binary(min_size=32, max_size=32),
)
def test_envelope_writer_writes_to_bytes(
    seq: int,
    version: int,
    topic: str,
    user: str,
    department: str,
    recorded_at: str,
    key_id: str,
    state_key: str,
    digest: bytes,
    prev: bytes,
) -> None:
    actor = Actor(user, department, "operator")
    originator = str(uuid.uuid4())
    expected = Envelope(
        seq, originator, version, topic, digest, actor, recorded_at, prev, key_id, state_key
    ).to_bytes()
    write = EnvelopeWriter(actor, recorded_at, key_id, state_key)
    assert write(seq, originator, version, topic, digest, prev) == expected


@settings(max_examples=examples(500), deadline=None)
@given(st.lists(st.integers(0, 4 * 10**18), min_size=1, max_size=5))
def test_utc_text_is_what_datetime_writes(times: list[int]) -> None:
    """Each time's text (a kept second's text reused or replaced) is `datetime`'s, with "Z";
    the next microsecond and the next second too."""
    for ns in (n for t in times for n in (t, t + 1000, t + 10**9)):
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)
        assert utc_text(ns) == moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _signer(suite: suites.Suite) -> LedgerSigner:
    key, _ = note.generate_key("test.example/log", suite)
    return LedgerSigner(note.parse_signer_key(key), key)


def _events(n: int) -> list[StoredEvent]:
    return [
        StoredEvent(uuid.uuid4(), i + 1, f"tests:Thing.E{i % 3}", f'{{"n":{i},"名":"x"}}'.encode())
        for i in range(n)
    ]


@pytest.mark.parametrize("suite", [suites.ED25519, suites.SM2], ids=lambda s: s.name)
@pytest.mark.parametrize("workers", ["0", "1", "2"])
def test_draft_matches_the_definitions(
    suite: suites.Suite, workers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Envelopes, chain, stored Merkle nodes, end head and signatures of drafts that continue
    each other (sizes crossing stored levels) equal those built from `Envelope` and
    `CompactRange`, whether signer processes sign or the writer does."""
    monkeypatch.setenv("SSJ_SIGN_WORKERS", workers)
    signer = _signer(suite)
    public = suite.public_key(suite.public_material(signer.signer.seed))
    head, tree = EMPTY_HEAD, CompactRange(0, (), suite.tree)
    for n in (1, 7, signing.FROM, 100, 3):
        events = _events(n)
        d = draft(head, events, ALICE, signer)
        prev, nodes, envelopes = head.last_hash, [], []
        for i, stored in enumerate(events):
            data = Envelope(
                head.size + i,
                str(stored.originator_id),
                stored.originator_version,
                stored.topic,
                suite.digest(stored.state),
                ALICE,
                Envelope.from_bytes(d.envelopes[i]).recorded_at,
                prev,
                signer.key_id,
                suite.state_key,
            ).to_bytes()
            envelopes.append(data)
            nodes += [x for x in tree.append(suite.tree.leaf_hash(data)) if x[0] >= STORED_LEVEL]
            prev = envelope_hash(data, suite)
        assert d.envelopes == envelopes
        assert d.nodes == nodes
        assert d.end == Head(tree.size, prev, tuple(tree.frontier))
        signatures = d.signatures()
        assert len(signatures) == n
        assert all(public.verify(m, s) for m, s in zip(envelopes, signatures, strict=True))
        if suite is suites.ED25519:  # deterministic: the same bytes wherever they are made
            assert signatures == [signer.sign(m) for m in envelopes]
        head = d.end


def test_a_worker_gone_mid_batch_is_replaced_by_the_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A signer process killed while it holds a batch: the writer signs that part itself."""
    monkeypatch.setenv("SSJ_SIGN_WORKERS", "1")
    signer = _signer(suites.ED25519)
    for _ in range(200):  # start the worker and wait until it is used
        d = draft(EMPTY_HEAD, _events(signing.FROM), ALICE, signer)
        used = [w for w, _, _ in d.signing._parts if w is not None]
        if used:
            used[0].process.kill()
            used[0].process.wait()
            assert d.signatures() == [signer.sign(m) for m in d.envelopes]
            break
        d.signatures()
        import time

        time.sleep(0.05)
    else:
        pytest.fail("the signer process never became ready")
    d = draft(EMPTY_HEAD, _events(signing.FROM), ALICE, signer)  # a new worker, or the writer
    assert d.signatures() == [signer.sign(m) for m in d.envelopes]


def test_signed_batches_verify(settings: Settings, tmp_path: Path) -> None:
    """Large batches signed by signer processes, a rolled-back one in between: the ledger
    verifies and the signer processes are free again."""
    ledger = Ledger(settings)
    ledger.initialise()
    start = ledger.size()
    twin = Thing("twin")
    copy = deepcopy(twin)  # the same new aggregate, saved twice: the second batch conflicts
    for _ in range(3):
        ledger.save(*[Thing(f"t{i}") for i in range(signing.FROM * 3)], twin, actor=ALICE)
        twin = Thing("twin")  # saved next round; the copy is of the first
    with pytest.raises(IntegrityError):
        ledger.save(*[Thing("x") for _ in range(signing.FROM)], copy, actor=ALICE)
    report = verify_ledger(ledger, jobs=1)
    assert report.ok, report.first
    assert report.size == start + 3 * (signing.FROM * 3 + 1)
    assert all(not w.busy.locked() for w in signing._workers)
    ledger.close()
