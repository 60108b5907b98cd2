"""C2SP tlog-checkpoint: the signed tree head that witnesses and auditors hold the log to.

Parsing is strict (one spelling per checkpoint) so that two checkpoints with equal text are the
same claim, and a signed checkpoint cannot be re-read with a different meaning.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ssj.errors import SsjError
from ssj.ledger import note

HASH_SIZE = 32
MAX_SIZE = 2**64 - 1  # tree sizes are uint64 in every tlog implementation
_SIZE = re.compile(r"0|[1-9][0-9]*")


class CheckpointError(SsjError):
    """A checkpoint is malformed, unsigned by a trusted key, or for another log."""

    code = "checkpoint"


def _bad_line(s: str) -> bool:
    """A line must be non-empty with no control characters (a note could not carry them)."""
    return s == "" or any(c < " " for c in s)


@dataclass(frozen=True)
class Checkpoint:
    """Origin, tree size and RFC 6962 root hash, plus opaque extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or _bad_line(self.origin):
            raise CheckpointError("检查点来源无效", f"invalid checkpoint origin {self.origin!r}")
        size = self.size
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_SIZE:
            raise CheckpointError("检查点树大小无效", f"invalid checkpoint tree size {size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError("检查点根哈希无效", "checkpoint root hash must be 32 bytes")
        if not isinstance(self.extensions, tuple) or any(
            not isinstance(e, str) or _bad_line(e) for e in self.extensions
        ):
            raise CheckpointError(
                "检查点扩展行无效", "checkpoint extension lines must be non-empty single lines"
            )

    def to_text(self) -> str:
        """The note text: origin, size, base64 root, extensions, each line ending in newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode("ascii")]
        return "".join(line + "\n" for line in [*lines, *self.extensions])

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body, refusing anything to_text() would not have written."""
        if not isinstance(text, str) or not text.endswith("\n"):
            raise CheckpointError("检查点格式错误", "malformed checkpoint: must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("检查点格式错误", "malformed checkpoint: fewer than 3 lines")
        origin, size_s, root_s, *extensions = lines
        if not _SIZE.fullmatch(size_s) or int(size_s) > MAX_SIZE:
            raise CheckpointError("检查点树大小无效", f"invalid checkpoint tree size {size_s!r}")
        root_hash = _decode_root(root_s)
        return cls(origin, int(size_s), root_hash, tuple(extensions))


def _decode_root(s: str) -> bytes:
    """Canonical standard base64 of exactly 32 bytes."""
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != HASH_SIZE or base64.b64encode(raw).decode("ascii") != s:
        raise CheckpointError("检查点根哈希无效", f"invalid checkpoint root hash {s!r}")
    return raw


def sign_checkpoint(
    cp: Checkpoint, signer_key: str | note.Signer | Iterable[str | note.Signer]
) -> str:
    """Sign the checkpoint body as a note (one or several signer keys)."""
    return note.sign(cp.to_text(), signer_key)


def open_checkpoint(
    signed: str,
    verifier_keys: str | note.Verifier | Iterable[str | note.Verifier],
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint, then parse it; optionally insist on the expected origin."""
    try:
        text = note.verify(signed, verifier_keys)
    except note.NoteError as e:
        raise CheckpointError(f"检查点签名验证失败：{e.zh}", f"checkpoint: {e.en}") from e
    cp = Checkpoint.from_text(text)
    if origin is not None and cp.origin != origin:
        raise CheckpointError(
            "检查点来源不符", f"checkpoint origin {cp.origin!r} is not {origin!r}"
        )
    return cp
