"""Private keys on disk, outside the database.

Each key is a Go-compatible note signer key string in `<keys_dir>/<name>+<hash>.key`, mode 0600.
An SM2 key file (the sm2-sm3 suite) holds the same line, then the key as a PKCS#8 PEM block that
other SM tools read (`openssl pkey -in FILE` skips the first line). The database only ever holds
verifier (public) keys, in the key ring.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ssj.errors import SigningKeyError
from ssj.ledger import note
from ssj.ledger import suite as suites
from ssj.ledger.suite import Suite


class LedgerSigner:
    """Signs envelopes and checkpoint notes with one key; keeps the parsed private key warm."""

    def __init__(self, signer: note.Signer, signer_key: str) -> None:
        self.signer = signer
        self.signer_key = signer_key
        self._private = signer.suite.private_key(signer.seed)
        # Read several times an append (draft, head check): formatted once, not each time.
        self.key_id: str = signer.key_id

    @property
    def suite(self) -> Suite:
        return self.signer.suite

    @property
    def verifier_key(self) -> str:
        return self.signer.verifier().to_key()

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def sign_note(self, text: str) -> str:
        return note.sign(text, self.signer)

    def __getstate__(self) -> dict[str, object]:
        """Picklable (for worker processes): the parsed key is rebuilt on the other side."""
        return {"signer": self.signer, "signer_key": self.signer_key}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["signer"], state["signer_key"])  # type: ignore[misc]


def _first_line(path: Path) -> str:
    """The signer key line (an SM2 key file continues with its PEM block)."""
    return path.read_text(encoding="utf-8").strip().split("\n", 1)[0].strip()


def _file_name(key_id: str) -> str:
    return key_id.replace("/", "_") + ".key"


class KeyStore:
    """The directory of private key files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def create(self, name: str, suite: Suite = suites.ED25519) -> LedgerSigner:
        """Generate a key and write it with 0600 permissions; the directory gets 0700."""
        signer_key, _ = note.generate_key(name, suite)
        signer = LedgerSigner(note.parse_signer_key(signer_key), signer_key)
        text = signer_key + "\n"
        if suite is suites.SM2:
            from ssj.ledger import sm2

            scalar = sm2.scalar_from_der(signer.signer.seed)
            assert scalar is not None
            text += sm2.private_key_pem(scalar)
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = self.directory / _file_name(signer.key_id)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
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
            text = _first_line(path)
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
                ids.append(note.parse_signer_key(_first_line(path)).key_id)
            except (OSError, UnicodeDecodeError, note.NoteError):
                continue
        return ids
