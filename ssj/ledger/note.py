"""C2SP signed-note with Ed25519, key strings byte-compatible with Go's golang.org/x/mod/sumdb/note.

Compatibility with Go matters because third parties (witnesses, auditors) check our checkpoints
with standard tooling; parsing follows Go's rules so both sides accept and reject the same notes.

Keys carry their suite (`ssj.ledger.suite`) in the signature-type bytes: 0x01 for Ed25519 as Go
writes it, and 0xff `sm2-sm3/v1` for SM2 keys of the sm2-sm3 suite (signed-note reserves 0xff,
followed by a longer identifier, for types it does not assign). The key hash is the spec's
SHA-256(name || 0x0A || type || public key)[:4] either way: an identifier, not a security function.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ssj.errors import SsjError
from ssj.ledger import suite as suites
from ssj.ledger.suite import Suite

ALG_ED25519 = 1
MAX_SIGNATURES = 100  # Go's limit; C2SP requires accepting at least 16.
SIG_PREFIX = "\u2014 "  # em dash, space
_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_HASH8 = re.compile(r"[0-9a-f]{8}")


class NoteError(SsjError):
    """A signed note or a note key is malformed, unverifiable or forged."""

    code = "note"


@dataclass(frozen=True)
class Verifier:
    """A parsed verifier (public) key."""

    name: str
    key_hash: int
    public_key: bytes
    suite: Suite = field(default=suites.ED25519, compare=False)

    @property
    def key_id(self) -> str:
        """The id "<name>+<hash>", how signature lines and logs refer to this key."""
        return f"{self.name}+{self.key_hash:08x}"

    def to_key(self) -> str:
        """The verifier key string, as Go writes it."""
        return f"{self.key_id}+{_b64(self.suite.note_type + self.public_key)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Raw check in the key's suite, for signatures that are not on notes too."""
        return self.suite.verify(self.public_key, message, signature)


@dataclass(frozen=True)
class Signer:
    """A parsed signer (private) key; the seed is kept out of repr so it does not leak to logs."""

    name: str
    key_hash: int
    seed: bytes = field(repr=False)  # the private material: an Ed25519 seed, or SM2 PKCS#8 DER
    suite: Suite = field(default=suites.ED25519, compare=False)

    @property
    def key_id(self) -> str:
        return f"{self.name}+{self.key_hash:08x}"

    @property
    def public_key(self) -> bytes:
        return self.suite.public_material(self.seed)

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_hash, self.public_key, self.suite)

    def sign(self, message: bytes) -> bytes:
        """Raw signature in the key's suite (Ed25519 is deterministic; SM2 is not)."""
        return self.suite.private_key(self.seed).sign(message)

    def signer_key(self) -> str:
        """The signer key string, as Go writes it for Ed25519."""
        material = _b64(self.suite.note_type + self.seed)
        return f"PRIVATE+KEY+{self.key_id}+{material}"


@dataclass(frozen=True)
class Signature:
    """One signature line of a note, not yet verified."""

    name: str
    key_hash: int
    signature: bytes

    @property
    def key_id(self) -> str:
        return f"{self.name}+{self.key_hash:08x}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(s: str) -> bytes | None:
    """Standard base64 with padding, rejecting what Go's StdEncoding rejects; None if invalid."""
    if not _B64.fullmatch(s):
        return None
    try:
        return binascii.a2b_base64(s, strict_mode=True)
    except binascii.Error:
        return None


def _is_utf8(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def valid_name(name: str) -> bool:
    """Non-empty UTF-8 with no Unicode space, no '+', and no control character.

    Control characters are refused on top of Go's rule because no note could carry them.
    """
    return (
        isinstance(name, str)
        and name != ""
        and "+" not in name
        and _is_utf8(name)
        and not any(c.isspace() or c < " " for c in name)
    )


def key_hash(name: str, public_key: bytes, key_type: bytes = b"\x01") -> int:
    """First four bytes of SHA-256(name || "\\n" || type || public key), big-endian."""
    data = name.encode("utf-8") + b"\n" + key_type + public_key
    return int.from_bytes(hashlib.sha256(data).digest()[:4], "big")


def verifier_key(name: str, public_key: bytes, suite: Suite = suites.ED25519) -> str:
    """Encode public key material (a raw 32-byte Ed25519 key, or an SM2 SubjectPublicKeyInfo)
    as a verifier key string."""
    if not valid_name(name):
        raise NoteError("密钥名称无效", f"invalid key name {name!r}")
    if not suite.check_public(public_key):
        raise NoteError("公钥长度无效", f"not a {suite.name} public key ({len(public_key)} bytes)")
    h = key_hash(name, public_key, suite.note_type)
    return Verifier(name, h, bytes(public_key), suite).to_key()


def generate_key(name: str, suite: Suite = suites.ED25519) -> tuple[str, str]:
    """New key pair as (signer key, verifier key) strings; keep the first one secret."""
    if not valid_name(name):
        raise NoteError("密钥名称无效", f"invalid key name {name!r}")
    private = suite.generate()
    public = suite.public_material(private)
    signer = Signer(name, key_hash(name, public, suite.note_type), private, suite)
    return signer.signer_key(), signer.verifier().to_key()


def _split_key(rest: str) -> tuple[str, int, bytes] | None:
    """Parse "<name>+<hash>+<base64 key>" into name, hash and 32-byte key, or None."""
    name, _, rest = rest.partition("+")
    hash8, _, key64 = rest.partition("+")
    key = _b64decode(key64)
    if not valid_name(name) or not _HASH8.fullmatch(hash8) or not key:
        return None
    return name, int(hash8, 16), key


def parse_verifier_key(s: str) -> Verifier:
    """Parse "<name>+<hash8hex>+<base64(0x01 || public key)>" and check the hash.

    The hash must be lowercase, as Go writes it, so that a key has one spelling and key ids
    compare as strings (Go's parser also takes upper case).
    """
    parts = _split_key(s) if isinstance(s, str) else None
    if parts is None:
        raise NoteError("验证密钥格式错误", "malformed verifier key")
    name, h, key = parts
    typed = suites.split_type(key)
    if typed is None:
        raise NoteError("未知的验证密钥算法", f"unknown verifier key algorithm {key[0]}")
    suite, public = typed
    if not suite.check_public(public):
        raise NoteError(
            "验证密钥格式错误", f"malformed verifier key: not a {suite.name} public key"
        )
    if h != key_hash(name, public, suite.note_type):
        raise NoteError("验证密钥哈希不符", "verifier key hash does not match the key")
    return Verifier(name, h, public, suite)


def parse_signer_key(s: str) -> Signer:
    """Parse "PRIVATE+KEY+<name>+<hash8hex>+<base64(0x01 || seed)>" and check the hash."""
    prefix = "PRIVATE+KEY+"
    ok = isinstance(s, str) and s.startswith(prefix)
    parts = _split_key(s[len(prefix) :]) if ok else None
    if parts is None:
        raise NoteError("签名私钥格式错误", "malformed signer key")
    name, h, key = parts
    typed = suites.split_type(key)
    if typed is None:
        raise NoteError("未知的签名私钥算法", f"unknown signer key algorithm {key[0]}")
    suite, private = typed
    if not suite.check_private(private):
        raise NoteError("签名私钥格式错误", f"malformed signer key: not a {suite.name} private key")
    signer = Signer(name, h, private, suite)
    if h != key_hash(name, signer.public_key, suite.note_type):
        raise NoteError("签名私钥哈希不符", "signer key hash does not match the key")
    return signer


def _as_verifier(key: str | Verifier) -> Verifier:
    return key if isinstance(key, Verifier) else parse_verifier_key(key)


def key_id(key: str | Verifier | Signer) -> str:
    """The id "<name>+<hash8hex>" of a verifier key, signer key, or parsed key."""
    if isinstance(key, Verifier | Signer):
        return key.key_id
    if isinstance(key, str) and key.startswith("PRIVATE+KEY+"):
        return parse_signer_key(key).key_id
    return parse_verifier_key(key).key_id


def public_key_bytes(key: str | Verifier | Signer) -> bytes:
    """Raw 32-byte Ed25519 public key of a verifier key or signer key, for raw signatures."""
    if isinstance(key, Verifier | Signer):
        return key.public_key
    if isinstance(key, str) and key.startswith("PRIVATE+KEY+"):
        return parse_signer_key(key).public_key
    return parse_verifier_key(key).public_key


def _check_text(text: str) -> None:
    """Refuse texts that would not survive a round trip through verify()."""
    if not isinstance(text, str) or not text.endswith("\n"):
        raise NoteError("便签正文必须以换行结尾", "malformed note: text must end with a newline")
    _check_chars(text)


def _check_chars(s: str) -> None:
    if not _is_utf8(s) or any(c < " " and c != "\n" for c in s):
        raise NoteError("便签含有无效字符", "malformed note: invalid UTF-8 or control character")


def sign(text: str, signer_keys: str | Signer | Iterable[str | Signer]) -> str:
    """Sign text with one or more signer keys; signature lines follow in the order given."""
    _check_text(text)
    if isinstance(signer_keys, str | Signer):
        signer_keys = [signer_keys]
    signers = [k if isinstance(k, Signer) else parse_signer_key(k) for k in signer_keys]
    if not signers:
        raise NoteError("没有签名私钥", "no signer key given")
    if not all(valid_name(s.name) for s in signers):
        raise NoteError("签名私钥名称无效", "invalid signer: bad key name")
    if len(signers) > MAX_SIGNATURES:
        raise NoteError("签名过多", f"more than {MAX_SIGNATURES} signatures")
    ids = [s.key_id for s in signers]
    if len(set(ids)) != len(ids):
        raise NoteError("签名私钥重复", "the same signer key was given twice")
    message = text.encode("utf-8")
    lines = []
    for s in signers:
        blob = s.key_hash.to_bytes(4, "big") + s.sign(message)
        lines.append(f"{SIG_PREFIX}{s.name} {_b64(blob)}\n")
    return text + "\n" + "".join(lines)


def parse_note(note: str) -> tuple[str, list[Signature]]:
    """Split a signed note into its text and signature lines, checking syntax only."""
    if not isinstance(note, str):
        raise NoteError("便签格式错误", "malformed note: not a string")
    _check_chars(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("便签格式错误", "malformed note: no blank line before signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("便签格式错误", "malformed note: signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("便签格式错误", f"malformed note: more than {MAX_SIGNATURES} signatures")
    sigs = []
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise NoteError("便签格式错误", "malformed note: bad signature line")
        name, _, b64 = line[len(SIG_PREFIX) :].partition(" ")
        raw = _b64decode(b64)
        if not valid_name(name) or raw is None or len(raw) < 5:
            raise NoteError("便签格式错误", "malformed note: bad signature line")
        sigs.append(Signature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return text, sigs


def open_note(
    note: str, verifier_keys: str | Verifier | Iterable[str | Verifier]
) -> tuple[str, list[Verifier]]:
    """Verify a note; return its text and the known keys whose signatures verified.

    Signatures by unknown keys are ignored (key rotation, witnesses); a bad signature by a known
    key rejects the whole note, and so does a note no known key signed.
    """
    if isinstance(verifier_keys, str | Verifier):
        verifier_keys = [verifier_keys]
    known: dict[tuple[str, int], list[Verifier]] = {}
    for k in verifier_keys:
        v = _as_verifier(k)
        same = known.setdefault((v.name, v.key_hash), [])
        if v not in same:
            same.append(v)
    text, sigs = parse_note(note)
    message = text.encode("utf-8")
    verified: list[Verifier] = []
    seen: set[tuple[str, int]] = set()
    for sig in sigs:
        ident = (sig.name, sig.key_hash)
        candidates = known.get(ident)
        if not candidates or ident in seen:
            continue
        if len(candidates) > 1:
            raise NoteError("验证密钥不唯一", f"ambiguous key {sig.key_id}")
        seen.add(ident)
        if not candidates[0].verify(message, sig.signature):
            raise NoteError("签名无效", f"invalid signature for key {sig.key_id}")
        verified.append(candidates[0])
    if not verified:
        raise NoteError("便签没有可验证的签名", "note has no verifiable signatures")
    return text, verified


def verify(note: str, verifier_keys: str | Verifier | Iterable[str | Verifier]) -> str:
    """Verify a note and return its text; raises NoteError unless a known key signed it."""
    return open_note(note, verifier_keys)[0]
