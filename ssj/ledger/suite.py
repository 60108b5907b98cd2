"""The ledger's cryptographic suite: one object that everything hashing or signing asks.

A ledger chooses its suite at `ssj init` and never mixes: the genesis key (the first event,
`KeyRing.Created`) is of the suite's note-key type, and every later key must be too.

- `ed25519-sha256` (the default): SHA-256 digests and chain, RFC 9162 Merkle tree, Ed25519
  signatures, note keys of type 0x01 (C2SP signed-note) — byte for byte what ssj always wrote.
- `sm2-sm3` (GB/T 39786-2021, 密评): SM3 digests and chain, the RFC 9162 construction with SM3 in
  place of SHA-256, SM2 signatures (GB/T 32918.2, default user id, DER), note keys of type
  0xff followed by the identifier `sm2-sm3/v1` (signed-note's byte for types it does not assign),
  with the SubjectPublicKeyInfo DER as key material and the PKCS#8 DER as private material.

The signing and verification bindings live behind `PrivateKey` / `PublicKey` here (and
`ssj.ledger.sm2`), so a faster binding replaces them in one place. Ed25519 signs and verifies
through libsodium (PyNaCl): measured here it signs about 1.5x and verifies about 2x faster than
`cryptography` (OpenSSL), and Ed25519 is deterministic, so the bytes are the same (tested both
ways); `cryptography` still generates keys and serves the checkpoint notes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# PyNaCl's cffi module: libsodium's own functions (`_Ed25519Private.sign`, `_Ed25519Public.verify`)
from nacl._sodium import ffi, lib  # type: ignore[import-not-found]
from nacl.bindings import crypto_sign_seed_keypair

from ssj.errors import ValidationError
from ssj.ledger import merkle

ED25519_SHA256 = "ed25519-sha256"
SM2_SM3 = "sm2-sm3"
NAMES = (ED25519_SHA256, SM2_SM3)

_NULL = ffi.NULL

SM2_NOTE_TYPE = b"\xffsm2-sm3/v1"
SM2_COSIGNATURE_TYPE = b"\xffsm2-sm3-cosignature/v1"


class PrivateKey(Protocol):
    def sign(self, message: bytes) -> bytes: ...


class PublicKey(Protocol):
    def verify(self, message: bytes, signature: bytes) -> bool: ...

    def failures(self, signed: bytes, marks: Sequence[int], rows: Iterable[int]) -> list[int]:
        """The `rows` whose signature does not verify its message, both in `signed`: row i's
        signature up to `marks[2 * i]` (from `marks[2 * i - 1]`, or 0 for row 0), its message
        up to `marks[2 * i + 1]` (`ssj.ledger.verify.SignatureBatch`)."""
        ...


class _Ed25519Private:
    """libsodium's Ed25519 (RFC 8032): `crypto_sign` writes signature || message."""

    __slots__ = ("_secret",)

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("Ed25519 private key must be 32 bytes")
        self._secret = crypto_sign_seed_keypair(seed)[1]

    def sign(self, message: bytes) -> bytes:
        """libsodium's `crypto_sign` called directly: PyNaCl's wrapper checks, allocates a
        length pointer and copies the signed message out only for us to cut the signature
        from it (~2.5 of the ~42 us a 420-byte envelope's signature took, 2026-12-06)."""
        n = len(message)
        out = ffi.new("unsigned char[]", n + 64)
        lib.crypto_sign(out, _NULL, message, n, self._secret)
        signature: bytes = ffi.buffer(out, 64)[:]
        return signature


class _Ed25519Public:
    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        if len(raw) != 32:
            raise ValueError("Ed25519 public key must be 32 bytes")
        self._raw = raw

    def verify(self, message: bytes, signature: bytes) -> bool:
        """libsodium's `crypto_sign_open` called with no output buffers: it then only checks
        (`crypto_sign_verify_detached`), where PyNaCl's wrapper allocates a zeroed buffer and
        copies the message out (1-2 us of the ~57 a verification costs here, 2026-12-05).
        Same verdicts (tests/ledger/test_suite.py)."""
        if len(signature) != 64:
            return False
        try:
            signed = bytes(signature) + message
        except TypeError:
            return False
        return bool(lib.crypto_sign_open(_NULL, _NULL, signed, len(signed), self._raw) == 0)

    def failures(self, signed: bytes, marks: Sequence[int], rows: Iterable[int]) -> list[int]:
        """Each row's signature and message handed to libsodium where they lie in `signed`
        (signature then message, as `crypto_sign_open` reads them): no slice and no joined
        copy per row as `verify` makes, about 1 µs less a signature (49.0 against 50.1 µs on
        one core, 420-byte messages, 2026-12-07). The verdicts are `verify`'s (tested)."""
        buffer = ffi.from_buffer(signed)
        check, raw = lib.crypto_sign_open, self._raw
        bad = []
        for i in rows:
            start = marks[2 * i - 1] if i else 0
            split, end = marks[2 * i], marks[2 * i + 1]
            if split - start != 64 or check(_NULL, _NULL, buffer + start, end - start, raw) != 0:
                bad.append(i)
        return bad


class Suite:
    """Hashing, the Merkle tree, signing and key encodings of one suite."""

    name: str
    hash_name: str
    state_key: str  # the envelope field holding the digest of the event's state
    note_type: bytes  # signed-note signature type of the log's keys
    cosignature_type: bytes  # signed-note signature type of witness cosignatures

    @property
    def digest(self) -> Callable[[bytes], bytes]:
        raise NotImplementedError

    @property
    def tree(self) -> merkle.TreeHash:
        raise NotImplementedError

    @property
    def hexdigest(self) -> Callable[[bytes], str]:
        """The digest as lower-case hex (what envelopes hold): one call, no bytes object."""
        digest = self.digest
        return lambda data: digest(data).hex()

    def hash(self, data: bytes) -> bytes:
        return self.digest(data)

    def generate(self) -> bytes:
        """New private key material (what a signer key string carries)."""
        raise NotImplementedError

    def public_material(self, private: bytes) -> bytes:
        """The public key material (what a verifier key string carries) of private material."""
        raise NotImplementedError

    def private_key(self, private: bytes) -> PrivateKey:
        raise NotImplementedError

    def public_key(self, public: bytes) -> PublicKey:
        """Parse public material; ValueError if it is not a key of this suite."""
        raise NotImplementedError

    def check_private(self, private: bytes) -> bool:
        raise NotImplementedError

    def check_public(self, public: bytes) -> bool:
        try:
            self.public_key(public)
        except (ValueError, TypeError):
            return False
        return True

    def verify(self, public: bytes, message: bytes, signature: bytes) -> bool:
        try:
            key = self.public_key(public)
        except (ValueError, TypeError):
            return False
        return key.verify(message, signature)

    def __repr__(self) -> str:
        return f"Suite({self.name})"


class Ed25519Sha256(Suite):
    name = ED25519_SHA256
    hash_name = "SHA-256"
    state_key = "state_sha256"
    note_type = b"\x01"
    cosignature_type = b"\x04"

    @property
    def digest(self) -> Callable[[bytes], bytes]:
        return _sha256

    @property
    def hexdigest(self) -> Callable[[bytes], str]:
        return _sha256_hex

    @property
    def tree(self) -> merkle.TreeHash:
        return merkle.SHA256

    def generate(self) -> bytes:
        return Ed25519PrivateKey.generate().private_bytes_raw()

    def public_material(self, private: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()

    def private_key(self, private: bytes) -> PrivateKey:
        return _Ed25519Private(private)

    def public_key(self, public: bytes) -> PublicKey:
        if len(public) != 32:
            raise ValueError("Ed25519 public key must be 32 bytes")
        return _Ed25519Public(public)

    def check_private(self, private: bytes) -> bool:
        return len(private) == 32

    def check_public(self, public: bytes) -> bool:
        return len(public) == 32


class Sm2Sm3(Suite):
    name = SM2_SM3
    hash_name = "SM3"
    state_key = "state_sm3"
    note_type = SM2_NOTE_TYPE
    cosignature_type = SM2_COSIGNATURE_TYPE

    def __init__(self) -> None:
        self._tree: merkle.TreeHash | None = None

    @property
    def digest(self) -> Callable[[bytes], bytes]:
        from ssj.ledger import sm2

        return sm2.sm3_function()

    @property
    def tree(self) -> merkle.TreeHash:
        if self._tree is None:
            self._tree = merkle.TreeHash("sm3", self.digest)
        return self._tree

    def generate(self) -> bytes:
        from ssj.ledger import sm2

        return sm2.private_key_der(sm2.generate())

    def public_material(self, private: bytes) -> bytes:
        from ssj.ledger import sm2

        scalar = sm2.scalar_from_der(private)
        if scalar is None:
            raise ValueError("not an SM2 PKCS#8 private key")
        return sm2.public_key_der(sm2.public_point(scalar))

    def private_key(self, private: bytes) -> PrivateKey:
        from ssj.ledger import sm2

        scalar = sm2.scalar_from_der(private)
        if scalar is None:
            raise ValueError("not an SM2 PKCS#8 private key")
        return sm2.PrivateKey(scalar)

    def public_key(self, public: bytes) -> PublicKey:
        from ssj.ledger import sm2

        point = sm2.point_from_der(public)
        if point is None:
            raise ValueError("not an SM2 SubjectPublicKeyInfo")
        return sm2.PublicKey(point)

    def check_private(self, private: bytes) -> bool:
        from ssj.ledger import sm2

        return sm2.scalar_from_der(private) is not None


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


ED25519 = Ed25519Sha256()
SM2 = Sm2Sm3()
SUITES: dict[str, Suite] = {ED25519_SHA256: ED25519, SM2_SM3: SM2}
BY_NOTE_TYPE: dict[bytes, Suite] = {s.note_type: s for s in SUITES.values()}
DEFAULT = ED25519


def get(name: str) -> Suite:
    """The suite of that name, or a bilingual error naming the choices."""
    found = SUITES.get(name)
    if found is None:
        raise ValidationError(
            f"未知的密码套件 {name!r}（可选 {'、'.join(NAMES)}）",
            f"unknown cryptographic suite {name!r} (one of {', '.join(NAMES)})",
        )
    return found


def split_type(material: bytes) -> tuple[Suite, bytes] | None:
    """(suite, key material) of a note key's `type || material` bytes, or None if unknown."""
    for note_type, suite in BY_NOTE_TYPE.items():
        if material.startswith(note_type) and len(material) > len(note_type):
            return suite, material[len(note_type) :]
    return None
