"""SM3 (GB/T 32905-2016) and SM2 signatures (GB/T 32918.2-2016), with their standard encodings.

The arithmetic is the `gmalglib` C extension (`pip install 'ssj[sm]'`), chosen by measurement
(docs/developers/ledger.md, "The cryptographic suite"); SM3 is OpenSSL's through `hashlib` where the platform's
OpenSSL has it, else gmalglib's. Signatures use the default user id 1234567812345678, so the
signed digest is SM3(Z || M) with Z per GM/T 0009-2012; they are encoded as GM/T 0009's DER
SEQUENCE { r INTEGER, s INTEGER }. Keys are encoded as every SM tool reads them: public keys as
SubjectPublicKeyInfo DER (id-ecPublicKey with the SM2 curve 1.2.156.10197.1.301), private keys as
PKCS#8 DER or PEM. Only this module imports the library, so another binding swaps in here.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ssj.errors import ConfigurationError

DEFAULT_ID = b"1234567812345678"  # GM/T 0009-2012 §10: the default user id
SCALAR_SIZE = 32
POINT_SIZE = 65  # 0x04 || X || Y
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123  # the group order

# DER prefixes of fixed-size structures (ASN.1 by hand: the sizes never vary).
_ALGORITHM = bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d")  # ecPublicKey, SM2
SPKI_PREFIX = bytes.fromhex("3059") + _ALGORITHM + bytes.fromhex("034200")
PKCS8_PREFIX = bytes.fromhex("308187020100") + _ALGORITHM + bytes.fromhex("046d306b0201010420")
PKCS8_PUBLIC = bytes.fromhex("a144034200")


def _missing() -> ConfigurationError:
    return ConfigurationError(
        "sm2-sm3 密码套件需要 gmalglib：pip install 'ssj[sm]'",
        "the sm2-sm3 suite needs gmalglib: pip install 'ssj[sm]'",
    )


def _library() -> Any:
    try:
        from gmalglib import sm2
    except ImportError:
        raise _missing() from None
    return sm2


def _sm3_function() -> Callable[[bytes], bytes]:
    """The fastest SM3 at hand: OpenSSL's (a prepared context copied per call), else gmalglib."""
    try:
        base = hashlib.new("sm3")
    except ValueError:
        try:
            from gmalglib.sm3 import SM3
        except ImportError:
            raise _missing() from None
        return lambda data: SM3(data).digest()

    def sm3(data: bytes) -> bytes:
        h = base.copy()
        h.update(data)
        return h.digest()

    return sm3


def gmalglib_sm3(data: bytes) -> bytes:
    """SM3 by gmalglib itself (the known-answer tests check both implementations)."""
    try:
        from gmalglib.sm3 import SM3
    except ImportError:
        raise _missing() from None
    return SM3(data).digest()  # type: ignore[no-any-return]


_SM3: Callable[[bytes], bytes] | None = None


def sm3(data: bytes) -> bytes:
    global _SM3
    if _SM3 is None:
        _SM3 = _sm3_function()
    return _SM3(data)


def sm3_function() -> Callable[[bytes], bytes]:
    """The SM3 function itself, for hot loops that must not look it up per call."""
    global _SM3
    if _SM3 is None:
        _SM3 = _sm3_function()
    return _SM3


# Encodings ----------------------------------------------------------------------------------


def _der_int(value: int) -> bytes:
    body = value.to_bytes(SCALAR_SIZE + 1, "big").lstrip(b"\x00") or b"\x00"
    if body[0] & 0x80:
        body = b"\x00" + body
    return b"\x02" + bytes([len(body)]) + body


def signature_der(raw: bytes) -> bytes:
    """r || s (32 bytes each) as GM/T 0009's DER SEQUENCE { r INTEGER, s INTEGER }."""
    r = int.from_bytes(raw[:SCALAR_SIZE], "big")
    s = int.from_bytes(raw[SCALAR_SIZE:], "big")
    body = _der_int(r) + _der_int(s)
    return b"\x30" + bytes([len(body)]) + body


def signature_raw(der: bytes) -> bytes | None:
    """The DER signature back as r || s; None unless it is exactly the canonical encoding."""
    if len(der) < 8 or der[0] != 0x30 or der[1] != len(der) - 2:
        return None
    values = []
    at = 2
    for _ in range(2):
        if at + 2 > len(der) or der[at] != 0x02:
            return None
        size = der[at + 1]
        body = der[at + 2 : at + 2 + size]
        if len(body) != size or not 1 <= size <= SCALAR_SIZE + 1:
            return None
        value = int.from_bytes(body, "big")
        if not 0 < value < N or _der_int(value) != der[at : at + 2 + size]:
            return None
        values.append(value)
        at += 2 + size
    if at != len(der):
        return None
    return b"".join(v.to_bytes(SCALAR_SIZE, "big") for v in values)


def public_key_der(point: bytes) -> bytes:
    """SubjectPublicKeyInfo DER of an uncompressed point."""
    return SPKI_PREFIX + point


def point_from_der(der: bytes) -> bytes | None:
    """The uncompressed point of an SM2 SubjectPublicKeyInfo, if it is one and on the curve."""
    if len(der) != len(SPKI_PREFIX) + POINT_SIZE or not der.startswith(SPKI_PREFIX):
        return None
    point = der[len(SPKI_PREFIX) :]
    if point[0] != 0x04 or not _library().SM2.is_pk_valid(point):
        return None
    return point


def private_key_der(scalar: bytes) -> bytes:
    """PKCS#8 DER (with the public key, as OpenSSL and GmSSL write it)."""
    return PKCS8_PREFIX + scalar + PKCS8_PUBLIC + public_point(scalar)


def scalar_from_der(der: bytes) -> bytes | None:
    expected = len(PKCS8_PREFIX) + SCALAR_SIZE + len(PKCS8_PUBLIC) + POINT_SIZE
    if len(der) != expected or not der.startswith(PKCS8_PREFIX):
        return None
    scalar = der[len(PKCS8_PREFIX) : len(PKCS8_PREFIX) + SCALAR_SIZE]
    if not _library().SM2.is_sk_valid(scalar) or private_key_der(scalar) != der:
        return None
    return scalar


def private_key_pem(scalar: bytes) -> str:
    b64 = base64.b64encode(private_key_der(scalar)).decode("ascii")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n"


# Keys and signatures ------------------------------------------------------------------------


def generate() -> bytes:
    """A new private scalar (32 bytes)."""
    sk, _ = _library().SM2().generate_keypair()
    return bytes(sk)


def public_point(scalar: bytes) -> bytes:
    return bytes(_library().SM2.get_pk(scalar))


def z_value(point: bytes, user_id: bytes = DEFAULT_ID) -> bytes:
    """Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA), GM/T 0009-2012 / GB/T 32918.2."""
    return bytes(_library().SM2(pk=point, uid=user_id).get_entity_info())


class PrivateKey:
    """One SM2 private key, parsed once; `sign` returns the DER signature of SM3(Z || message)."""

    def __init__(self, scalar: bytes) -> None:
        lib = _library()
        if not lib.SM2.is_sk_valid(scalar):
            raise ValueError("invalid SM2 private key")
        self._sm2 = lib.SM2(scalar, uid=DEFAULT_ID)
        self.point = public_point(scalar)

    def sign(self, message: bytes) -> bytes:
        return signature_der(self._sm2.sign(message))


class PublicKey:
    """One SM2 public key, parsed once; `verify` never raises."""

    def __init__(self, point: bytes) -> None:
        lib = _library()
        if not lib.SM2.is_pk_valid(point):
            raise ValueError("invalid SM2 public key")
        self._sm2 = lib.SM2(pk=point, uid=DEFAULT_ID)

    def verify(self, message: bytes, signature: bytes) -> bool:
        raw = signature_raw(signature)
        if raw is None:
            return False
        try:
            return bool(self._sm2.verify(message, raw))
        except Exception:
            return False

    def failures(self, signed: bytes, marks: Sequence[int], rows: Iterable[int]) -> list[int]:
        """`verify` of each row, its signature and message cut from `signed`
        (`ssj.ledger.suite.PublicKey.failures`)."""
        return [
            i
            for i in rows
            if not self.verify(
                signed[marks[2 * i] : marks[2 * i + 1]],
                signed[marks[2 * i - 1] if i else 0 : marks[2 * i]],
            )
        ]
