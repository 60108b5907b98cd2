"""The server's secret contribution to each draw seed, kept outside the ledger until reveal.

The ledger is readable by auditors and operators, so a nonce recorded there at commit would let
anyone compute the seed early. It lives in a 0600 file beside the signing keys; its SHA-256 is
committed in the ledger, and the nonce itself is recorded with the reveal.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ssj.errors import NotFoundError, SigningKeyError


class NonceStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, draw_id: str) -> Path:
        return self.directory / f"{draw_id}.nonce"

    @staticmethod
    def new() -> str:
        return secrets.token_hex(32)

    def keep(self, draw_id: str, nonce: str) -> None:
        """Write the nonce before the commit is saved: a saved commit without its nonce could
        never be revealed."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self._path(draw_id), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(nonce + "\n")
        except OSError as e:
            raise SigningKeyError(
                f"无法写入抽取随机数文件：{e}", f"cannot write the draw nonce file: {e}"
            ) from None

    def get(self, draw_id: str) -> str:
        try:
            return self._path(draw_id).read_text(encoding="ascii").strip()
        except FileNotFoundError:
            raise NotFoundError(
                f"找不到本次抽取的服务器随机数（{self._path(draw_id)}）：无法揭示，只能作废并说明理由",
                f"the server nonce of this draw is missing ({self._path(draw_id)}): "
                "it cannot be revealed, only abandoned with a reason",
            ) from None
