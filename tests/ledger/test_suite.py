"""The cryptographic suites: known answers from the national standards, key and signature
encodings, the SM3 Merkle tree, and a ledger that never mixes suites."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from ssj.config import Settings
from ssj.errors import ConflictError, ValidationError
from ssj.ledger import merkle, note, sm2
from ssj.ledger import suite as suites
from ssj.ledger.application import Ledger
from ssj.ledger.audit import verify_ledger
from ssj.ledger.envelope import Envelope
from ssj.ledger.keys import KeyStore
from tests.cli.inprocess import run_ssj
from tests.conftest import settings_env
from tests.ledger.test_ledger import ALICE, Thing

# GB/T 32905-2016 Appendix A: example 1 ("abc") and example 2 (the 64-byte message).
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_64 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"

# GB/T 32918.2-2016 / GM/T 0003.5-2012 Appendix A: the signature example on the recommended
# curve, user id 1234567812345678 (the default), message "message digest".
SM2_PRIVATE = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
SM2_X = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
SM2_Y = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
SM2_Z = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"
SM2_E = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"  # SM3(Z || M)
SM2_R = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
SM2_S = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
MESSAGE = b"message digest"
POINT = bytes.fromhex("04" + SM2_X + SM2_Y)


@pytest.mark.parametrize("sm3", [sm2.sm3, sm2.gmalglib_sm3, suites.SM2.digest])
def test_sm3_known_answers(sm3: object) -> None:
    assert callable(sm3)
    assert sm3(b"abc").hex() == SM3_ABC
    assert sm3(b"abcd" * 16).hex() == SM3_64


def test_sm2_published_example() -> None:
    """The standard's public key, message and signature verify; the Z value with the default
    user id and the signed digest e = SM3(Z || M) are the published ones."""
    assert sm2.public_point(bytes.fromhex(SM2_PRIVATE)) == POINT
    assert sm2.z_value(POINT).hex().upper() == SM2_Z
    assert sm2.sm3(bytes.fromhex(SM2_Z) + MESSAGE).hex().upper() == SM2_E
    signature = sm2.signature_der(bytes.fromhex(SM2_R + SM2_S))
    key = sm2.PublicKey(POINT)
    assert key.verify(MESSAGE, signature)
    assert not key.verify(MESSAGE + b".", signature)
    other_s = bytes.fromhex(SM2_R + SM2_S[:-2] + "AB")
    assert not key.verify(MESSAGE, sm2.signature_der(other_s))
    # The same example through the suite, as the ledger verifies: SPKI DER key material.
    assert suites.SM2.verify(sm2.public_key_der(POINT), MESSAGE, signature)


def test_sm2_signatures_and_keys_round_trip() -> None:
    private = suites.SM2.generate()
    assert private.startswith(sm2.PKCS8_PREFIX)
    public = suites.SM2.public_material(private)
    assert public.startswith(sm2.SPKI_PREFIX) and len(public) == 91
    signature = suites.SM2.private_key(private).sign(b"ledger")
    assert signature[0] == 0x30 and sm2.signature_raw(signature) is not None
    assert sm2.signature_der(sm2.signature_raw(signature) or b"") == signature
    assert suites.SM2.verify(public, b"ledger", signature)
    assert not suites.SM2.verify(public, b"ledgex", signature)
    # Only the canonical DER is accepted (no trailing bytes, no padded integers).
    assert not suites.SM2.verify(public, b"ledger", signature + b"\x00")
    assert sm2.signature_raw(signature[:-1]) is None
    # Never an Ed25519 key, never a malformed one.
    assert not suites.SM2.check_public(bytes(32))
    assert suites.SM2.private_key is not None
    with pytest.raises(ValueError):
        suites.SM2.public_key(public[:-1] + bytes([public[-1] ^ 1]))
    pem = sm2.private_key_pem(sm2.scalar_from_der(private) or b"")
    body = "".join(pem.strip().splitlines()[1:-1])
    assert pem.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert base64.b64decode(body) == private


def test_note_keys_carry_their_suite() -> None:
    signer, verifier = note.generate_key("example.org/sm", suites.SM2)
    v = note.parse_verifier_key(verifier)
    assert v.suite is suites.SM2
    material = base64.b64decode(verifier.split("+", 2)[2])
    assert material.startswith(b"\xffsm2-sm3/v1")  # signed-note's 0xff, then our identifier
    assert v.key_hash == note.key_hash("example.org/sm", v.public_key, b"\xffsm2-sm3/v1")
    signed = note.sign("hello\n", signer)
    assert note.verify(signed, verifier) == "hello\n"
    # An Ed25519 key of the same name does not verify it, and vice versa.
    ed_signer, ed_verifier = note.generate_key("example.org/sm")
    with pytest.raises(note.NoteError):
        note.verify(signed, ed_verifier)
    with pytest.raises(note.NoteError):
        note.verify(note.sign("hello\n", ed_signer), verifier)
    assert note.parse_signer_key(signer).suite is suites.SM2


def test_sm3_merkle_tree_is_rfc9162_with_sm3() -> None:
    tree = suites.SM2.tree
    assert tree.empty_root == sm2.sm3(b"")
    assert tree.leaf_hash(b"x") == sm2.sm3(b"\x00x")
    assert tree.node_hash(b"a" * 32, b"b" * 32) == sm2.sm3(b"\x01" + b"a" * 32 + b"b" * 32)
    leaves = [tree.leaf_hash(bytes([i])) for i in range(21)]
    for size in range(1, 22):
        root = tree.root(leaves[:size])
        assert root != merkle.root([merkle.leaf_hash(bytes([i])) for i in range(size)])
        compact = tree.compact()
        for h in leaves[:size]:
            compact.append(h)
        assert compact.root() == root
        for index in range(size):
            proof = tree.inclusion_proof(index, size, leaves)
            assert tree.verify_inclusion(leaves[index], index, size, proof, root)
            assert not merkle.verify_inclusion(leaves[index], index, size, proof, root) or (
                size == 1
            )
        for old in range(size + 1):
            proof = tree.consistency_proof(old, size, leaves)
            old_root = tree.root(leaves[:old])
            assert tree.verify_consistency(old, size, old_root, root, proof)


def test_ed25519_envelope_bytes_unchanged() -> None:
    """The default suite writes exactly the envelope of ssj before suites existed."""
    envelope = Envelope(
        seq=3,
        originator_id="00000000-0000-0000-0000-000000000001",
        originator_version=2,
        topic="t",
        state_digest=bytes(range(32)),
        actor=ALICE,
        recorded_at="2026-01-01T00:00:00.000000Z",
        prev_hash=bytes(32),
        key_id="k+00000000",
    )
    assert envelope.to_bytes() == (
        b'{"actor":{"department":"city-market","role":"operator","user":"alice"},'
        b'"key_id":"k+00000000","originator_id":"00000000-0000-0000-0000-000000000001",'
        b'"originator_version":2,"prev":"' + b"0" * 64 + b'","recorded_at":'
        b'"2026-01-01T00:00:00.000000Z","seq":3,"state_sha256":"'
        + bytes(range(32)).hex().encode()
        + b'","topic":"t","v":1}'
    )
    assert Envelope.from_bytes(envelope.to_bytes()) == envelope


def test_sm2_ledger_never_mixes(sqlite_settings: Settings) -> None:
    ledger = Ledger(sqlite_settings)
    try:
        ledger.initialise(suite=suites.SM2)
        assert ledger.suite is suites.SM2
        ledger.save(Thing("one"), actor=ALICE)
        data = ledger.ledger_recorder.select_envelopes(2, 1)[0][2]
        assert "state_sm3" in orjson.loads(data) and "state_sha256" not in orjson.loads(data)
        with pytest.raises(ConflictError):
            ledger.initialise(suite=suites.ED25519)
        ed_key = KeyStore(sqlite_settings.keys_dir).create("ssj.local/ledger")
        with pytest.raises(ConflictError, match="never mixed"):
            ledger.rotate_key(ALICE, ed_key.key_id)
        new_key = ledger.rotate_key(ALICE)  # a fresh key of the ledger's own suite
        assert note.parse_verifier_key(ledger.keyring().keys[new_key]).suite is suites.SM2
        ledger.save(Thing("two"), actor=ALICE)
        ledger.issue_checkpoint()
        report = verify_ledger(ledger, jobs=1)
        assert report.ok, report.damage
        assert report.root == ledger.root(ledger.size())
        assert report.root == suites.SM2.tree.root(
            [
                suites.SM2.tree.leaf_hash(r[2])
                for r in ledger.ledger_recorder.select_envelopes(0, 99)
            ]
        )
    finally:
        ledger.close()
    with pytest.raises(ValidationError):
        suites.get("rsa-md5")


def test_cli_init_with_the_sm_suite(sqlite_settings: Settings) -> None:
    env = settings_env(sqlite_settings)
    init = run_ssj(["init", "--suite", "sm2-sm3"], env)
    assert init.returncode == 0, init.stderr
    assert "suite sm2-sm3" in init.stdout
    again = run_ssj(["init", "--suite", "ed25519-sha256"], env)
    assert again.returncode == 2 and "never mixed" in again.stderr
    bad = run_ssj(["init", "--suite", "rsa"], env)
    assert bad.returncode == 2 and "未知的密码套件" in bad.stderr
    key_file = next(sqlite_settings.keys_dir.glob("*.key"))
    assert "-----BEGIN PRIVATE KEY-----" in key_file.read_text(encoding="utf-8")
    verify = run_ssj(["verify"], env)
    assert verify.returncode == 0, verify.stderr
    assert "ledger intact: 2 events" in verify.stdout


def test_draws_under_sm2_sm3_reproduce_and_re_run_offline(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    """A draw in an sm2-sm3 ledger: its export is the same SHA-256 formulas (Rivest's sampler,
    for third-party re-runs), so the stdlib-only script checks it; the offline bundle of the SM
    ledger verifies and re-runs the draw."""
    import json
    import shutil

    from ssj.services.audit_bundle import audit_bundle, export_bundle
    from ssj.services.context import Services
    from tests.services.conftest import Jurisdiction
    from tests.services.test_draws import World

    services = Services(sqlite_settings)
    try:
        services.ledger.initialise(suite=suites.SM2)
        world = World(Jurisdiction(services))
        world.publish()
        draw_id = world.run()
        export = world.draws.export(draw_id)
        bundle = tmp_path / "sm.ssjbundle"
        export_bundle(services.ledger, bundle)
    finally:
        services.close()
    exported = tmp_path / "draw.json"
    exported.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    script = Path(__file__).resolve().parents[2] / "ops" / "reproduce_draw.py"
    checked = subprocess.run(
        [shutil.which("python3") or sys.executable, "-I", "-S", str(script), str(exported)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout
    audit = audit_bundle(bundle, jobs=1, parallel=False)
    assert audit.ok, audit.result.report.damage
    assert [d.status for d in audit.draws] == ["passed"]


# RFC 8032 §7.1, TEST 2 (one-byte message) and TEST 3 (two bytes).
RFC8032 = [
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032)
def test_ed25519_known_answers(seed: str, public: str, message: str, signature: str) -> None:
    """The libsodium binding of the hot paths signs the RFC's bytes and accepts them."""
    assert suites.ED25519.public_material(bytes.fromhex(seed)).hex() == public
    private = suites.ED25519.private_key(bytes.fromhex(seed))
    assert private.sign(bytes.fromhex(message)).hex() == signature
    key = suites.ED25519.public_key(bytes.fromhex(public))
    assert key.verify(bytes.fromhex(message), bytes.fromhex(signature))
    assert not key.verify(bytes.fromhex(message) + b"\x00", bytes.fromhex(signature))


def test_ed25519_bindings_agree() -> None:
    """libsodium (PyNaCl, the hot paths) and OpenSSL (`cryptography`) give byte-identical
    signatures over envelope-sized messages and accept each other's; both refuse a flipped bit,
    a signature of the wrong length and another key's signature."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    for n in range(20):
        seed = suites.ED25519.generate()
        openssl = Ed25519PrivateKey.from_private_bytes(seed)
        public = openssl.public_key().public_bytes_raw()
        assert suites.ED25519.public_material(seed) == public
        message = orjson.dumps({"seq": n, "topic": "签名" * n, "pad": "x" * (300 + n)})
        ours = suites.ED25519.private_key(seed).sign(message)
        theirs = openssl.sign(message)
        assert ours == theirs
        Ed25519PublicKey.from_public_bytes(public).verify(ours, message)  # raises if not
        key = suites.ED25519.public_key(public)
        assert key.verify(message, theirs)
        flipped = bytes([theirs[0] ^ 1]) + theirs[1:]
        assert not key.verify(message, flipped)
        with pytest.raises(InvalidSignature):
            Ed25519PublicKey.from_public_bytes(public).verify(flipped, message)
        assert not key.verify(message, theirs[:63])
        other = suites.ED25519.private_key(suites.ED25519.generate()).sign(message)
        assert not key.verify(message, other)


def test_ed25519_verify_gives_pynacl_s_verdicts() -> None:
    """`verify` calls libsodium's `crypto_sign_open` itself, without output buffers; PyNaCl's
    public wrapper of the same function must agree on every verdict: good signatures, each byte
    of signature and message flipped, S not reduced (S + L), the identity as public key, empty
    and envelope-sized messages, a memoryview, wrong lengths."""
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import BadSignatureError

    order = 2**252 + 27742317777372353535851937790883648493  # L, the group's order

    def pynacl(public: bytes, message: bytes, signature: bytes) -> bool:
        try:
            crypto_sign_open(signature + message, public)
        except (BadSignatureError, ValueError):
            return False
        return True

    cases: list[tuple[bytes, bytes, bytes]] = []
    for n, size in enumerate((0, 1, 64, 443)):
        seed = suites.ED25519.generate()
        public = suites.ED25519.public_material(seed)
        message = bytes((n * 7 + i) % 256 for i in range(size))
        signature = suites.ED25519.private_key(seed).sign(message)
        cases.append((public, message, signature))
        for i in range(0, 64, 5):
            cases.append(
                (public, message, signature[:i] + bytes([signature[i] ^ 1]) + signature[i + 1 :])
            )
        for i in range(0, size, max(size // 7, 1)):
            cases.append(
                (public, message[:i] + bytes([message[i] ^ 0x80]) + message[i + 1 :], signature)
            )
        s = int.from_bytes(signature[32:], "little") + order
        if s < 2**256:
            cases.append((public, message, signature[:32] + s.to_bytes(32, "little")))
        cases.append((bytes([1]) + bytes(31), message, signature))  # the identity point
    for public, message, signature in cases:
        key = suites.ED25519.public_key(public)
        expected = pynacl(public, message, signature)
        assert key.verify(message, signature) is expected
        assert key.verify(memoryview(message), signature) is expected  # type: ignore[arg-type]
    assert sum(pynacl(*c) for c in cases) == 4  # the four unaltered signatures, no others
    public, message, signature = cases[0]
    key = suites.ED25519.public_key(public)
    assert not key.verify(message, signature[:63])
    assert not key.verify(message, signature + b"\x00")
