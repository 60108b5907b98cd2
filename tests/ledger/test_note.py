"""C2SP signed-note: byte-exact with Go's golang.org/x/mod/sumdb/note, strict on bad input."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssj.errors import SsjError
from ssj.ledger import note
from ssj.ledger.note import (
    NoteError,
    Signer,
    Verifier,
    generate_key,
    key_id,
    open_note,
    parse_note,
    parse_signer_key,
    parse_verifier_key,
    public_key_bytes,
    sign,
    verifier_key,
    verify,
)
from tests.conftest import examples

# Known answers from Go's golang.org/x/mod/sumdb/note (package docs and note_test.go).
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6"
    "KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33W"
    "Wd1RvMc+QQ=\n"
)
# The example note of c2sp.org/signed-note (its key is not published: parse only).
C2SP_NOTE = (
    "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n"
    "— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMou"
    "FSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)


def test_sign_matches_go_byte_for_byte() -> None:
    assert sign(TEXT, PETER_SKEY) == TEXT + "\n" + PETER_SIG


def test_verify_accepts_go_notes() -> None:
    assert verify(TEXT + "\n" + PETER_SIG, [PETER_VKEY]) == TEXT
    both = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    text, verified = open_note(both, [PETER_VKEY])
    assert text == TEXT
    assert [v.key_id for v in verified] == ["PeterNeumann+c74f20a3"]
    _, verified = open_note(both, [PETER_VKEY, ENOCH_VKEY])
    assert [v.key_id for v in verified] == ["PeterNeumann+c74f20a3", "EnochRoot+af0cfe78"]
    assert verify(both, [ENOCH_VKEY]) == TEXT
    # Repeated lines by one key are read once, as Go does.
    assert verify(TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG, [PETER_VKEY]) == TEXT


def test_go_keys_parse() -> None:
    v = parse_verifier_key(PETER_VKEY)
    s = parse_signer_key(PETER_SKEY)
    assert (v.name, v.key_hash) == ("PeterNeumann", 0xC74F20A3)
    assert s.verifier() == v
    assert v.to_key() == PETER_VKEY
    assert key_id(PETER_VKEY) == key_id(PETER_SKEY) == "PeterNeumann+c74f20a3"
    assert public_key_bytes(PETER_VKEY) == public_key_bytes(PETER_SKEY) == v.public_key
    assert public_key_bytes(s) == public_key_bytes(v) == v.public_key
    assert key_id(s) == key_id(v) == v.key_id
    assert verifier_key("PeterNeumann", v.public_key) == PETER_VKEY
    assert "seed" not in repr(s) and "AYEK" not in repr(s)


def test_key_hash_is_go_formula() -> None:
    v = parse_verifier_key(ENOCH_VKEY)
    digest = hashlib.sha256(b"EnochRoot\n\x01" + v.public_key).digest()
    assert v.key_hash == int.from_bytes(digest[:4], "big") == 0xAF0CFE78


def test_generate_key_format_and_round_trip() -> None:
    skey, vkey = generate_key("example.com/log")
    m = re.fullmatch(r"PRIVATE\+KEY\+example\.com/log\+([0-9a-f]{8})\+([A-Za-z0-9+/]{44})", skey)
    assert m is not None
    raw = base64.b64decode(m.group(2), validate=True)
    assert len(raw) == 33 and raw[0] == 1
    v = parse_verifier_key(vkey)
    assert (
        vkey == f"example.com/log+{m.group(1)}+" + base64.b64encode(b"\x01" + v.public_key).decode()
    )
    assert parse_signer_key(skey).verifier() == v
    signed = sign("hello\n", skey)
    assert verify(signed, [vkey]) == "hello\n"
    s = parse_signer_key(skey)
    assert v.verify(b"raw message", s.sign(b"raw message"))
    assert not v.verify(b"raw messagE", s.sign(b"raw message"))
    assert not v.verify(b"raw message", b"\x00" * 64)


def test_sign_many_and_unknown_keys_ignored() -> None:
    s1, v1 = generate_key("a.example/one")
    s2, v2 = generate_key("b.example/two")
    _, v3 = generate_key("a.example/one")  # same name, different key: unknown, ignored
    signed = sign("text\n", [s1, s2])
    lines = signed.split("\n")
    assert lines[2].startswith("— a.example/one ") and lines[3].startswith("— b.example/two ")
    assert verify(signed, [v1]) == verify(signed, [v2]) == "text\n"
    assert verify(signed, [v3, v2]) == "text\n"
    with pytest.raises(NoteError, match="no verifiable signatures"):
        verify(signed, [v3])
    with pytest.raises(NoteError, match="no verifiable signatures"):
        verify(signed, [])


def test_texts_round_trip() -> None:
    skey, vkey = generate_key("ssj")
    for text in [
        "\n",
        "a\n\nb\n",
        "a\n\n\n",
        "双随机、一公开\n抽查结果\n",
        "x\n\n— ssj AAAAAAA=\n",  # a text that itself looks like a signed note
        "tab-free but \x7f DEL and emoji 🙂 are fine\n",
    ]:
        assert verify(sign(text, skey), [vkey]) == text


@pytest.mark.parametrize(
    "text", ["", "abc", "no newline at end\nx", "bell\x07\n", "tab\there\n", "cr\r\n", "\ud800\n"]
)
def test_sign_rejects_bad_text(text: str) -> None:
    with pytest.raises(NoteError):
        sign(text, PETER_SKEY)


def test_sign_rejects_bad_signers() -> None:
    with pytest.raises(NoteError):
        sign(TEXT, [])
    with pytest.raises(NoteError):
        sign(TEXT, [PETER_SKEY, PETER_SKEY])
    good = parse_signer_key(PETER_SKEY)
    with pytest.raises(NoteError, match="invalid signer"):
        sign(TEXT, Signer("bad name", good.key_hash, good.seed))
    with pytest.raises(NoteError):
        sign(TEXT, PETER_VKEY)


def test_tampering_is_rejected() -> None:
    signed = TEXT + "\n" + PETER_SIG
    with pytest.raises(NoteError, match="invalid signature for key PeterNeumann\\+c74f20a3"):
        verify(signed.replace("problem is", "problem was"), [PETER_VKEY])
    # Go's corrupted signature: a known key's bad signature rejects the whole note.
    bad = TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(NoteError, match="invalid signature"):
        verify(bad, [PETER_VKEY])
    with pytest.raises(NoteError, match="invalid signature"):
        verify(bad + ENOCH_SIG, [PETER_VKEY, ENOCH_VKEY])
    # ...but an unknown key's bad signature is ignored.
    assert verify(TEXT + "\n" + PETER_SIG + ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:], [PETER_VKEY])


def test_every_bit_of_the_signature_matters() -> None:
    raw = bytearray(base64.b64decode(PETER_SIG.split(" ")[2]))
    for i in range(4, len(raw)):
        for bit in (0, 3, 7):
            raw[i] ^= 1 << bit
            line = "— PeterNeumann " + base64.b64encode(raw).decode() + "\n"
            with pytest.raises(NoteError):
                verify(TEXT + "\n" + line, [PETER_VKEY])
            raw[i] ^= 1 << bit


@pytest.mark.parametrize(
    "msg",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        "\udcff" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name").rstrip("\n"),
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG * 101,
        TEXT + "\n" + "— PeterNeumann \n",
        TEXT + "\n" + "— PeterNeumann AAAA\n",  # fewer than 5 bytes
        TEXT + "\n" + "— PeterNeumann AAAAAAAA=\n",  # excess padding
        TEXT + "\n" + "— PeterNeumann AAAAAAA\n",  # missing padding
        TEXT + "\n" + "— PeterNeumann AAAA AAAA\n",
        TEXT + "\n" + "— Peter+Neumann x08go/ZJkuBS9UG/Sf==\n",
        TEXT + "\n" + "- PeterNeumann x08go/ZJkuBS9UG/Sf==\n",
        TEXT + "\n" + "—PeterNeumann x08go/ZJkuBS9UG/Sf==\n",
    ],
)
def test_malformed_notes(msg: str) -> None:
    with pytest.raises(NoteError, match="malformed note"):
        verify(msg, [PETER_VKEY])


def test_c2sp_example_parses() -> None:
    text, sigs = parse_note(C2SP_NOTE)
    assert text == C2SP_NOTE[: C2SP_NOTE.index("\n\n—") + 1]
    assert text.endswith(":\n\ned è subito sera.\n")
    assert [s.name for s in sigs] == ["quasimodo.example/salvatore"]
    assert len(sigs[0].signature) == 64
    with pytest.raises(NoteError, match="no verifiable signatures"):
        verify(C2SP_NOTE, [PETER_VKEY])
    # A key with the same name but another key id is not the signer: ignored, not an error.
    _, other = generate_key("quasimodo.example/salvatore")
    with pytest.raises(NoteError, match="no verifiable signatures"):
        verify(C2SP_NOTE, [other])


def test_ambiguous_and_duplicate_verifiers() -> None:
    v = parse_verifier_key(PETER_VKEY)
    assert verify(TEXT + "\n" + PETER_SIG, [v, PETER_VKEY, v]) == TEXT
    twin = Verifier(v.name, v.key_hash, parse_verifier_key(ENOCH_VKEY).public_key)
    with pytest.raises(NoteError, match="ambiguous key"):
        verify(TEXT + "\n" + PETER_SIG, [v, twin])
    # Unused ambiguity does not matter (as in Go).
    assert verify(TEXT + "\n" + ENOCH_SIG, [v, twin, ENOCH_VKEY]) == TEXT


def _all_mangled(key: str) -> set[str]:
    """Go's note_test manglings: every proper substring and every single-byte increment."""
    b = key.encode()
    out = {
        b[i:j].decode("utf-8", "replace")
        for i in range(len(b) + 1)
        for j in range(i + 1, len(b) + 1)
    }
    for i in range(len(b)):
        m = bytearray(b)
        m[i] = (m[i] + 1) % 256
        out.add(bytes(m).decode("utf-8", "replace"))
    out.discard(key)
    return out


def test_mangled_verifier_keys_rejected() -> None:
    for bad in sorted(_all_mangled(PETER_VKEY)):
        with pytest.raises(NoteError):
            parse_verifier_key(bad)
    # Go's extra cases: wrong key length and unknown algorithm, each with a matching hash.
    with pytest.raises(NoteError, match="malformed verifier key"):
        parse_verifier_key(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
    with pytest.raises(NoteError, match="unknown verifier key algorithm"):
        parse_verifier_key("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_mangled_signer_keys_rejected() -> None:
    for bad in sorted(_all_mangled(PETER_SKEY)):
        with pytest.raises(NoteError):
            parse_signer_key(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper-case hash
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n",
        " PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        PETER_SKEY,
        None,
    ],
)
def test_malformed_verifier_keys(bad: object) -> None:
    with pytest.raises(NoteError):
        parse_verifier_key(bad)  # type: ignore[arg-type]


def test_key_names_validated() -> None:
    for name in ["", "a b", "a+b", "a\u3000b", "a\u00a0b", "a\x00b", "tab\t", "\ud800"]:
        assert not note.valid_name(name)
        with pytest.raises(NoteError):
            generate_key(name)
    assert note.valid_name("ssj.example/监管日志")
    with pytest.raises(NoteError):
        verifier_key("ok", b"short")


def test_error_is_bilingual_ssj_error() -> None:
    with pytest.raises(NoteError) as info:
        verify(TEXT, [PETER_VKEY])
    err = info.value
    assert isinstance(err, SsjError)
    assert err.code == "note"
    assert err.zh and err.en and str(err) == f"{err.zh} / {err.en}"
    assert re.search(r"[\u4e00-\u9fff]", err.zh)


@settings(max_examples=examples(50), deadline=None)
@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
        min_size=1,
        max_size=5,
    )
)
def test_round_trip_property(lines: list[str]) -> None:
    text = "".join(line + "\n" for line in lines)
    signed = sign(text, PETER_SKEY)
    assert verify(signed, [PETER_VKEY]) == text
    assert parse_note(signed)[0] == text
