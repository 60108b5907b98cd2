"""The transparency-log API on both backends: checkpoints checked with the note verifier, entries
and proofs checked with ssj's RFC 9162 verifier AND by recomputing the RFC's hashes here from the
envelope bytes alone, event bodies only for READ_ALL, and bad input refused in both languages."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ssj.ledger import merkle, note
from ssj.ledger.checkpoint import Checkpoint
from tests.api.test_registry_api import Api, api, assert_bilingual
from tests.services.conftest import jurisdiction

__all__ = ["api", "jurisdiction"]


# RFC 9162 §2.1, written out naively and independently of ssj.ledger.merkle ---------------------


def mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*subproof(m, leaves[:k], whole), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return [] if m in (0, len(leaves)) else subproof(m, leaves, True)


# Helpers ---------------------------------------------------------------------------------------


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def log(api: Api) -> tuple[Api, str]:
    """A ledger with a checkpoint; returns the signed note."""
    signed = api.j.services.ledger.issue_checkpoint()
    return api, signed


def envelopes(api: Api, size: int) -> list[bytes]:
    return [
        base64.b64decode(ok(api.get(f"/log/entries/{seq}", who=None))["envelope"])
        for seq in range(size)
    ]


# Tests -----------------------------------------------------------------------------------------


def test_checkpoint_and_keys_are_public(log: tuple[Api, str]) -> None:
    api, signed = log
    latest = api.get("/log/checkpoint", who=None)
    assert latest.status_code == 200 and latest.headers["content-type"].startswith("text/plain")
    assert latest.text == signed
    keys = ok(api.get("/log/keys", who=None))
    verifier_keys = [k["verifier_key"] for k in keys["keys"]]
    assert all("private_key_here" not in k for k in keys["keys"])
    cp = Checkpoint.from_text(note.verify(latest.text, verifier_keys))
    assert cp.origin == keys["origin"]
    assert cp.root_hash == mth(envelopes(api, cp.size))

    history = ok(api.get("/log/checkpoints?limit=1", who=None))
    assert history["total"] == 1 and history["items"][0]["note"] == signed
    api.j.services.ledger.issue_checkpoint()  # after the first one's own record
    history = ok(api.get("/log/checkpoints?offset=1&limit=5", who=None))
    assert history["total"] == 2 and len(history["items"]) == 1
    assert history["items"][0]["size"] == cp.size + 1


def test_latest_checkpoint_follows_the_ledger(log: tuple[Api, str]) -> None:
    """The served checkpoint is kept between requests only while the ledger does not grow."""
    api, signed = log
    assert api.get("/log/checkpoint", who=None).text == signed
    assert api.get("/log/checkpoint", who=None).text == signed  # kept: the ledger is the same
    newer = api.j.services.ledger.issue_checkpoint()
    assert newer != signed
    assert api.get("/log/checkpoint", who=None).text == newer


def test_entries_and_proofs_check_independently(log: tuple[Api, str]) -> None:
    api, signed = log
    keys = {k["key_id"]: k["verifier_key"] for k in ok(api.get("/log/keys", who=None))["keys"]}
    size = Checkpoint.from_text(note.verify(signed, list(keys.values()))).size
    cp_root = Checkpoint.from_text(note.verify(signed, list(keys.values()))).root_hash
    leaves = envelopes(api, size)
    for seq in range(size):
        entry = ok(api.get(f"/log/entries/{seq}", who=None))
        data = base64.b64decode(entry["envelope"])
        assert bytes.fromhex(entry["envelope_hex"]) == data
        assert entry["leaf_hash"] == hashlib.sha256(b"\x00" + data).hexdigest()
        public = note.parse_verifier_key(keys[entry["key_id"]]).public_key
        Ed25519PublicKey.from_public_bytes(public).verify(
            base64.b64decode(entry["signature"]), data
        )
    for seq in sorted({0, 1, size // 2, size - 2, size - 1}):
        got = ok(api.get(f"/log/proof/inclusion?seq={seq}&size={size}", who=None))
        hashes = [bytes.fromhex(h) for h in got["proof"]]
        assert hashes == path(seq, leaves)  # the RFC's PATH, recomputed here
        assert bytes.fromhex(got["root"]) == cp_root
        leaf = bytes.fromhex(got["leaf_hash"])
        assert merkle.verify_inclusion(leaf, seq, size, hashes, cp_root)
        assert not merkle.verify_inclusion(leaf, seq, size, [*hashes[::-1], leaf], cp_root)
    for old in sorted({0, 1, 3, size // 2, size - 1, size}):
        got = ok(api.get(f"/log/proof/consistency?old={old}&new={size}", who=None))
        hashes = [bytes.fromhex(h) for h in got["proof"]]
        assert hashes == proof(old, leaves)
        old_root = bytes.fromhex(got["old_root"])
        assert old_root == mth(leaves[:old]) and bytes.fromhex(got["new_root"]) == cp_root
        assert merkle.verify_consistency(old, size, old_root, cp_root, hashes)
    # Defaults: the current size.
    current = api.size()
    assert ok(api.get("/log/proof/inclusion?seq=0", who=None))["size"] == current
    assert ok(api.get("/log/proof/consistency?old=1", who=None))["new_size"] == current


def test_event_body_needs_read_all(log: tuple[Api, str]) -> None:
    api, _ = log
    assert_bilingual(api.get("/log/entries/3/event", who=None), 401, "unauthenticated")
    before = api.size()
    assert_bilingual(api.get("/log/entries/3/event", who="operator"), 403, "forbidden")
    assert api.size() == before + 1  # the refusal is recorded
    for who in ("supervisor", "root"):
        body = ok(api.get("/log/entries/3/event", who=who))
        state = base64.b64decode(body["state"])
        assert hashlib.sha256(state).hexdigest() == body["state_sha256_in_envelope"]
        envelope = base64.b64decode(ok(api.get("/log/entries/3", who=None))["envelope"])
        assert body["topic"] in envelope.decode()


def test_bad_input_is_refused_in_both_languages(log: tuple[Api, str]) -> None:
    api, _ = log
    size = api.size()
    assert_bilingual(api.get(f"/log/entries/{size}", who=None), 404)
    assert_bilingual(api.get(f"/log/entries/{size + 100}/event"), 404)
    assert_bilingual(api.get(f"/log/proof/inclusion?seq={size}", who=None), 422)
    assert_bilingual(api.get("/log/proof/inclusion?seq=5&size=5", who=None), 422)
    assert_bilingual(api.get(f"/log/proof/inclusion?seq=0&size={size + 1}", who=None), 422)
    assert_bilingual(api.get("/log/proof/consistency?old=5&new=3", who=None), 422)
    assert_bilingual(api.get(f"/log/proof/consistency?old=1&new={size + 1}", who=None), 422)
    for url in (
        "/log/entries/abc",
        "/log/entries/-1",
        "/log/proof/inclusion?seq=x",
        "/log/proof/inclusion?seq=1.5",
        "/log/proof/consistency?old=a&new=2",
        "/log/checkpoints?limit=0",
    ):
        assert_bilingual(api.get(url, who=None), 422)


def test_no_checkpoint_yet_is_404(api: Api) -> None:
    if api.j.services.ledger.latest_checkpoint() is None:
        assert_bilingual(api.get("/log/checkpoint", who=None), 404, "not_found")
    else:
        pytest.skip("the jurisdiction fixture issued a checkpoint already")
