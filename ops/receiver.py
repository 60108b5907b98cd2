"""A reference receiver: what a credit platform implements to take ssj's records (归集).

    python -m ops.receiver --db received.sqlite --keys keys.txt --port 8700 [--secret-file F]

It accepts CloudEvents 1.0 over HTTP (structured `application/cloudevents+json`, or batched
`application/cloudevents-batch+json`), checks the HMAC header if given a shared secret, verifies
every event (`ssj.domain.cloudevents.verify_event`: the log key's signature, the tlog-proof's
signed checkpoint and the RFC 9162 inclusion of the record's ledger seq), stores each event id
once (a second delivery of the same id is answered 200 and counted, not stored), and answers
`{"reference": …}` (batches: `{"references": {id: …}}`). `--keys` holds the log's verifier keys,
one per line, as `GET /log/keys` publishes them. `GET /stats` counts what it got.

For tests it can be told to fail: `--fail-first N` (answer 500 to the first N requests),
`--fail-rate R` (500 at random, half before storing, half after — a lost acknowledgement),
`--refuse` (403 always), `--delay S` (answer slowly), `--die-after N` (exit abruptly once N
events are stored, before answering).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from ssj.domain.cloudevents import HMAC_HEADER, DeliveryError, hmac_ok, verify_event


class Receiver:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.lock, self.requests = args, threading.Lock(), 0
        self.keys = [k.strip() for k in Path(args.keys).read_text().splitlines() if k.strip()]
        self.secret = Path(args.secret_file).read_bytes().strip() if args.secret_file else None
        self.checkpoints: dict[str, Any] = {}
        self.random = random.Random(args.seed)
        self.db = sqlite3.connect(args.db, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL: a stored event survives the receiver being killed (what
        # the fault tests do), not a power cut (`--sync full`: one fsync per request).
        self.db.execute(f"PRAGMA synchronous={args.sync.upper()}")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS received (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT "
            "NULL, seq INTEGER, type TEXT, event TEXT, at REAL)"
        )
        self.db.execute("CREATE INDEX IF NOT EXISTS received_id ON received (id)")
        self.db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER)")
        self.stored = self.db.execute("SELECT count(*) FROM received").fetchone()[0]

    def count(self, name: str, n: int = 1) -> None:
        self.db.execute(
            "INSERT INTO counters VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = n + ?",
            (name, n, n),
        )

    def handle(
        self, body: bytes, content_type: str, signature: str | None
    ) -> tuple[int, dict[str, Any]]:
        a = self.args
        with self.lock:  # one request at a time: the order of arrival is the order stored
            self.requests += 1
            if a.delay:
                time.sleep(a.delay)
            if a.refuse:
                return 403, {"error": "refused"}
            if self.requests <= a.fail_first:
                return 500, {"error": "failing on purpose"}
            roll = self.random.random()
            if roll < a.fail_rate / 2:
                return 500, {"error": "failing on purpose, before storing"}
            if self.secret is not None and not hmac_ok(self.secret, body, signature):
                return 401, {"error": "bad HMAC"}
            try:
                found = orjson.loads(body)
                events = found if "batch" in content_type else [found]
                for event in events:
                    verify_event(event, self.keys, self.checkpoints)
            except (ValueError, TypeError, DeliveryError) as e:
                self.count("rejected")
                return 400, {"error": str(e)}
            references = {}
            self.db.execute("BEGIN IMMEDIATE")
            for event in events:
                seen = self.db.execute(
                    "SELECT n FROM received WHERE id = ?", (event["id"],)
                ).fetchone()
                if seen:
                    self.count("duplicates")
                    references[event["id"]] = f"R{seen[0]}"
                    continue
                stored = orjson.dumps(event).decode()
                cur = self.db.execute(
                    "INSERT INTO received (id, seq, type, event, at) VALUES (?, ?, ?, ?, ?)",
                    (event["id"], event["ssjseq"], event["type"], stored, time.time()),
                )
                references[event["id"]] = f"R{cur.lastrowid}"
                self.stored += 1
            self.db.execute("COMMIT")
            if a.die_after and self.stored >= a.die_after:
                os._exit(3)  # vanish mid-stream: stored, never answered
            if roll < a.fail_rate:
                return 500, {"error": "failing on purpose, after storing"}
        if len(events) == 1 and "batch" not in content_type:
            return 200, {"reference": references[events[0]["id"]]}
        return 200, {"references": references}

    def stats(self) -> dict[str, Any]:
        with self.lock:
            stored, distinct = self.db.execute(
                "SELECT count(*), count(DISTINCT id) FROM received"
            ).fetchone()
            counters = dict(self.db.execute("SELECT name, n FROM counters").fetchall())
        return {"stored": stored, "distinct": distinct, "requests": self.requests, **counters}


def build(args: argparse.Namespace) -> ThreadingHTTPServer:
    """The server, bound and ready (`serve_forever` runs it)."""
    receiver = Receiver(args)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive
        disable_nagle_algorithm = True  # answer at once, not after a delayed ACK

        def reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            content_type = self.headers.get("Content-Type") or ""
            self.reply(*receiver.handle(body, content_type, self.headers.get(HMAC_HEADER)))

        def do_GET(self) -> None:
            self.reply(200, receiver.stats()) if self.path == "/stats" else self.reply(404, {})

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(args.client_ca)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    if args.port_file:  # the port actually bound (with --port 0), for whoever started us
        Path(args.port_file).write_text(str(server.server_address[1]))
    return server


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="SQLite file of what was received")
    parser.add_argument("--keys", required=True, help="the log's verifier keys, one per line")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--port-file", help="write the bound port here")
    parser.add_argument("--secret-file", help="HMAC shared secret (X-SSJ-Signature)")
    parser.add_argument(
        "--sync",
        choices=["normal", "full"],
        default="normal",
        help="SQLite synchronous: normal (survives a crash of this process) or full (a power cut)",
    )
    parser.add_argument("--tls-cert", help="serve https with this certificate")
    parser.add_argument("--tls-key")
    parser.add_argument("--client-ca", help="require client certificates signed by this CA")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--refuse", action="store_true")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--die-after", type=int, default=0)
    parser.add_argument("--seed", type=int, default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    build(parse_args(argv)).serve_forever()


if __name__ == "__main__":
    main()
