"""C2SP tlog-checkpoint: Go's golden text, strict parsing, signing and opening."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssj.errors import SsjError
from ssj.ledger.checkpoint import Checkpoint, CheckpointError, open_checkpoint, sign_checkpoint
from ssj.ledger.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    leaf_hash,
    root,
    verify_consistency,
)
from ssj.ledger.note import NoteError, generate_key, parse_note, sign
from tests.conftest import examples

# Golden text of Go's golang.org/x/mod/sumdb/tlog FormatTree (note_test.go).
GO_TREE = "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n"
# The example of c2sp.org/tlog-checkpoint (its key is not published: parse only).
C2SP_SIGNED = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhc"
    "yv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
ROOT = leaf_hash(b"hello world")


def test_go_golden_tree() -> None:
    cp = Checkpoint("go.sum database tree", 123456789012, ROOT)
    assert cp.to_text() == GO_TREE
    assert Checkpoint.from_text(GO_TREE) == cp


def test_c2sp_example_body() -> None:
    text, sigs = parse_note(C2SP_SIGNED)
    cp = Checkpoint.from_text(text)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()
    assert cp.to_text() == text
    assert sigs[0].name == cp.origin
    _, vkey = generate_key("example.com/behind-the-sofa")
    with pytest.raises(CheckpointError, match="no verifiable signatures"):
        open_checkpoint(C2SP_SIGNED, [vkey])


def test_extensions_round_trip() -> None:
    cp = Checkpoint("ssj.example/log", 0, EMPTY_ROOT, ("ext one", "— ext two"))
    text = cp.to_text()
    assert text.endswith("\next one\n— ext two\n")
    assert Checkpoint.from_text(text) == cp


ROOT64 = base64.b64encode(ROOT).decode()
NONCANONICAL = ROOT64[:-2] + chr(ord(ROOT64[-2]) + 1) + "="  # same bytes if decoded leniently
URLSAFE = base64.urlsafe_b64encode(b"\xff" * 32).decode()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "o\n1\n",
        f"o\n1\n{ROOT64}",  # no final newline
        f"o\n1\n{ROOT64}\n\n",  # empty extension line
        f"o\n1\n{ROOT64}\next\n\n",
        f"\n1\n{ROOT64}\n",  # empty origin
        f"o\n01\n{ROOT64}\n",
        f"o\n+1\n{ROOT64}\n",
        f"o\n-1\n{ROOT64}\n",
        f"o\n 1\n{ROOT64}\n",
        f"o\n1 \n{ROOT64}\n",
        f"o\n\n{ROOT64}\n",
        f"o\n0xabcdef\n{ROOT64}\n",
        f"o\n١٢\n{ROOT64}\n",  # non-ASCII digits
        f"o\n{2**64}\n{ROOT64}\n",
        f"o\n1\n{ROOT64[:-1]}\n",  # missing padding
        f"o\n1\n{NONCANONICAL}\n",
        f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"o\n1\n{base64.b64encode(ROOT + b'x').decode()}\n",
        f"o\n1\n{URLSAFE}\n",
        "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBTOOBIG=\n",
        f"o\r\n1\n{ROOT64}\n",
        f"o\n1\r\n{ROOT64}\n",
        f"o\n1\n{ROOT64}\r\n",
        f"o\x00\n1\n{ROOT64}\n",
    ],
)
def test_strict_parsing(text: str) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.from_text(text)


def test_noncanonical_fixture_is_lenient_base64() -> None:
    assert base64.b64decode(NONCANONICAL) == ROOT  # so the rejection above is about canonicity


def test_largest_size_accepted() -> None:
    cp = Checkpoint.from_text(f"o\n{2**64 - 1}\n{ROOT64}\n")
    assert cp.size == 2**64 - 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"origin": ""},
        {"origin": "a\nb"},
        {"origin": 7},
        {"size": -1},
        {"size": 2**64},
        {"size": True},
        {"size": 1.0},
        {"root_hash": ROOT[:31]},
        {"root_hash": ROOT64},
        {"extensions": ["list"]},
        {"extensions": ("",)},
        {"extensions": ("a\nb",)},
    ],
)
def test_constructor_validates(kwargs: dict) -> None:
    args = {"origin": "o", "size": 1, "root_hash": ROOT} | kwargs
    with pytest.raises(CheckpointError):
        Checkpoint(**args)


def test_sign_and_open() -> None:
    skey, vkey = generate_key("ssj.example/log")
    leaves = [leaf_hash(str(i).encode()) for i in range(10)]
    old = Checkpoint("ssj.example/log", 4, root(leaves[:4]))
    new = Checkpoint("ssj.example/log", 10, root(leaves))
    s_old, s_new = sign_checkpoint(old, skey), sign_checkpoint(new, skey)
    assert s_old.startswith(old.to_text() + "\n— ssj.example/log ")
    o = open_checkpoint(s_old, [vkey], origin="ssj.example/log")
    n = open_checkpoint(s_new, [vkey])
    assert (o, n) == (old, new)
    proof = consistency_proof(o.size, n.size, leaves)
    assert verify_consistency(o.size, n.size, o.root_hash, n.root_hash, proof)


def test_open_rejects() -> None:
    skey, vkey = generate_key("ssj.example/log")
    _, other = generate_key("ssj.example/log")
    cp = Checkpoint("ssj.example/log", 4, ROOT)
    signed = sign_checkpoint(cp, skey)
    with pytest.raises(CheckpointError, match="no verifiable signatures") as info:
        open_checkpoint(signed, [other])
    assert isinstance(info.value.__cause__, NoteError)
    with pytest.raises(CheckpointError, match="invalid signature"):
        open_checkpoint(signed.replace("\n4\n", "\n5\n"), [vkey])
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(signed, [vkey], origin="another.example/log")
    with pytest.raises(CheckpointError, match="malformed note"):
        open_checkpoint(cp.to_text(), [vkey])
    # A validly signed note that is not a checkpoint.
    with pytest.raises(CheckpointError, match="tree size"):
        open_checkpoint(sign("ssj.example/log\nlots\nx\n", skey), [vkey])


def test_error_is_bilingual() -> None:
    with pytest.raises(CheckpointError) as info:
        Checkpoint.from_text("nope")
    assert isinstance(info.value, SsjError)
    assert info.value.code == "checkpoint"
    assert " / " in str(info.value) and info.value.zh and info.value.en


def test_multiple_signers() -> None:
    s1, v1 = generate_key("ssj.example/log")
    s2, v2 = generate_key("witness.example/w1")
    cp = Checkpoint("ssj.example/log", 1, ROOT)
    signed = sign_checkpoint(cp, [s1, s2])
    assert open_checkpoint(signed, [v1]) == open_checkpoint(signed, [v2]) == cp


line = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)


@settings(max_examples=examples(100), deadline=None)
@given(
    line,
    st.integers(0, 2**64 - 1),
    st.binary(min_size=32, max_size=32),
    st.lists(line, max_size=3).map(tuple),
)
def test_round_trip_property(origin: str, size: int, root_hash: bytes, ext: tuple) -> None:
    cp = Checkpoint(origin, size, root_hash, ext)
    assert Checkpoint.from_text(cp.to_text()) == cp
