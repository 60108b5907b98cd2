"""Tampering with the database behind the ledger's back must make verification fail, by name.

Every case acts as the database administrator (plain SQL, no ssj code, every privilege), because
that is the attacker the signatures, the chain and the Merkle log exist for. Each case is written
once and runs on SQLite and PostgreSQL through `RawDB`, which hides the two dialects, and under
both cryptographic suites (`suite`: ed25519-sha256 and sm2-sm3).

The published ledger (see `build_ledger`) has these seqs:
0 KeyRing.Created, 1 TransparencyLog.Started, 2..13 six Things (Created, Renamed),
14 the midway checkpoint (tree size 14), 15..26 six more Things, 27 the final checkpoint
(tree size 27); 28 envelopes in all.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import orjson
import psycopg
import pytest

from ssj.config import DatabaseURL, Settings
from ssj.ledger import note
from ssj.ledger import suite as suites
from ssj.ledger.application import Ledger
from ssj.ledger.audit import verify_ledger
from ssj.ledger.chain import STORED_LEVEL
from ssj.ledger.envelope import Actor, Envelope, envelope_hash, utc_now_text
from ssj.ledger.keys import LedgerSigner
from ssj.ledger.suite import Suite
from ssj.ledger.verify import KINDS, Report
from tests.cli.inprocess import run_ssj
from tests.conftest import base_settings, settings_env
from tests.ledger.test_ledger import ALICE, Thing

BOB = Actor("bob", "county-inspection", "inspector")
THINGS = 12
MID_SIZE = 14  # tree size of the midway checkpoint, recorded at seq 14
FINAL_SIZE = 27  # tree size of the final checkpoint, recorded at seq 27
SIZE = 28  # envelopes in the published ledger
TARGET = 9  # a Thing.Renamed event before the midway checkpoint
OTHER = 21  # a Thing.Created event after it


# The ledger and what the outside world holds about it ------------------------------------------


@dataclass(frozen=True)
class Published:
    """What lives outside the database: the signed checkpoints and the genesis public key."""

    mid_note: str
    final_note: str
    verifier_key: str


def build_ledger(settings: Settings, suite: Suite = suites.DEFAULT) -> Published:
    """Twelve Things by two actors, a checkpoint midway and one at the end."""
    ledger = Ledger(settings)
    try:
        ledger.initialise(suite=suite)
        mid_note = ""
        for i in range(THINGS):
            if i == THINGS // 2:
                mid_note = ledger.issue_checkpoint()
            thing = Thing(f"thing-{i}")
            thing.rename(f"thing-{i}-renamed")
            ledger.save(thing, actor=ALICE if i % 2 else BOB)
        final_note = ledger.issue_checkpoint()
        keyring = ledger.keyring()
        assert ledger.size() == SIZE
        return Published(mid_note, final_note, keyring.keys[keyring.active_key_id])
    finally:
        ledger.close()


def verify(settings: Settings, outside: tuple[str, ...] = (), keys: tuple[str, ...] = ()) -> Report:
    """Verify with a fresh Ledger, as an auditor arriving after the fact would."""
    ledger = Ledger(settings)
    try:
        return verify_ledger(ledger, outside, keys, jobs=1)
    finally:
        ledger.close()


def ssj_verify(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`ssj verify` as the command line runs it (in-process; tests/cli/test_smoke.py runs the
    console script itself)."""
    return run_ssj(["verify", *args], settings_env(settings))


def assert_cli_damage(result: subprocess.CompletedProcess[str], kind: str, seq: int) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"seq {seq}: {KINDS[kind][1]}" in result.stderr, result.stderr
    assert f"第 {seq} 条" in result.stderr, result.stderr


def assert_first(report: Report, kind: str, seq: int) -> None:
    assert not report.ok
    first = report.first
    assert first is not None
    assert (first.kind, first.seq) == (kind, seq), report.damage


# The database administrator --------------------------------------------------------------------


@dataclass
class RawDB:
    """Plain SQL on the ledger's tables, as the DBA; `{events}`, `{nid}` and `?` are portable."""

    conn: Any  # sqlite3.Connection or psycopg.Connection, both in autocommit mode
    postgres: bool

    @property
    def events(self) -> str:
        return "ssj_events" if self.postgres else "stored_events"

    def run(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        sql = sql.format(events=self.events, nid="notification_id" if self.postgres else "rowid")
        if self.postgres:
            sql = sql.replace("?", "%s")
        cursor = self.conn.execute(sql, params)
        return [tuple(r) for r in cursor.fetchall()] if cursor.description else []

    def oid(self, originator_id: UUID) -> object:
        """An originator id as the backend stores it (uuid on PostgreSQL, hex text on SQLite)."""
        return originator_id if self.postgres else originator_id.hex

    def envelope(self, seq: int) -> tuple[int, bytes, bytes]:
        [(nid, data, signature)] = self.run(
            "SELECT notification_id, envelope, signature FROM ssj_envelopes WHERE seq = ?", seq
        )
        return nid, bytes(data), bytes(signature)

    def event(self, seq: int) -> tuple[int, str, bytes]:
        """(notification id, topic, state) of the stored event sealed at seq."""
        nid = self.envelope(seq)[0]
        [(topic, state)] = self.run("SELECT topic, state FROM {events} WHERE {nid} = ?", nid)
        return nid, topic, bytes(state)

    def insert_event(
        self, nid: int | None, originator_id: UUID, version: int, topic: str, state: bytes
    ) -> int:
        """Insert a stored event, at a chosen notification id or the next one; returns it."""
        columns = "originator_id, originator_version, topic, state"
        values: tuple[object, ...] = (self.oid(originator_id), version, topic, state)
        if nid is not None:
            columns, values = "{nid}, " + columns, (nid, *values)
        marks = ", ".join("?" * len(values))
        [(new_nid,)] = self.run(
            f"INSERT INTO {{events}} ({columns}) VALUES ({marks}) RETURNING {{nid}}", *values
        )
        return int(new_nid)

    def wipe(self) -> None:
        for table in ("{events}", "ssj_envelopes", "ssj_merkle_nodes"):
            self.run(f"DELETE FROM {table}")


@pytest.fixture
def raw(settings: Settings, request: pytest.FixtureRequest) -> Iterator[RawDB]:
    """The DBA's connection to the same database the `settings` ledger uses."""
    if settings.database.is_postgres:
        admin: DatabaseURL = request.getfixturevalue("postgres_database")
        with psycopg.connect(admin.url(), autocommit=True) as conn:
            yield RawDB(conn, postgres=True)
    else:
        conn = sqlite3.connect(settings.database.path, isolation_level=None)
        try:
            yield RawDB(conn, postgres=False)
        finally:
            conn.close()


@pytest.fixture(params=suites.NAMES)
def suite(request: pytest.FixtureRequest) -> Suite:
    """Every case runs under both suites (a ledger's suite is chosen at `ssj init`)."""
    return suites.get(request.param)


@pytest.fixture
def published(settings: Settings, suite: Suite) -> Published:
    return build_ledger(settings, suite)


# The cases: each tampers, then says what verification must report first -------------------------


@dataclass(frozen=True)
class Expected:
    kind: str
    seq: int


def change_state_byte(raw: RawDB, suite: Suite) -> Expected:
    nid, _, state = raw.event(TARGET)
    at = state.index(b"thing-") + len(b"thing-")
    forged = state[:at] + b"9" + state[at + 1 :]  # "thing-4-renamed" -> "thing-9-renamed"
    assert len(forged) == len(state) and forged != state
    raw.run("UPDATE {events} SET state = ? WHERE {nid} = ?", forged, nid)
    return Expected("state", TARGET)


def change_topic(raw: RawDB, suite: Suite) -> Expected:
    nid, topic, _ = raw.event(TARGET)
    assert topic.endswith("Thing.Renamed")
    raw.run(
        "UPDATE {events} SET topic = ? WHERE {nid} = ?", topic[: -len("Renamed")] + "Created", nid
    )
    return Expected("topic", TARGET)


def change_envelope_actor(raw: RawDB, suite: Suite) -> Expected:
    _, data, _ = raw.envelope(TARGET)
    env = orjson.loads(data)
    env["actor"]["user"] = "mallory"
    forged = orjson.dumps(env, option=orjson.OPT_SORT_KEYS)
    raw.run("UPDATE ssj_envelopes SET envelope = ? WHERE seq = ?", forged, TARGET)
    return Expected("signature", TARGET)


def delete_event_row(raw: RawDB, suite: Suite) -> Expected:
    nid, _, _ = raw.event(TARGET)
    raw.run("DELETE FROM {events} WHERE {nid} = ?", nid)
    return Expected("missing_event", TARGET)


def delete_envelope_row(raw: RawDB, suite: Suite) -> Expected:
    raw.run("DELETE FROM ssj_envelopes WHERE seq = ?", TARGET)
    return Expected("gap", TARGET)


def swap_event_contents(raw: RawDB, suite: Suite) -> Expected:
    """A Renamed and a Created event trade topic and state; envelopes stay put."""
    a_nid, a_topic, a_state = raw.event(TARGET)
    b_nid, b_topic, b_state = raw.event(OTHER)
    raw.run("UPDATE {events} SET topic = ?, state = ? WHERE {nid} = ?", b_topic, b_state, a_nid)
    raw.run("UPDATE {events} SET topic = ?, state = ? WHERE {nid} = ?", a_topic, a_state, b_nid)
    return Expected("topic", TARGET)


def swap_envelope_seqs(raw: RawDB, suite: Suite) -> Expected:
    """Two envelope rows trade places in the order; their bytes and signatures are intact."""
    raw.run("UPDATE ssj_envelopes SET seq = -1 WHERE seq = ?", TARGET)
    raw.run("UPDATE ssj_envelopes SET seq = ? WHERE seq = ?", TARGET, OTHER)
    raw.run("UPDATE ssj_envelopes SET seq = ? WHERE seq = -1", OTHER)
    # Position TARGET now holds the envelope of notification OTHER, so the events between are
    # reported unsealed there first (then gap, chain and missing_event follow).
    return Expected("unsealed_event", TARGET)


def forge_event_with_fresh_key(raw: RawDB, suite: Suite) -> Expected:
    """A complete, correct-looking append (event, envelope, Merkle nodes) signed by a new key
    of the ledger's own suite."""
    signer_key, _ = note.generate_key("ssj.local/ledger", suite)
    signer = LedgerSigner(note.parse_signer_key(signer_key), signer_key)
    _, topic, state = raw.event(OTHER)
    originator_id = uuid4()
    nid = raw.insert_event(None, originator_id, 1, topic, state)
    rows = raw.run("SELECT envelope FROM ssj_envelopes ORDER BY seq")
    data = Envelope(
        seq=len(rows),
        originator_id=str(originator_id),
        originator_version=1,
        topic=topic,
        state_digest=suite.digest(state),
        actor=ALICE,
        recorded_at=utc_now_text(),
        prev_hash=envelope_hash(bytes(rows[-1][0]), suite),
        key_id=signer.key_id,
        state_key=suite.state_key,
    ).to_bytes()
    raw.run(
        "INSERT INTO ssj_envelopes (seq, notification_id, envelope, signature) VALUES (?, ?, ?, ?)",
        len(rows),
        nid,
        data,
        signer.sign(data),
    )
    tree = suite.tree.compact()
    for (leaf,) in rows:
        tree.append(suite.tree.leaf_hash(bytes(leaf)))
    for level, idx, h in tree.append(suite.tree.leaf_hash(data)):
        if level < STORED_LEVEL:
            continue  # the recorder keeps only the upper levels
        raw.run("INSERT INTO ssj_merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", level, idx, h)
    return Expected("unknown_key", SIZE)


def replace_keyring_key(raw: RawDB, suite: Suite) -> Expected:
    """The genesis event now introduces the attacker's public key instead of the real one."""
    nid, topic, state = raw.event(0)
    assert topic.endswith("KeyRing.Created")
    old_key = orjson.loads(state)["verifier_key"]
    _, new_key = note.generate_key("ssj.local/ledger", suite)
    forged = state.replace(old_key.encode(), new_key.encode())
    assert forged != state
    raw.run("UPDATE {events} SET state = ? WHERE {nid} = ?", forged, nid)
    return Expected("state", 0)


CASES: dict[str, Callable[[RawDB, Suite], Expected]] = {
    "state byte": change_state_byte,
    "topic": change_topic,
    "envelope actor": change_envelope_actor,
    "delete event row": delete_event_row,
    "delete envelope row": delete_envelope_row,
    "swap event contents": swap_event_contents,
    "swap envelope seqs": swap_envelope_seqs,
    "forged event, fresh key": forge_event_with_fresh_key,
    "key ring key replaced": replace_keyring_key,
}


# Tests -----------------------------------------------------------------------------------------


def test_untampered_ledger_verifies(settings: Settings, published: Published) -> None:
    """The baseline: without it every 'detected' below could be a false alarm."""
    report = verify(settings, (published.mid_note, published.final_note), (published.verifier_key,))
    assert report.ok, report.damage
    assert (report.size, report.checkpoints, report.outside_checkpoints) == (SIZE, 2, 2)
    result = ssj_verify(settings, "--key", published.verifier_key)
    assert result.returncode == 0, result.stderr
    assert f"ledger intact: {SIZE} events" in result.stdout


@pytest.mark.parametrize("case", list(CASES))
def test_tampering_is_detected(
    settings: Settings, published: Published, raw: RawDB, suite: Suite, case: str
) -> None:
    """The first damage names the tampered seq and what was done to it."""
    expected = CASES[case](raw, suite)
    assert_first(verify(settings), expected.kind, expected.seq)


@pytest.mark.parametrize(
    "case", ["state byte", "delete envelope row", "forged event, fresh key", "swap envelope seqs"]
)
def test_cli_names_the_damage(
    settings: Settings, published: Published, raw: RawDB, suite: Suite, case: str
) -> None:
    """`ssj verify` exits 1 and its stderr line names the seq and the kind in both languages."""
    expected = CASES[case](raw, suite)
    assert_cli_damage(ssj_verify(settings), expected.kind, expected.seq)


def test_truncation_needs_an_outside_checkpoint(
    settings: Settings, published: Published, raw: RawDB, tmp_path: Path
) -> None:
    """Deleting the newest rows leaves a consistent prefix: only a checkpoint held outside the
    database, which is longer than what is left, can reveal it."""
    cut = 22  # seqs 22..27 go, the final checkpoint's own record (seq 27) among them
    nids = [r[0] for r in raw.run("SELECT notification_id FROM ssj_envelopes WHERE seq >= ?", cut)]
    for nid in nids:
        raw.run("DELETE FROM {events} WHERE {nid} = ?", nid)
    raw.run("DELETE FROM ssj_envelopes WHERE seq >= ?", cut)
    for level, idx in raw.run("SELECT level, idx FROM ssj_merkle_nodes"):
        if (idx + 1) << level > cut:  # the node covers a deleted leaf
            raw.run("DELETE FROM ssj_merkle_nodes WHERE level = ? AND idx = ?", level, idx)

    # Documented limitation: without an outside copy the prefix is indistinguishable from a
    # ledger that simply stopped at seq 21 (the midway checkpoint inside it still verifies).
    alone = verify(settings)
    assert alone.ok, alone.damage
    assert alone.size == cut
    assert ssj_verify(settings).returncode == 0

    assert_first(verify(settings, (published.final_note,)), "truncated", cut)
    held = tmp_path / "final.checkpoint"
    held.write_text(published.final_note, encoding="utf-8")
    assert_cli_damage(ssj_verify(settings, "--checkpoint", str(held)), "truncated", cut)


def test_resigned_history_needs_an_outside_checkpoint(
    settings: Settings, published: Published, raw: RawDB, suite: Suite, tmp_path: Path
) -> None:
    """An attacker who rebuilds the whole ledger with a key of their own leaves nothing wrong
    inside the database; a checkpoint published before the rewrite exposes it."""
    forged_settings = base_settings(
        tmp_path / "attacker", f"sqlite:///{tmp_path / 'attacker' / 'forged.sqlite'}"
    )
    build_ledger(forged_settings, suite)  # same history, a new genesis key
    source = sqlite3.connect(forged_settings.database.path)
    try:
        events = source.execute(
            "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events"
        ).fetchall()
        envelopes = source.execute("SELECT * FROM ssj_envelopes").fetchall()
        nodes = source.execute("SELECT * FROM ssj_merkle_nodes").fetchall()
    finally:
        source.close()
    raw.wipe()
    for nid, oid, version, topic, state in events:
        raw.insert_event(nid, UUID(hex=oid), version, topic, state)
    for row in envelopes:
        raw.run("INSERT INTO ssj_envelopes VALUES (?, ?, ?, ?)", *row)
    for row in nodes:
        raw.run("INSERT INTO ssj_merkle_nodes VALUES (?, ?, ?)", *row)

    # Documented limitation: the rewritten database is internally perfect.
    alone = verify(settings)
    assert alone.ok, alone.damage
    assert ssj_verify(settings).returncode == 0

    # The published checkpoint is signed by a key the rewritten key ring does not hold...
    report = verify(settings, (published.final_note,))
    assert_first(report, "checkpoint", FINAL_SIZE - 1)
    assert report.first is not None and "no verifiable signatures" in report.first.detail
    # ...and if the auditor pins the real key, the signature holds but the root does not.
    pinned = verify(settings, (published.final_note,), (published.verifier_key,))
    assert_first(pinned, "checkpoint", FINAL_SIZE - 1)
    assert pinned.first is not None and "root at size" in pinned.first.detail

    held = tmp_path / "published.checkpoint"
    held.write_text(published.final_note, encoding="utf-8")
    result = ssj_verify(settings, "--checkpoint", str(held))
    assert_cli_damage(result, "checkpoint", FINAL_SIZE - 1)
    pinned_cli = ssj_verify(settings, "--checkpoint", str(held), "--key", published.verifier_key)
    assert_cli_damage(pinned_cli, "checkpoint", FINAL_SIZE - 1)


def test_revoked_key_invalidates_its_signatures_from_as_of(
    settings: Settings, published: Published
) -> None:
    """A key reported compromised: everything it signed from as_of_seq on fails, through the
    ordinary API (rotate first, then revoke the retired key)."""
    ledger = Ledger(settings)
    try:
        old_key_id = ledger.keyring().active_key_id
        ledger.rotate_key(ALICE)  # seq 28, still signed by the old key
        ledger.save(Thing("after rotation"), actor=ALICE)  # seq 29, the new key
        ledger.revoke_key(ALICE, old_key_id, as_of_seq=TARGET, reason="laptop stolen")
        assert_first(verify_ledger(ledger, jobs=1), "revoked_key", TARGET)
    finally:
        ledger.close()
