"""Private keys on disk, outside the database.

Each key is a Go-compatible note signer key string in `<keys_dir>/<name>+<hash>.key`, mode 0600.
The database only ever holds verifier (public) keys, in the key ring.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ssj.errors import SigningKeyError
from ssj.ledger import note


class LedgerSigner:
    """Signs envelopes and checkpoint notes with one key; keeps the parsed private key warm."""

    def __init__(self, signer: note.Signer, signer_key: str) -> None:
        self.signer = signer
        self.signer_key = signer_key
        self._private = Ed25519PrivateKey.from_private_bytes(signer.seed)

    @property
    def key_id(self) -> str:
        return self.signer.key_id

    @property
    def verifier_key(self) -> str:
        return self.signer.verifier().to_key()

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def sign_note(self, text: str) -> str:
        return note.sign(text, self.signer_key)


def _file_name(key_id: str) -> str:
    return key_id.replace("/", "_") + ".key"


class KeyStore:
    """The directory of private key files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def create(self, name: str) -> LedgerSigner:
        """Generate a key and write it with 0600 permissions; the directory gets 0700."""
        signer_key, _ = note.generate_key(name)
        signer = LedgerSigner(note.parse_signer_key(signer_key), signer_key)
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = self.directory / _file_name(signer.key_id)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(signer_key + "\n")
        except OSError as e:
            raise SigningKeyError(f"无法写入密钥文件：{e}", f"cannot write key file: {e}") from None
        return signer

    def path_for(self, key_id: str) -> Path:
        return self.directory / _file_name(key_id)

    def has(self, key_id: str) -> bool:
        return self.path_for(key_id).is_file()

    def load(self, key_id: str) -> LedgerSigner:
        """Load the private key for key_id; refuse files readable by others."""
        path = self.path_for(key_id)
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise SigningKeyError(
                f"找不到签名私钥 {key_id}（应在 {path}）",
                f"signing key {key_id} not found (expected at {path})",
            ) from None
        except (OSError, UnicodeDecodeError) as e:
            raise SigningKeyError(
                f"无法读取签名私钥 {path}：{e}", f"cannot read signing key {path}: {e}"
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SigningKeyError(
                f"私钥文件 {path} 权限过宽（应为 0600）",
                f"private key file {path} is accessible by others (must be 0600)",
            )
        try:
            signer = note.parse_signer_key(text)
        except note.NoteError as e:
            raise SigningKeyError(
                f"私钥文件 {path} 格式错误：{e.zh}", f"malformed private key file {path}: {e.en}"
            ) from None
        if signer.key_id != key_id:
            raise SigningKeyError(
                f"私钥文件 {path} 内容与密钥编号 {key_id} 不符",
                f"private key file {path} does not hold key {key_id}",
            )
        return LedgerSigner(signer, text)

    def key_ids(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        ids = []
        for path in sorted(self.directory.glob("*.key")):
            try:
                ids.append(note.parse_signer_key(path.read_text(encoding="utf-8").strip()).key_id)
            except (OSError, UnicodeDecodeError, note.NoteError):
                continue
        return ids
