"""A witness, run as another organisation would run it: `ssj witness serve`.

Its own key file and its own SQLite file in its own directory; nothing is shared with the log.
It implements C2SP tlog-witness `add-checkpoint`: the log's signature against the keys the
witness trusts for that origin (404 unknown origin, 403 no trusted signature), the old size
(400 larger than the checkpoint; 409 not the size it last cosigned, answering that size as
`text/x.tlog.size`; 409 same size with another root), the RFC 9162 consistency proof in the log's
suite (422), then it stores the new checkpoint and answers its cosignature (tlog-cosignature/v1),
checking and storing in one SQLite write transaction so two requests cannot roll it back. Every
request whose log signature verified is kept in `requests`, accepted or not: a refused one may be
evidence of a fork.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response

from ssj.errors import ConfigurationError, ValidationError
from ssj.ledger import note
from ssj.ledger import suite as suites
from ssj.ledger.checkpoint import Checkpoint, CheckpointError
from ssj.witness import cosignature

MAX_PROOF = 63
SIZE_TYPE = "text/x.tlog.size"
KEY_FILE = "witness.key"
DB_FILE = "witness.sqlite"
_OLD = re.compile(r"old (0|[1-9][0-9]*)")
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS logs (origin TEXT PRIMARY KEY, keys TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS checkpoints (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, "
    "root BLOB NOT NULL, note TEXT NOT NULL, cosignature TEXT NOT NULL, at INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS requests (id INTEGER PRIMARY KEY, origin TEXT NOT NULL, "
    "old INTEGER NOT NULL, size INTEGER NOT NULL, status INTEGER NOT NULL, detail TEXT NOT NULL, "
    "body TEXT NOT NULL, at INTEGER NOT NULL)",
)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer of the protocol: status, content type, body."""

    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


class Witness:
    """The witness's key and state in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.db_path = directory / DB_FILE
        self.cosigner = _load_key(directory / KEY_FILE)
        self._lock = threading.Lock()
        with self._session() as conn:
            for statement in SCHEMA:
                conn.execute(statement)

    @staticmethod
    def create(directory: Path, name: str, suite: suites.Suite) -> Witness:
        """A new witness: key file (0600) and database, in a directory of its own (0700)."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / KEY_FILE
        cosigner = cosignature.generate(name, suite)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ValidationError(
                f"见证方密钥已存在：{path}", f"the witness already has a key: {path}"
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(cosigner.to_key() + "\n")
        return Witness(directory)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.db_path, isolation_level=None, timeout=30)

    @contextmanager
    def _session(self) -> Iterator[sqlite3.Connection]:
        """An autocommit connection, closed at the end of the block (sqlite3's own `with`
        only commits: the file would stay open until garbage collection)."""
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()

    @property
    def verifier_key(self) -> str:
        return self.cosigner.public().to_key()

    def trust(self, origin: str, keys: list[str]) -> None:
        """Trust these log verifier keys for an origin (replacing the ones before)."""
        parsed = [note.parse_verifier_key(k) for k in keys]
        if not parsed or not origin or any(c < " " for c in origin):
            raise ValidationError(
                "需要日志来源与至少一个公钥", "an origin and a log key are needed"
            )
        suites_used = {p.suite.name for p in parsed}
        if len(suites_used) > 1:
            raise ValidationError(
                "同一日志的公钥必须属于同一密码套件", "one log's keys must share one suite"
            )
        with self._session() as conn:
            conn.execute(
                "INSERT INTO logs (origin, keys) VALUES (?, ?) "
                "ON CONFLICT (origin) DO UPDATE SET keys = excluded.keys",
                (origin, orjson.dumps([p.to_key() for p in parsed]).decode()),
            )

    def logs(self) -> list[dict[str, Any]]:
        with self._session() as conn:
            rows = conn.execute(
                "SELECT l.origin, l.keys, c.size, c.at FROM logs l "
                "LEFT JOIN checkpoints c ON c.origin = l.origin ORDER BY l.origin"
            ).fetchall()
        return [
            {"origin": o, "keys": orjson.loads(k), "size": s, "cosigned_at": at}
            for o, k, s, at in rows
        ]

    def latest(self, origin: str) -> str | None:
        """The last checkpoint it cosigned for an origin, with its cosignature."""
        with self._session() as conn:
            row = conn.execute(
                "SELECT note, cosignature FROM checkpoints WHERE origin = ?", (origin,)
            ).fetchone()
        return None if row is None else cosignature.with_lines(row[0], [row[1]])

    def requests(self, origin: str) -> list[dict[str, Any]]:
        with self._session() as conn:
            rows = conn.execute(
                "SELECT old, size, status, detail, at FROM requests WHERE origin = ? ORDER BY id",
                (origin,),
            ).fetchall()
        return [
            {"old": o, "size": s, "status": st, "detail": d, "at": at} for o, s, st, d, at in rows
        ]

    # add-checkpoint -------------------------------------------------------------------------

    def add_checkpoint(self, body: bytes) -> Answer:
        try:
            text = body.decode("utf-8")
            old, proof, signed = _parse_request(text)
            note_text, _ = note.parse_note(signed)
            cp = Checkpoint.from_text(note_text)
        except (UnicodeDecodeError, ValueError, note.NoteError, CheckpointError) as e:
            return Answer(400, f"malformed request: {e}\n")
        with self._session() as conn:
            row = conn.execute("SELECT keys FROM logs WHERE origin = ?", (cp.origin,)).fetchone()
        if row is None:
            return Answer(404, f"unknown log origin {cp.origin!r}\n")
        keys = [note.parse_verifier_key(k) for k in orjson.loads(row[0])]
        try:
            _, verified = note.open_note(signed, keys)
        except note.NoteError as e:
            return Answer(403, f"no trusted log signature: {e.en}\n")
        tree = verified[0].suite.tree
        if old > cp.size:
            return self._refuse(cp, old, signed, Answer(400, f"old size {old} > size {cp.size}\n"))
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                latest = conn.execute(
                    "SELECT size, root FROM checkpoints WHERE origin = ?", (cp.origin,)
                ).fetchone()
                size, root = (0, tree.empty_root) if latest is None else (latest[0], latest[1])
                answer: Answer | None = None
                if old != size:
                    answer = Answer(409, f"{size}\n", SIZE_TYPE)
                elif old == cp.size and bytes(root) != cp.root_hash:
                    answer = Answer(409, f"same size {old}, different root: a fork\n")
                elif old == 0 and proof:
                    answer = Answer(422, "a proof from size 0 must be empty\n")
                elif old and not tree.verify_consistency(
                    old, cp.size, bytes(root), cp.root_hash, proof
                ):
                    answer = Answer(422, f"consistency proof {old} -> {cp.size} does not verify\n")
                if answer is not None:
                    self._record(conn, cp, old, signed, answer)
                    conn.execute("COMMIT")
                    return answer
                line = self.cosigner.cosign(note_text)
                conn.execute(
                    "INSERT INTO checkpoints (origin, size, root, note, cosignature, at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET "
                    "size = excluded.size, root = excluded.root, note = excluded.note, "
                    "cosignature = excluded.cosignature, at = excluded.at",
                    (cp.origin, cp.size, cp.root_hash, signed, line, int(time.time())),
                )
                answer = Answer(200, line)
                self._record(conn, cp, old, signed, answer)
                conn.execute("COMMIT")
                return answer
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                conn.close()

    def _refuse(self, cp: Checkpoint, old: int, signed: str, answer: Answer) -> Answer:
        with self._session() as conn:
            self._record(conn, cp, old, signed, answer)
        return answer

    @staticmethod
    def _record(
        conn: sqlite3.Connection, cp: Checkpoint, old: int, signed: str, answer: Answer
    ) -> None:
        conn.execute(
            "INSERT INTO requests (origin, old, size, status, detail, body, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (cp.origin, old, cp.size, answer.status, answer.body.strip(), signed, int(time.time())),
        )


def _parse_request(text: str) -> tuple[int, list[bytes], str]:
    """The old size, the proof hashes and the signed checkpoint of an add-checkpoint body."""
    head, sep, signed = text.partition("\n\n")
    if not sep:
        raise ValueError("no empty line before the checkpoint")
    lines = head.split("\n")
    match = _OLD.fullmatch(lines[0])
    if match is None:
        raise ValueError("the first line must be 'old <size>'")
    if len(lines) - 1 > MAX_PROOF:
        raise ValueError(f"more than {MAX_PROOF} proof lines")
    proof = []
    for line in lines[1:]:
        try:
            h = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a proof line is not base64") from None
        if len(h) != 32 or base64.b64encode(h).decode() != line:
            raise ValueError("a proof line is not one 32-byte hash")
        proof.append(h)
    return int(match.group(1)), proof, signed


def request_body(old: int, proof: list[bytes], signed: str) -> bytes:
    """An add-checkpoint request body (what the log sends)."""
    lines = [f"old {old}"] + [base64.b64encode(h).decode() for h in proof]
    return ("\n".join(lines) + "\n\n" + signed).encode()


def _load_key(path: Path) -> cosignature.Cosigner:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigurationError(
            f"无法读取见证方密钥 {path}（先运行 `ssj witness init`）：{e}",
            f"cannot read the witness key {path} (run `ssj witness init` first): {e}",
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"见证方密钥文件 {path} 权限过宽（应为 0600）",
            f"witness key file {path} is accessible by others (must be 0600)",
        )
    try:
        return cosignature.parse_private(text)
    except note.NoteError as e:
        raise ConfigurationError(
            f"见证方密钥文件格式错误：{e.zh}", f"malformed witness key file: {e.en}"
        ) from None


def create_app(witness: Witness) -> FastAPI:
    """The witness's HTTP interface (FastAPI): add-checkpoint, plus read-only monitoring."""
    app = FastAPI(
        title="ssj witness (C2SP tlog-witness)",
        description="见证方：对一致的检查点联署 / cosigns checkpoints consistent with its history",
    )

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = await request.body()
        answer = witness.add_checkpoint(body)
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    @app.get("/")
    def about() -> dict[str, Any]:
        return {"name": witness.cosigner.name, "key": witness.verifier_key, "logs": witness.logs()}

    @app.get("/checkpoint")
    def latest(origin: str) -> Response:
        found = witness.latest(origin)
        if found is None:
            return Response("no checkpoint cosigned for this origin\n", status_code=404)
        return Response(found, media_type="text/plain; charset=utf-8")

    return app
