"""Delivery (归集) to the credit platforms: registering platforms, building the records and their
signed events, the worker that posts them, the pull feed, file exports, and the deadlines
measured to delivery.

- `SubscriberService`: administrators register, update, pause, resume, remove platforms and
  retry dead letters (each an event; an HMAC secret is written to a 0600 file under
  `SSJ_DATA_DIR/delivery/`, the ledger keeps only its SHA-256). Everyone who reads all
  departments (administrators, supervisors, reviewers) may list them.
- `RecordBuilder`: what a record says, from the read models as of its seq
  (`ssj.domain.records`; results through the public page's own rule), and its CloudEvent:
  signed with the log's active key (through the ledger's key ring and key store, whatever the
  key's suite), with a tlog-proof against a checkpoint that covers it (issued if none does).
- `DeliveryWorker`: one pass takes each active platform's queue head in seq order and posts it
  (`ssj.services.platform_client`, one kept connection per platform; structured mode, or batched
  mode when the platform takes several per request), stopping a platform's queue at its first
  failure so order is kept; each outcome (delivered with the receiver's reference, failed with the
  next try's time after exponential backoff with jitter, or dead-lettered after the platform's
  number of tries) goes into the ledger as a `DeliveryReport`. A dead letter blocks its platform's
  later records until it is retried (`SubscriberService.retry`): order is never given up. A
  platform's turn (up to `turn_seconds`) goes on chunk after chunk of its queue: while the last
  request of a chunk is on the wire, the worker records the outcomes so far and reads and prepares
  the next chunk.
- `late_deliveries`: the 20- and 7-working-day deadlines measured to the acknowledgement, for
  `ssj overdue` and the assessment.
"""

from __future__ import annotations

import hashlib
import http.client
import itertools
import os
import random
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from projections import delivery as outbox
from projections.followups import TABLES as FOLLOWUP_TABLES
from projections.registry import RegistryQueries
from ssj.domain import cloudevents, fields
from ssj.domain.access import ALLOWED, Command, Principal
from ssj.domain.deadlines import STATE_LABELS_ZH, DeadlineState, deadline
from ssj.domain.followup import PENALTY_PUBLISH_WITHIN_DAYS
from ssj.domain.records import (
    EVENT_TYPES,
    Action,
    decimal_columns,
    export_header,
    export_row,
    penalty_record,
    public_id,
    result_published,
    result_withdrawn,
    with_full_identity,
)
from ssj.domain.subscribers import (
    RECORD_KIND_LABELS_ZH,
    AuthMethod,
    DeliveryReport,
    Outcome,
    RecordKind,
    Subscriber,
    SubscriberStatus,
    backoff,
    parse_auth,
    parse_kinds,
    parse_name,
    subscriber_id,
)
from ssj.errors import ConfigurationError, NotFoundError, ValidationError
from ssj.ledger.chain import STORED_LEVEL
from ssj.ledger.envelope import Actor, utc_now_text
from ssj.ledger.keys import LedgerSigner
from ssj.presentation import sheets
from ssj.services.base import Service
from ssj.services.context import Services
from ssj.services.draws import CHINA
from ssj.services.platform_client import PlatformClient
from ssj.services.public_results import public_result

WORKER = Actor(user="ssj-deliver", department="", role="system")
PUBLIC_URL_ENV = "SSJ_PUBLIC_URL"  # the public page's base URL, for records' links
MIN_SECRET_BYTES = 16
MAX_ERROR = 300  # characters of a receiver's error kept in the ledger
FEED_LIMIT = 1000
CACHE_RECORDS = 20_000  # records prepared and kept between turns, at most
LOOKAHEAD = 100  # records prepared at once ahead of the one being sent


def secrets_dir(services: Services) -> Path:
    return services.settings.data_dir / "delivery"


def secret_path(services: Services, name: str) -> Path:
    return secrets_dir(services) / f"{subscriber_id(name)}.secret"


def write_secret(path: Path, secret: bytes) -> None:
    """0600 in a 0700 directory, like the log's private keys."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secret)


def beijing_day(utc_text: str) -> date:
    return datetime.fromisoformat(utc_text.replace("Z", "+00:00")).astimezone(CHINA).date()


# Platforms ---------------------------------------------------------------------------------------


class SubscriberService(Service):
    """Register and manage the receiving platforms; every change is a ledger event."""

    def _authorise(self, principal: Principal) -> Actor:
        return self.s.authorise(principal, Command.MANAGE_SUBSCRIBERS)

    def _load(self, name: str) -> Subscriber:
        return self._get(Subscriber, subscriber_id(name), f"接收平台 {name}")

    def _departments(self, departments: Iterable[str]) -> list[str]:
        chosen = fields.text_list("departments", list(departments))
        for code in chosen:
            self.s.require_department(code)
        return chosen

    def _auth(
        self,
        name: str,
        method: str | None,
        *,
        secret: bytes | None,
        cert: str | None,
        key: str | None,
        ca: str | None,
    ) -> tuple[dict[str, str], bytes | None]:
        """The authentication the ledger records, and a new HMAC secret to write (if any)."""
        chosen = fields.choice("auth", method or "none", AuthMethod)
        if chosen is AuthMethod.HMAC:
            secret = secret if secret is not None else secrets.token_urlsafe(32).encode()
            secret = secret.strip()
            if len(secret) < MIN_SECRET_BYTES:
                raise fields.FieldError(
                    "secret",
                    f"HMAC 共享密钥至少 {MIN_SECRET_BYTES} 字节",
                    f"an HMAC secret has at least {MIN_SECRET_BYTES} bytes",
                )
            digest = hashlib.sha256(secret).hexdigest()
            return parse_auth(chosen, {"secret_sha256": digest}), secret
        if chosen is AuthMethod.MTLS:
            paths = {"cert": cert, "key": key, "ca": ca}
            for field_name, value in paths.items():
                if value and not Path(value).is_file():
                    raise fields.FieldError(
                        field_name, f"文件不存在：{value}", f"no such file: {value}"
                    )
            return parse_auth(chosen, {k: v or "" for k, v in paths.items()}), None
        if secret is not None or cert or key:
            raise fields.FieldError(
                "auth",
                "给出了密钥或证书，却未指明认证方式（hmac 或 mtls）",
                "a secret or certificate was given without --auth hmac or mtls",
            )
        return parse_auth(chosen, {}), None

    def add(
        self,
        principal: Principal,
        name: str,
        endpoint: str,
        kinds: Iterable[str] | str,
        *,
        departments: Iterable[str] = (),
        auth: str | None = None,
        secret: bytes | None = None,
        cert: str | None = None,
        key: str | None = None,
        ca: str | None = None,
        max_tries: int | str | None = None,
        batch: int | str | None = None,
        from_seq: int | None = None,
        full_ids: bool = False,
        legal_basis: str = "",
    ) -> tuple[Subscriber, bytes | None]:
        """Register a platform; returns it and the HMAC secret when one was generated (shown
        once, never again)."""
        actor = self._authorise(principal)
        name = parse_name(name)
        parse_kinds(kinds)  # bad kinds fail before anything else is checked
        if self._exists(subscriber_id(name)):
            raise ValidationError(
                f"接收平台 {name} 已登记（可修改、暂停或移除）",
                f"subscriber {name} is already registered (update, pause or remove it)",
            )
        size = self.s.ledger.size()
        start = size if from_seq is None else fields.whole("from_seq", from_seq, 0, size)
        recorded, new_secret = self._auth(name, auth, secret=secret, cert=cert, key=key, ca=ca)
        subscriber = Subscriber.register(
            name=name,
            endpoint=endpoint,
            kinds=kinds,
            departments=self._departments(departments),
            auth=recorded,
            from_seq=start,
            settings={
                "max_tries": max_tries,
                "batch": batch,
                "full_ids": full_ids,
                "legal_basis": legal_basis,
            },
        )
        if new_secret is not None:
            write_secret(secret_path(self.s, name), new_secret)
        self._save(actor, subscriber)
        generated = new_secret if auth == AuthMethod.HMAC.value and secret is None else None
        return subscriber, generated

    def update(
        self,
        principal: Principal,
        name: str,
        *,
        reason: str,
        endpoint: str | None = None,
        auth: str | None = None,
        secret: bytes | None = None,
        cert: str | None = None,
        key: str | None = None,
        ca: str | None = None,
        settings: Mapping[str, object] | None = None,
    ) -> tuple[Subscriber, bytes | None]:
        actor = self._authorise(principal)
        subscriber = self._load(parse_name(name))
        recorded, new_secret = None, None
        if auth is not None:
            recorded, new_secret = self._auth(
                subscriber.name, auth, secret=secret, cert=cert, key=key, ca=ca
            )
        changed = subscriber.update(
            endpoint=endpoint, auth=recorded, settings=settings or {}, reason=reason
        )
        if not changed:
            raise ValidationError("没有需要修改的内容", "nothing to change")
        if new_secret is not None:
            write_secret(secret_path(self.s, subscriber.name), new_secret)
        self._save(actor, subscriber)
        generated = new_secret if auth == AuthMethod.HMAC.value and secret is None else None
        return subscriber, generated

    def pause(self, principal: Principal, name: str, reason: str) -> Subscriber:
        actor = self._authorise(principal)
        subscriber = self._load(parse_name(name))
        subscriber.pause(reason)
        self._save(actor, subscriber)
        return subscriber

    def resume(self, principal: Principal, name: str, reason: str = "") -> Subscriber:
        actor = self._authorise(principal)
        subscriber = self._load(parse_name(name))
        subscriber.resume(reason)
        self._save(actor, subscriber)
        return subscriber

    def remove(self, principal: Principal, name: str, reason: str) -> Subscriber:
        actor = self._authorise(principal)
        subscriber = self._load(parse_name(name))
        subscriber.remove(reason)
        self._save(actor, subscriber)
        return subscriber

    def retry(
        self, principal: Principal, name: str, seqs: Iterable[int] = (), reason: str = ""
    ) -> list[int]:
        """Put dead letters back in the platform's queue (the given seqs, or all)."""
        actor = self._authorise(principal)
        subscriber = self._load(parse_name(name))
        self.s.refresh()
        _, dead = outbox.outbox_rows(
            self.s.store, subscriber=subscriber.name, statuses=[outbox.DEAD]
        )
        retried = subscriber.retry(
            seqs, [r["seq"] for r in dead], reason or "人工重新推送 / manual retry"
        )
        self._save(actor, subscriber)
        return retried

    # Reading -----------------------------------------------------------------------------------

    def authorise_read(self, principal: Principal) -> None:
        self.s.authorise(principal, Command.READ_ALL)

    def listing(self, principal: Principal) -> list[dict[str, Any]]:
        """Every platform with its outbox counts."""
        self.authorise_read(principal)
        self.s.refresh()
        found = outbox.counts(self.s.store)
        return [
            {**row, "counts": found.get(row["name"], {})}
            for row in outbox.subscriber_rows(self.s.store)
        ]

    def show(self, principal: Principal, name: str) -> dict[str, Any]:
        self.authorise_read(principal)
        self.s.refresh()
        row = outbox.subscriber_row(self.s.store, name.strip())
        if row is None:
            raise NotFoundError(f"接收平台 {name} 不存在", f"subscriber {name} not found")
        return {**row, "counts": outbox.counts(self.s.store).get(row["name"], {})}

    def deliveries(
        self,
        principal: Principal,
        *,
        subscriber: str | None = None,
        statuses: Sequence[str] = (),
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[int, list[dict[str, Any]]]:
        """Outbox rows (dead letters: statuses=["dead"])."""
        self.authorise_read(principal)
        self.s.refresh()
        unknown = [s for s in statuses if s not in outbox.STATUS_LABELS_ZH]
        if unknown:
            raise ValidationError(
                f"未知的推送状态：{'、'.join(unknown)}（可选：{'、'.join(outbox.STATUS_LABELS_ZH)}）",
                f"unknown delivery status {', '.join(unknown)} "
                f"(one of {', '.join(outbox.STATUS_LABELS_ZH)})",
            )
        total, rows = outbox.outbox_rows(
            self.s.store, subscriber=subscriber, statuses=statuses, offset=offset, limit=limit
        )
        return total, [{**r, "status_zh": outbox.STATUS_LABELS_ZH[r["status"]]} for r in rows]


# Records and their events ------------------------------------------------------------------------


def _as_of(
    versions: Sequence[tuple[int, int | None, str]] | None, seq: int
) -> dict[str, Any] | None:
    """The version valid at `seq` among (from_seq, to_seq, state JSON) rows."""
    for first, last, state in versions or ():
        if first <= seq and (last is None or last > seq):
            found: dict[str, Any] = orjson.loads(state)
            return found
    return None


def parse_kind(value: str) -> RecordKind:
    return RecordKind(parse_kinds([value])[0])


def public_url() -> str:
    return os.environ.get(PUBLIC_URL_ENV, "").strip().rstrip("/")


class RecordBuilder:
    """What each record says (as of its seq) and its signed CloudEvent."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self.followups = RegistryQueries(services.store, FOLLOWUP_TABLES)
        self._departments: list[tuple[str, str, int, int | None]] = []
        self._departments_seq = -1  # the registry seq they were read at
        self._checkpoint: tuple[int, str] | None = None
        self._signer: LedgerSigner | None = None
        self._proofs: dict[int, list[bytes]] = {}
        self._envelopes: dict[int, bytes] = {}
        # (table, key) -> (the seq the read models held when read, every version then)
        self._versions: dict[tuple[str, str], tuple[int, list[tuple[int, int | None, str]]]] = {}

    def _department_names(self, seq: int) -> dict[str, str]:
        """Department names as of `seq`, from every version of the departments read once (and
        again when a later seq is asked for): one query, not one per record."""
        if seq > self._departments_seq:
            self._departments_seq = self.s.runner.seq("registry")
            self._departments = [
                (state["code"], state["name"], int(first), None if last is None else int(last))
                for state, first, last in (
                    (orjson.loads(r[0]), r[1], r[2])
                    for r in self.s.store.query("SELECT state, from_seq, to_seq FROM departments")
                )
            ]
        return {
            code: name
            for code, name, first, last in self._departments
            if first <= seq and (last is None or last > seq)
        }

    def target(self, identifier: str, seq: int) -> dict[str, Any]:
        found = self._cached("targets", identifier, seq)
        if found is None:
            found = self.s.queries.get("targets", [identifier], at_seq=seq)
        return found or {"identifier": identifier, "name": identifier}

    def data(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The record's content (resident identity numbers masked)."""
        return self._build(row)[0]

    def _build(self, row: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The record's content and its target as of the record's seq."""
        seq, kind, action = int(row["seq"]), RecordKind(row["kind"]), Action(row["action"])
        target = self.target(row["identifier"], seq)
        return self._content(row, seq, kind, action, target), target

    def _content(
        self,
        row: Mapping[str, Any],
        seq: int,
        kind: RecordKind,
        action: Action,
        target: dict[str, Any],
    ) -> dict[str, Any]:
        detail = row["detail"]
        if kind is RecordKind.RESULTS:
            task = self.s.draw_queries.get("tasks", [row["task_id"]], at_seq=seq)
            assert task is not None
            if action is Action.WITHDRAW:
                draw = self.s.draw_queries.get("draws", [task["draw_id"]], at_seq=seq) or {}
                day = beijing_day(row["recorded_at"]).isoformat()
                return result_withdrawn(task, target, draw, detail.get("until_final", False), day)
            shown = public_result(self.s, task, self._department_names(seq), seq)
            items = {}
            for key in task["items"]:
                department, _, code = key.partition("/")
                item = self.s.queries.get("items", [department, code], at_seq=seq)
                if item is not None:
                    items[key] = item["name"]
            link = f"{public_url()}/gongshi/targets/{public_id(target)}"
            return result_published(task, target, shown, items, link)
        followup = self._cached("followups", row["task_id"], seq)
        if followup is None:
            followup = self.followups.get("followups", [row["task_id"]], at_seq=seq)
        assert followup is not None
        case = followup["cases"][int(row["case_index"]) - 1]
        return penalty_record(
            action,
            case,
            target,
            self._department_names(seq),
            corrects=row.get("corrects"),
            reason=detail.get("reason"),
            on=detail.get("on"),
        )

    def _cached(self, table: str, key: str, seq: int) -> dict[str, Any] | None:
        """The version valid at `seq` among those prepared, if they were read when the read
        models held `seq` already (a later version cannot have been missed)."""
        found = self._versions.get((table, key))
        if found is None or found[0] < seq:
            return None
        return _as_of(found[1], seq)

    def begin(self) -> None:
        """A new turn: the signing key is read again (it may have been rotated); what was
        prepared against the current checkpoint stays (a record's proof, envelope and the
        versions valid at its seq never change)."""
        self._signer = None
        if len(self._proofs) > CACHE_RECORDS:
            self._forget()

    def _forget(self) -> None:
        self._proofs, self._envelopes, self._versions = {}, {}, {}

    def prepared(self, rows: Sequence[Mapping[str, Any]]) -> bool:
        return self._signer is not None and all(int(r["seq"]) in self._proofs for r in rows)

    def prepare(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Read at once what the events of `rows` need and is not read yet: the checkpoint
        (the newest that includes them; one is issued if none does), the signing key, their
        envelopes and inclusion proofs, and the versions of their targets and follow-ups — a
        few queries for many records, not several per record."""
        ledger = self.s.ledger
        seqs = sorted({int(r["seq"]) for r in rows})
        if self._checkpoint is None or self._checkpoint[0] <= seqs[-1]:
            found = ledger.checkpoints()
            if found and found[-1][0] > seqs[-1]:
                self._checkpoint = found[-1]
            else:
                signed = ledger.issue_checkpoint(WORKER)
                self._checkpoint = (int(signed.split("\n", 2)[1]), signed)
            self._forget()  # proofs are against the checkpoint's tree
        if self._signer is None:
            self._signer = ledger.keystore.load(ledger.keyring().active_key_id)
        new = [seq for seq in seqs if seq not in self._proofs]
        if not new:
            return
        size = self._checkpoint[0]
        blocks = self._read_envelopes(new, size)  # the proofs' low nodes are hashed from these
        self._proofs.update(ledger.inclusion_proofs(new, size, blocks))
        self._envelopes.update((seq, blocks[seq]) for seq in new)
        added = set(new)
        fresh = [r for r in rows if int(r["seq"]) in added]
        held = min(self.s.runner.seq("registry"), self.s.runner.seq("followups"))
        for table, key, wanted_by in (
            ("targets", "identifier", {r["identifier"]: int(r["seq"]) for r in fresh}),
            (
                "followups",
                "task_id",
                {r["task_id"]: int(r["seq"]) for r in fresh if r["kind"] == "penalties"},
            ),
        ):
            wanted = sorted(
                v
                for v, seq in wanted_by.items()
                if (table, v) not in self._versions or self._versions[(table, v)][0] < seq
            )
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                read: dict[str, list[tuple[int, int | None, str]]] = {v: [] for v in chunk}
                for value, state, first, last in self.s.store.query(
                    f"SELECT {key}, state, from_seq, to_seq FROM {table} WHERE {key} IN "
                    f"({', '.join('?' * len(chunk))})",
                    chunk,
                ):
                    read[value].append((int(first), None if last is None else int(last), state))
                for value, versions in read.items():
                    self._versions[(table, value)] = (held, versions)

    def _read_envelopes(self, seqs: Sequence[int], size: int) -> dict[int, bytes]:
        """Envelope bytes of the aligned blocks of 2^STORED_LEVEL leaves that hold `seqs`
        (below tree size `size`), read in runs of nearby blocks: the records' own envelopes,
        and every leaf the low (not stored) nodes of their proofs are hashed from."""
        found: dict[int, bytes] = {}
        recorder = self.s.ledger.ledger_recorder
        width = 1 << STORED_LEVEL
        i = 0
        while i < len(seqs):
            j = i
            while j + 1 < len(seqs) and seqs[j + 1] - seqs[j] <= width:
                j += 1
            first, last = seqs[i] - seqs[i] % width, min(size, seqs[j] - seqs[j] % width + width)
            for seq, _, data in recorder.select_envelope_texts(first, last - first, last):
                found[seq] = data
            i = j + 1
        return found

    def events(
        self, rows: Sequence[Mapping[str, Any]], *, full_ids: bool = False
    ) -> list[dict[str, Any]]:
        """Signed CloudEvents for records (in the given order); `prepare` them first, or they
        are prepared here."""
        if not rows:
            return []
        if not self.prepared(rows):
            self.prepare(rows)
        assert self._checkpoint is not None and self._signer is not None
        checkpoint = self._checkpoint[1]
        signer = self._signer
        origin = self.s.settings.log_origin
        built = []
        for row in rows:
            seq = int(row["seq"])
            data, target = self._build(row)
            if full_ids and row["kind"] == RecordKind.PENALTIES.value:
                data = with_full_identity(data, row["identifier"])
            proof = cloudevents.tlog_proof(self._envelopes[seq], seq, self._proofs[seq], checkpoint)
            event = cloudevents.unsigned_event(
                origin=origin,
                seq=seq,
                kind=row["kind"],
                event_type=EVENT_TYPES[(RecordKind(row["kind"]), Action(row["action"]))],
                subject=public_id(target),
                time=row["recorded_at"],
                data=data,
                proof=proof,
                key_id=signer.key_id,
            )
            built.append(
                cloudevents.with_signature(event, signer.sign(cloudevents.signing_bytes(event)))
            )
        return built


class FeedService(Service):
    """The records as platforms pull them (`GET /feeds/{kind}`) or take them as files."""

    def _scope(self, principal: Principal) -> str | None:
        if principal.roles & ALLOWED[Command.READ_ALL]:
            self.s.authorise(principal, Command.READ_ALL)
            return None
        self.s.authorise(principal, Command.READ_REGISTRY, [principal.department])
        return principal.department

    def _rows(
        self, principal: Principal, kind: str, after_seq: int, until_seq: int | None, limit: int
    ) -> tuple[RecordKind, list[dict[str, Any]]]:
        chosen = parse_kind(kind)
        scope = self._scope(principal)
        self.s.refresh()
        rows: list[dict[str, Any]] = []
        cursor = after_seq
        while len(rows) < limit:
            chunk = outbox.record_rows(
                self.s.store, kind=chosen.value, after_seq=cursor, until_seq=until_seq, limit=limit
            )
            if not chunk:
                break
            rows += [r for r in chunk if scope is None or scope in r["departments"]]
            cursor = int(chunk[-1]["seq"])
        return chosen, rows[:limit]

    def feed(
        self, principal: Principal, kind: str, after_seq: int = -1, limit: int = 100
    ) -> dict[str, Any]:
        """One page of a kind's records after a seq, as signed events (identity numbers
        masked), and the seq to ask after next."""
        fields.whole("limit", limit, 1, FEED_LIMIT)
        chosen, rows = self._rows(principal, kind, after_seq, None, limit)
        events = RecordBuilder(self.s).events(rows)
        return {
            "kind": chosen.value,
            "after_seq": after_seq,
            "next_after_seq": int(rows[-1]["seq"]) if rows else after_seq,
            "items": events,
        }

    def export(
        self, principal: Principal, kind: str, start: str, end: str, fmt: str
    ) -> tuple[bytes, int]:
        """The kind's records that became records on days `start`..`end` (Beijing time), as
        XLSX or CSV with the standard's Chinese headers; returns the file and its row count."""
        first = date.fromisoformat(fields.iso_date("from", start) or "")
        last = date.fromisoformat(fields.iso_date("to", end) or "")
        if first > last:
            raise ValidationError(
                f"起始日期 {first} 晚于截止日期 {last}", f"from {first} is after to {last}"
            )
        if fmt not in ("xlsx", "csv"):
            raise ValidationError(
                f"导出格式应为 xlsx 或 csv，实际为“{fmt}”", f"format is xlsx or csv, got {fmt!r}"
            )
        chosen, rows = self._rows(principal, kind, -1, None, 10**9)
        builder = RecordBuilder(self.s)
        amounts = decimal_columns(chosen)
        table = [export_header(chosen)]
        for row in rows:
            if first <= beijing_day(row["recorded_at"]) <= last:
                values = export_row(chosen, int(row["seq"]), builder.data(row))
                for i in amounts:  # the standard's amounts are numbers (decimal, 6 places)
                    values[i] = Decimal(values[i]) if values[i] else None
                table.append(values)
        return sheets.render(table, fmt, chosen.value), len(table) - 1


# The worker --------------------------------------------------------------------------------------


@dataclass
class PassSummary:
    """What a pass (or a run) did."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0
    requests: int = 0
    next_due: float | None = None  # epoch seconds of the earliest failed record's next try

    def add(self, other: PassSummary) -> None:
        self.delivered += other.delivered
        self.failed += other.failed
        self.dead += other.dead
        self.requests += other.requests
        self.next_due = other.next_due

    @property
    def attempted(self) -> int:
        return self.delivered + self.failed + self.dead


@dataclass
class _Turn:
    """One platform's turn in a pass: its records from the queue head, and what happened."""

    subscriber: dict[str, Any]
    rows: list[dict[str, Any]]
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    saved: int = 0  # outcomes already in the ledger (a long turn records them as it goes)
    tries: dict[int, int] = field(default_factory=dict)  # seq -> tries so far
    next_due: float | None = None  # a failed record's next try, when later than now


class DeliveryWorker:
    """Posts pending records to the platforms; `run` for a daemon, `run(once=True)` for cron."""

    def __init__(
        self,
        services: Services,
        *,
        timeout: float = 10.0,
        backoff_base: float = 2.0,
        backoff_cap: float = 3600.0,
        chunk: int = 500,
        turn_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
        draw: Callable[[], float] = random.random,
        only: Collection[str] | None = None,
    ) -> None:
        if timeout <= 0 or backoff_base < 0 or backoff_cap < 0 or chunk < 1:
            raise ValidationError(
                "超时须大于 0，退避时间不能为负，每批至少 1 条",
                "the timeout must be positive, backoff not negative, a chunk at least 1",
            )
        self.s = services
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.chunk = chunk
        self.turn_seconds = turn_seconds  # a platform's share of a pass, so none starves others
        self.clock = clock
        self.draw = draw
        self.only = None if only is None else frozenset(only)  # these platforms only (a bench)
        self.builder = RecordBuilder(services)
        self._clients: dict[str, tuple[tuple[Any, ...], PlatformClient]] = {}

    def close(self) -> None:
        for _, client in self._clients.values():
            client.close()
        self._clients.clear()

    # Choosing what to send ---------------------------------------------------------------------

    def _due(
        self, subscriber: dict[str, Any], now: float
    ) -> tuple[list[dict[str, Any]], float | None]:
        """The platform's records to send now (a run from its queue head), or the time its
        head is next due."""
        head = outbox.queue_head(self.s.store, subscriber["name"], self.chunk)
        if not head or head[0]["status"] == outbox.DEAD:
            return [], None  # nothing, or blocked behind a dead letter until it is retried
        first = head[0]
        if first["next_at"]:
            due = _epoch(first["next_at"])
            if due > now:
                return [], due
        rows = []
        for row in head:
            if row["status"] != outbox.PENDING:
                break
            rows.append(row)
        return rows, None

    # Posting -----------------------------------------------------------------------------------

    def _client(self, subscriber: Mapping[str, Any]) -> PlatformClient:
        auth = subscriber["auth"]
        options = (
            subscriber["endpoint"],
            *(auth.get(name) for name in ("method", "cert", "key", "ca")),
            self.timeout,
        )
        found = self._clients.get(subscriber["name"])
        if found is not None and found[0] == options:
            return found[1]
        if found is not None:
            found[1].close()
        # Mutual TLS: our certificate, and the platform's checked against its CA if given
        # (else the system's).
        context = ssl.create_default_context(cafile=auth.get("ca") or None)
        if auth.get("method") == AuthMethod.MTLS.value:
            context.load_cert_chain(auth["cert"], auth["key"])
        client = PlatformClient(subscriber["endpoint"], self.timeout, context)
        self._clients[subscriber["name"]] = (options, client)
        return client

    def _secret(self, subscriber: Mapping[str, Any]) -> bytes | None:
        auth = subscriber["auth"]
        if auth.get("method") != AuthMethod.HMAC.value:
            return None
        path = secret_path(self.s, subscriber["name"])
        try:
            secret = path.read_bytes().strip()
        except OSError as e:
            raise ConfigurationError(
                f"读取 HMAC 密钥文件失败：{path}（{e.strerror}）",
                f"cannot read the HMAC secret file {path} ({e.strerror})",
            ) from None
        if hashlib.sha256(secret).hexdigest() != auth["secret_sha256"]:
            raise ConfigurationError(
                f"HMAC 密钥文件 {path} 与账本登记的不符", f"{path} is not the registered secret"
            )
        return secret

    def _request(
        self, turn: _Turn, rows: Sequence[Mapping[str, Any]], secret: bytes | None
    ) -> tuple[bytes, dict[str, str], list[dict[str, Any]]]:
        """One request's body and headers: the records' signed events, in structured mode (one)
        or batched mode (several)."""
        batched = int(turn.subscriber["batch"]) > 1
        events = self.builder.events(rows, full_ids=bool(turn.subscriber["full_ids"]))
        content = cloudevents.body(events, batched=batched)
        headers = {
            "Content-Type": cloudevents.BATCH_CONTENT_TYPE if batched else cloudevents.CONTENT_TYPE
        }
        if not batched:
            headers["Idempotency-Key"] = events[0]["id"]
        if secret is not None:
            headers[cloudevents.HMAC_HEADER] = cloudevents.hmac_signature(secret, content)
        return content, headers, events

    def _start(
        self, client: PlatformClient, request: tuple[bytes, dict[str, str], Any]
    ) -> str | None:
        """Put the request on the wire (the next is built while the platform answers): None,
        or why it could not be sent."""
        try:
            client.send(request[0], request[1])
        except (OSError, http.client.HTTPException) as e:
            return self._unreached(e)
        return None

    def _finish(
        self, client: PlatformClient, unsent: str | None
    ) -> tuple[int | None, str, float | None, Any]:
        """The answer to the request `_start` sent: (status, error, Retry-After, parsed JSON or
        None)."""
        if unsent is not None:
            return None, unsent, None, None
        try:
            answer = client.answer()
        except (OSError, http.client.HTTPException) as e:
            return None, self._unreached(e), None, None
        status = answer.status
        if 200 <= status < 300:
            try:
                return status, "", None, orjson.loads(answer.body)
            except ValueError:
                return status, "", None, None
        text = answer.body.decode("utf-8", "replace")[:200]
        return status, f"HTTP {status}: {text}", _retry_after(answer.retry_after), None

    def _unreached(self, e: Exception) -> str:
        """What a try that got no answer records as its error."""
        if isinstance(e, TimeoutError):
            return f"超时（{self.timeout:g} 秒）/ timed out after {self.timeout:g} s"
        return f"{type(e).__name__}: {e}"

    def _take_turn(self, turn: _Turn) -> None:
        """Send the platform's records in order, a request at a time; while one request is
        on the wire the next is built. A failure whose next try is already due (no backoff) is
        tried again at once; otherwise the turn ends there and later records wait: order is
        kept."""
        subscriber = turn.subscriber
        size = int(subscriber["batch"])
        turn.tries = {int(r["seq"]): int(r["tries"]) for r in turn.rows}
        try:
            client = self._client(subscriber)
            secret = self._secret(subscriber)
        except Exception as e:  # a local configuration problem counts as a failed try
            self._failed(turn, turn.rows[:size], None, str(e), None)
            return
        self.builder.begin()
        groups = [turn.rows[i : i + size] for i in range(0, len(turn.rows), size)]
        ahead = max(size, LOOKAHEAD)

        def request(n: int) -> tuple[bytes, dict[str, str], list[dict[str, Any]]]:
            """Group n's request. The first group's records and a few ahead are read at once
            (nothing is on the wire yet); later, while a request is on the wire, the rest of
            the turn in one go (one read of their envelopes, nodes and versions, not one per
            request; what a turn cut short leaves prepared is kept for the next)."""
            if not self.builder.prepared(groups[n]):
                upto = n * size + ahead if n == 0 else len(turn.rows)
                self.builder.prepare(turn.rows[n * size : upto])
            return self._request(turn, groups[n], secret)

        current = request(0)
        ends = self.clock() + self.turn_seconds  # the turn's time starts with its first request
        unsent = self._start(client, current)
        n = 0
        following: tuple[bytes, dict[str, str], list[dict[str, Any]]] | None = None
        exhausted = False
        while True:
            if (
                n + 1 == len(groups)
                and not exhausted
                and len(turn.rows) % size == 0
                and self.clock() < ends
            ):
                # The last group is on the wire: record what happened so far and read the
                # next chunk of the queue meanwhile, so the turn goes on without a pause.
                self._save_outcomes(turn)
                added = self._extend(turn)
                exhausted = not added
                groups += [added[i : i + size] for i in range(0, len(added), size)]
            if n + 1 < len(groups) and self.clock() < ends:
                if following is None:  # built once, also when group n is tried again
                    following = request(n + 1)
            else:
                following = None
            status, error, retry_after, answer = self._finish(client, unsent)
            if status is not None and 200 <= status < 300:
                self._delivered(turn, groups[n], status, _references(answer, current[2]))
                if following is None:
                    return
                n, current, following = n + 1, following, None
            elif not self._failed(turn, groups[n], status, error, retry_after):
                return  # dead-lettered, or its next try is later: the turn ends here
            elif self.clock() >= ends:
                return
            unsent = self._start(client, current)

    def _extend(self, turn: _Turn) -> list[dict[str, Any]]:
        """The next chunk of the platform's queue after the turn's last record, up to a dead
        letter (none: []); added to the turn. What follows the turn's records is untouched by
        its outcomes, so the read model (not yet caught up with them) tells it right."""
        last = int(turn.rows[-1]["seq"])
        head = outbox.queue_head(self.s.store, turn.subscriber["name"], self.chunk, after=last)
        added = self._with_records(
            list(itertools.takewhile(lambda r: r["status"] == outbox.PENDING, head))
        )
        turn.rows += added
        turn.tries.update((int(r["seq"]), int(r["tries"])) for r in added)
        return added

    def _with_records(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Outbox rows joined with their records."""
        if not rows:
            return []
        records = outbox.record_rows(self.s.store, seqs=[int(r["seq"]) for r in rows])
        by_seq = {int(r["seq"]): r for r in records}
        return [{**r, **by_seq[int(r["seq"])]} for r in rows]

    def _save_outcomes(self, turn: _Turn) -> None:
        """The turn's outcomes not yet in the ledger, as one report (acknowledgements are
        recorded as a long turn goes, not only at its end)."""
        new = turn.outcomes[turn.saved :]
        if new:
            report = DeliveryReport(subscriber=turn.subscriber["name"], outcomes=new)
            self.s.ledger.save(report, actor=WORKER)
            turn.saved = len(turn.outcomes)

    def _delivered(
        self,
        turn: _Turn,
        rows: Sequence[Mapping[str, Any]],
        status: int,
        references: Mapping[str, str],
    ) -> None:
        at = utc_now_text()
        origin = self.s.settings.log_origin
        for row in rows:
            seq = int(row["seq"])
            turn.tries[seq] += 1
            turn.outcomes.append(
                _outcome(
                    row,
                    turn.tries[seq],
                    Outcome.DELIVERED,
                    at,
                    status=status,
                    reference=references.get(cloudevents.event_id(origin, seq), ""),
                )
            )

    def _failed(
        self,
        turn: _Turn,
        rows: Sequence[Mapping[str, Any]],
        status: int | None,
        error: str,
        retry_after: float | None,
    ) -> bool:
        """The request's records failed: each gets its try; at the platform's limit it is
        dead-lettered, else its next try is due after backoff (or the receiver's
        Retry-After). True when that next try is due already."""
        at = utc_now_text()
        limit = int(turn.subscriber["max_tries"])
        wait = 0.0
        again = True
        for row in rows:
            seq = int(row["seq"])
            turn.tries[seq] += 1
            n = turn.tries[seq]
            if n >= limit:
                turn.outcomes.append(
                    _outcome(row, n, Outcome.DEAD_LETTER, at, status=status, error=error)
                )
                again = False
                continue
            wait = backoff(n, self.backoff_base, self.backoff_cap, self.draw())
            if retry_after is not None:
                wait = min(max(wait, retry_after), max(self.backoff_cap, wait))
            due = self.clock() + wait
            next_at = datetime.fromtimestamp(due, UTC)
            turn.outcomes.append(
                _outcome(
                    row,
                    n,
                    Outcome.FAILED,
                    at,
                    status=status,
                    error=error,
                    next_at=next_at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
                )
            )
            if wait > 0:
                again = False
                turn.next_due = due if turn.next_due is None else min(turn.next_due, due)
        return again

    # One pass ----------------------------------------------------------------------------------

    def run_pass(self) -> PassSummary:
        """Give every active platform its turn with what is due now; record every outcome in
        the ledger (a report per platform and turn, and one per chunk of a long turn)."""
        self.s.refresh()
        now = self.clock()
        summary = PassSummary()
        reports = []
        for subscriber in outbox.subscriber_rows(self.s.store):
            if subscriber["status"] != SubscriberStatus.ACTIVE.value:
                continue
            if self.only is not None and subscriber["name"] not in self.only:
                continue
            rows, due = self._due(subscriber, now)
            if due is not None:
                summary.next_due = due if summary.next_due is None else min(summary.next_due, due)
            if not rows:
                continue
            turn = _Turn(subscriber, self._with_records(rows))
            self._take_turn(turn)
            if turn.next_due is not None:
                nd = turn.next_due
                summary.next_due = nd if summary.next_due is None else min(summary.next_due, nd)
            if len(turn.outcomes) > turn.saved:
                unsaved = turn.outcomes[turn.saved :]
                reports.append(DeliveryReport(subscriber=subscriber["name"], outcomes=unsaved))
            for o in turn.outcomes:
                if o["outcome"] == Outcome.DELIVERED:
                    summary.delivered += 1
                elif o["outcome"] == Outcome.FAILED:
                    summary.failed += 1
                else:
                    summary.dead += 1
            summary.requests += -(-len(turn.outcomes) // int(subscriber["batch"]))
        if reports:
            self.s.ledger.save(*reports, actor=WORKER)
        return summary

    def undelivered(self) -> int:
        """Records still owed to platforms not removed (of this worker's, if it has only
        some): pending (waiting or failed) or dead."""
        self.s.refresh()
        total = 0
        for name, by_status in outbox.counts(self.s.store).items():
            if self.only is not None and name not in self.only:
                continue
            row = outbox.subscriber_row(self.s.store, name)
            if row is not None and row["status"] != SubscriberStatus.REMOVED.value:
                total += by_status.get(outbox.PENDING, 0) + by_status.get(outbox.DEAD, 0)
        return total

    def run(
        self,
        *,
        once: bool = False,
        stop: threading.Event | None = None,
        poll: float = 1.0,
        on_pass: Callable[[PassSummary], None] | None = None,
    ) -> PassSummary:
        """Passes until stopped; `once`: until nothing is due now (what waits for a later try,
        for a paused platform or behind a dead letter stays undelivered)."""
        stop = stop or threading.Event()
        total = PassSummary()
        try:
            while not stop.is_set():
                done = self.run_pass()
                total.add(done)
                if on_pass is not None:
                    on_pass(done)
                if done.attempted:
                    continue  # more may be due at once
                if once:
                    break
                wait = poll
                if done.next_due is not None:
                    wait = max(0.0, min(poll, done.next_due - self.clock()))
                stop.wait(wait)
        finally:
            self.close()
        return total


def _outcome(
    row: Mapping[str, Any],
    n: int,
    outcome: Outcome,
    at: str,
    *,
    status: int | None = None,
    reference: str = "",
    error: str = "",
    next_at: str | None = None,
) -> dict[str, Any]:
    return {
        "seq": int(row["seq"]),
        "kind": row["kind"],
        "action": row["action"],
        "task_id": row["task_id"],
        "identifier": row["identifier"],
        "try": n,
        "outcome": outcome.value,
        "at": at,
        "status": status,
        "reference": reference[:200],
        "error": error[:MAX_ERROR],
        "next_at": next_at,
    }


def _epoch(utc_text: str) -> float:
    return datetime.fromisoformat(utc_text.replace("Z", "+00:00")).timestamp()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _references(answer: Any, events: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The receiver's reference for each event: `{"reference": …}` for one, or
    `{"references": {id: …}}` for a batch (anything else: none)."""
    if not isinstance(answer, dict):
        return {}
    if isinstance(answer.get("references"), dict):
        return {str(k): str(v) for k, v in answer["references"].items()}
    if answer.get("reference") is not None and len(events) == 1:
        return {events[0]["id"]: str(answer["reference"])}
    return {}


# Deadlines measured to delivery ----------------------------------------------------------------


def delivery_deadlines(
    services: Services,
    deadlines: Any,  # ssj.services.overdue.OverdueService (its calendars and publication days)
    scope: str | None,
    day: date,
    seq: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every published record owed to a platform, with its deadline measured to delivery —
    results within their publication period of the completion, penalties within 7 working
    days of the decision, counted to the day the platform acknowledged (Beijing time) — and
    the dead letters. As the ledger stood at `seq` (an acknowledgement recorded later does not
    count). `drawn_or_decided` says which year a record belongs to (the task's draw, the
    penalty's decision)."""
    services.refresh()
    found: list[dict[str, Any]] = []
    dead: list[dict[str, Any]] = []
    followups = RegistryQueries(services.store, FOLLOWUP_TABLES)
    records = {int(r["seq"]): r for r in outbox.record_rows(services.store, until_seq=seq)}
    _, rows = outbox.outbox_rows(services.store)
    count_calendar = deadlines.calendar(seq)
    for row in rows:
        record = records.get(int(row["seq"]))
        if record is None or row["status"] == outbox.CANCELLED:
            continue
        if scope is not None and scope not in record["departments"]:
            continue
        acknowledged = row["status"] == outbox.DELIVERED and (row["report_seq"] or 0) <= seq
        base = {
            "subscriber": row["subscriber"],
            "seq": int(row["seq"]),
            "kind": record["kind"],
            "kind_zh": RECORD_KIND_LABELS_ZH[RecordKind(record["kind"])],
            "action": record["action"],
            "task_id": record["task_id"],
            "identifier": record["identifier"],
            "department": record["departments"][0],
            "status": outbox.PENDING
            if row["status"] == outbox.DELIVERED and not acknowledged
            else row["status"],
            "tries": row["tries"],
            "last_error": row["last_error"],
        }
        if row["status"] == outbox.DEAD:
            dead.append(base)
        if record["action"] != Action.PUBLISH.value:
            continue
        delivered_on = beijing_day(row["delivered_at"]) if acknowledged else None
        if record["kind"] == RecordKind.RESULTS.value:
            task = services.draw_queries.get("tasks", [record["task_id"]], at_seq=seq)
            if task is None or not task.get("completed_on"):
                continue
            completed_seq = task.get("completed_seq")
            start = date.fromisoformat(task["completed_on"])
            within = deadlines.publish_within(task["draw_id"])
            due_calendar = deadlines.calendar(seq if completed_seq is None else int(completed_seq))
            case_no, year_day = None, task["drawn_on"]
        else:
            followup = followups.get("followups", [record["task_id"]], at_seq=seq)
            if followup is None:
                continue
            case = followup["cases"][int(record["case_index"]) - 1]
            start = date.fromisoformat(case["decided_on"])
            within = PENALTY_PUBLISH_WITHIN_DAYS
            due_calendar = deadlines.calendar(int(case["decided_seq"]))
            case_no, year_day = case["case_no"], case["decided_on"]
        state = deadline(due_calendar, start, within, delivered_on, day, count_calendar)
        found.append(
            {
                **base,
                "case_no": case_no,
                "drawn_or_decided": year_day,
                **state.as_state(),
                "state_zh": STATE_LABELS_ZH[state.state],
            }
        )
    return found, dead


def late_deliveries(
    services: Services, deadlines: Any, scope: str | None, day: date, seq: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`delivery_deadlines` past their deadline (or unknown), and the dead letters."""
    found, dead = delivery_deadlines(services, deadlines, scope, day, seq)
    missed = (DeadlineState.LATE, DeadlineState.OVERDUE, DeadlineState.UNKNOWN)
    return [r for r in found if r["state"] in missed], dead
