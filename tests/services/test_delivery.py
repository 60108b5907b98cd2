"""Delivery (归集) through the services, on SQLite and PostgreSQL, to the reference receiver over
real HTTP (in a thread here; the fault tests run it as its own process): records built from the
ledger, signed events with inclusion proofs that the receiver verifies, acknowledgements in the
ledger, failures with backoff, dead letters and retries, pausing and removing platforms,
deadlines measured to delivery, the pull feed and exports, and an outbox that a rebuild
reproduces."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from ops.receiver import build, parse_args
from projections import delivery as outbox
from ssj.config import Settings
from ssj.domain.access import Forbidden
from ssj.domain.cloudevents import DeliveryError, verify_event
from ssj.domain.fields import FieldError
from ssj.domain.organisation import Role
from ssj.domain.subscribers import DeliveryReport, Subscriber
from ssj.errors import ConflictError, NotFoundError, ValidationError
from ssj.services.assessment import AssessmentService
from ssj.services.context import Services
from ssj.services.delivery import DeliveryWorker, FeedService, SubscriberService
from ssj.services.followups import FollowUpService
from ssj.services.overdue import OverdueService
from tests.services.conftest import OWN, uscc
from tests.services.test_draws import World, unchanged, world
from tests.services.test_tasks import TODAY, Tasks

__all__ = ["world"]

AUTHORITY_CODE = uscc(900)


class Receiver:
    """The reference receiver, serving on a free port in a thread."""

    def __init__(self, tmp: Path, keys: list[str], *flags: str) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "keys.txt").write_text("\n".join(keys) + "\n")
        self.db = tmp / "received.sqlite"
        args = ["--db", str(self.db), "--keys", str(tmp / "keys.txt"), "--port", "0", *flags]
        self.server = build(parse_args(args))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ingest"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def rows(self) -> list[tuple[str, int, str]]:
        import sqlite3

        with sqlite3.connect(self.db) as db:
            return db.execute("SELECT id, seq, type FROM received ORDER BY n").fetchall()

    def events(self) -> list[dict[str, Any]]:
        import json
        import sqlite3

        with sqlite3.connect(self.db) as db:
            return [json.loads(r[0]) for r in db.execute("SELECT event FROM received ORDER BY n")]


class Deliveries:
    """Tasks with published, withheld and penalised results, a platform and a receiver."""

    def __init__(self, t: Tasks, tmp: Path) -> None:
        self.t = t
        self.s = t.s
        self.tmp = tmp
        self.admin = t.j.root
        self.subscribers = SubscriberService(t.s)
        self.followups = FollowUpService(t.s, clock=lambda: TODAY)
        self.receivers: list[Receiver] = []

    def keys(self) -> list[str]:
        return [k["verifier_key"] for k in self.s.ledger.key_listing()]

    def receiver(self, name: str = "r", *flags: str) -> Receiver:
        found = Receiver(self.tmp / name, self.keys(), *flags)
        self.receivers.append(found)
        return found

    def worker(self, **options: Any) -> DeliveryWorker:
        options.setdefault("backoff_base", 0.0)
        options.setdefault("timeout", 5.0)
        return DeliveryWorker(self.s, **options)

    def published(self, n: int, **publication: Any) -> str:
        ref = self.t.ref_of(n)
        self.t.confirmed(ref)
        publication.setdefault("public_summary", "未发现问题")
        self.t.tasks.publish(self.t.operator, ref, on="2026-03-10", **publication)
        return ref

    def penalised(self, n: int, case_no: str = "常市监罚〔2026〕1号", publish: bool = True) -> str:
        ref = self.t.ref_of(n)
        self.t.inspected(ref, "违法违规 (立案)")
        self.followups.file_case(
            self.t.operator,
            ref,
            case_no=case_no,
            decision="罚款人民币2万元",
            decided_on="2026-03-09",
            violation_type="未按规定定期检验特种设备",
            facts="在用压力容器超过检验有效期仍继续使用",
            basis="《中华人民共和国特种设备安全法》第八十四条",
            penalty_types=["罚款"],
            fine="2",
            authority_code=AUTHORITY_CODE,
            legal_representative="王某",
        )
        if publish:
            self.followups.publish_case(self.t.operator, ref, case_no, "2026-03-12")
        return ref

    def register(self, name: str, url: str, **options: Any) -> Subscriber:
        kinds = options.pop("kinds", ["results", "penalties"])
        options.setdefault("from_seq", 0)
        subscriber, _ = self.subscribers.add(self.admin, name, url, kinds, **options)
        return subscriber

    def statuses(self, name: str) -> dict[int, str]:
        self.s.refresh()
        _, rows = outbox.outbox_rows(self.s.store, subscriber=name)
        return {r["seq"]: r["status"] for r in rows}

    def close(self) -> None:
        for r in self.receivers:
            r.stop()


@pytest.fixture
def d(world: World, tmp_path: Path) -> Iterator[Deliveries]:
    found = Deliveries(Tasks(world), tmp_path / "receivers")
    try:
        yield found
    finally:
        found.close()


def reports(d: Deliveries) -> list[dict[str, Any]]:
    return [
        o
        for e in d.s.ledger.read(0, d.s.ledger.size())
        if isinstance(e.event, DeliveryReport.Recorded)  # type: ignore[attr-defined]
        for o in e.event.outcomes
    ]


def test_records_go_out_signed_proved_in_order_and_acknowledged(d: Deliveries) -> None:
    published = d.published(0, redacted_fields=["公示摘要"])
    d.t.confirmed(d.t.ref_of(1))
    d.t.tasks.withhold(d.t.operator, d.t.ref_of(1), "待检验报告", until_final=True)
    d.penalised(2)
    receiver = d.receiver()
    d.register("信用常州", receiver.url)
    summary = d.worker().run(once=True)
    assert (summary.delivered, summary.failed, summary.dead) == (3, 0, 0)
    rows = receiver.rows()
    assert [r[2] for r in rows] == [
        "cn.ssj.result.published.v1",
        "cn.ssj.result.withdrawn.v1",
        "cn.ssj.penalty.published.v1",
    ]
    seqs = [r[1] for r in rows]
    assert seqs == sorted(seqs)
    events = receiver.events()
    keys = d.keys()
    assert [verify_event(e, keys) for e in events] == seqs
    result = events[0]["data"]["fields"]
    assert result["public_summary"] == "已依法隐去"  # the publication's redaction holds
    assert result["category"] == "未发现问题" and result["inspection_type"] == "双随机抽查"
    assert result["task_id"] == d.t.tasks.resolve(published)
    text = str(events)
    assert "现场检查" not in text and "findings" not in text  # no method, no findings
    assert "待检验报告" not in text  # a withholding reason never leaves
    assert events[1]["data"]["reason"] == "暂缓公示（待结果最终确定）"
    penalty = events[2]["data"]["fields"]
    assert penalty["CF_WSH"] == "常市监罚〔2026〕1号" and penalty["CF_CFLB"] == "罚款"
    assert penalty["CF_NR_FK"] == "2" and penalty["CF_CFJGDM"] == AUTHORITY_CODE
    assert penalty["CF_XDR_LB"] == "法人及非法人组织"
    assert penalty["CF_CFJG"] == "特种设备安全监察科" and penalty["CF_GSJZQ"] == "2027-03-09"
    # Every acknowledgement is in the ledger, with the receiver's reference.
    acks = reports(d)
    assert [(o["seq"], o["outcome"], o["try"]) for o in acks] == [(s, "delivered", 1) for s in seqs]
    assert all(o["reference"].startswith("R") for o in acks)
    assert set(d.statuses("信用常州").values()) == {"delivered"}
    assert d.worker().undelivered() == 0
    # A forged or altered event is refused by the receiver's checks.
    forged = {**events[2], "data": {**events[2]["data"], "reason": "x"}}
    with pytest.raises(DeliveryError, match="signature"):
        verify_event(forged, keys)


def test_bad_platforms_are_refused_and_write_nothing(d: Deliveries) -> None:
    w = d.t.w
    s = d.subscribers
    for endpoint in ("ftp://example.gov.cn/in", "example.gov.cn", "https://user:pw@x.cn/"):
        error = unchanged(w, lambda e=endpoint: s.add(d.admin, "p", e, ["results"]), FieldError)
        assert "http" in error.en or "credentials" in error.en
    error = unchanged(w, lambda: s.add(d.admin, "p", "https://x.cn/", ["licences"]), FieldError)
    assert "licences" in error.en and "results" in error.zh
    unchanged(w, lambda: s.add(d.admin, "p x", "https://x.cn/", ["results"]), FieldError)
    unchanged(
        w,
        lambda: s.add(d.admin, "p", "https://x.cn/", ["results"], departments=["NOPE"]),
        NotFoundError,
    )
    unchanged(  # full identity numbers: only with a legal basis, only over https
        w, lambda: s.add(d.admin, "p", "https://x.cn/", ["penalties"], full_ids=True), FieldError
    )
    unchanged(
        w,
        lambda: s.add(
            d.admin, "p", "http://x.cn/", ["penalties"], full_ids=True, legal_basis="《条例》"
        ),
        FieldError,
    )
    unchanged(
        w,
        lambda: s.add(d.admin, "p", "https://x.cn/", "results", auth="hmac", secret=b"short"),
        FieldError,
    )
    unchanged(w, lambda: s.add(d.t.operator, "p", "https://x.cn/", ["results"]), Forbidden)
    subscriber, secret = s.add(d.admin, "p", "https://x.cn/", "results,行政处罚", auth="hmac")
    assert subscriber.kinds == ["results", "penalties"] and secret is not None
    path = d.s.settings.data_dir / "delivery" / f"{subscriber.id}.secret"
    assert path.read_bytes() == secret and path.stat().st_mode & 0o777 == 0o600
    assert secret.decode() not in str(subscriber.auth)  # only its SHA-256 is in the ledger
    unchanged(w, lambda: s.add(d.admin, "p", "https://x.cn/", ["results"]), ValidationError)
    unchanged(w, lambda: s.resume(d.admin, "p"), ConflictError)
    assert [r["name"] for r in s.listing(d.t.j.as_role(Role.SUPERVISOR))] == ["p"]
    unchanged(w, lambda: s.listing(d.t.operator), Forbidden)


def test_a_long_turn_goes_on_chunk_after_chunk_recording_as_it_goes(d: Deliveries) -> None:
    for n in range(5):
        d.published(n)
    receiver, other = d.receiver(), d.receiver("other")
    d.register("long", receiver.url, batch=2)
    d.register("other", other.url)
    # Chunks of 2 records, one per request: a turn reads the next chunk while the last
    # request of the one before is on the wire, and records what was acknowledged so far.
    worker = d.worker(chunk=2, only=["long"])
    summary = worker.run_pass()
    assert (summary.delivered, summary.failed) == (5, 0)
    sent = [r[1] for r in receiver.rows()]
    assert sent == sorted(sent) and len(set(sent)) == 5
    by_report = [
        [o["seq"] for o in e.event.outcomes]  # type: ignore[attr-defined]
        for e in d.s.ledger.read(0, d.s.ledger.size())
        if isinstance(e.event, DeliveryReport.Recorded)  # type: ignore[attr-defined]
    ]
    assert len(by_report) > 1 and [s for r in by_report for s in r] == sent
    assert set(d.statuses("long").values()) == {"delivered"}
    # A worker for some platforms leaves the others alone, and counts only its own.
    assert other.rows() == [] and worker.undelivered() == 0
    assert d.worker().undelivered() == 5


def test_failures_back_off_then_deliver_once_each(d: Deliveries) -> None:
    for n in range(3):
        d.published(n)
    receiver = d.receiver("flaky", "--fail-first", "2")
    d.register("flaky", receiver.url, max_tries=5)
    d.worker().run(once=True)
    outcomes = [(o["seq"], o["outcome"], o["try"]) for o in reports(d)]
    first = outcomes[0][0]
    # The head of the queue failed twice (nothing behind it was tried), then all went.
    assert outcomes[:3] == [(first, "failed", 1), (first, "failed", 2), (first, "delivered", 3)]
    assert [o[1] for o in outcomes[3:]] == ["delivered", "delivered"]
    failed = [o for o in reports(d) if o["outcome"] == "failed"]
    assert all(o["error"].startswith("HTTP 500") and o["next_at"] for o in failed)
    assert len(receiver.rows()) == len({r[0] for r in receiver.rows()}) == 3


def test_a_lost_acknowledgement_is_sent_again_and_stored_once(d: Deliveries) -> None:
    d.published(0)
    receiver = d.receiver("lossy", "--fail-rate", "1.0", "--seed", "7")
    d.register("lossy", receiver.url, max_tries=3)
    worker = d.worker()
    worker.run(once=True)
    # Half the failures are after storing: the platform has the record, ssj has no ack.
    assert len(receiver.rows()) == 1
    assert [o["outcome"] for o in reports(d)] == ["failed", "failed", "dead_letter"]
    assert d.statuses("lossy") == {receiver.rows()[0][1]: "dead"}
    report = OverdueService(d.s, clock=lambda: TODAY).report(d.admin, on="2026-06-30")
    (dead,) = report["dead_letters"]
    assert (dead["subscriber"], dead["tries"]) == ("lossy", 3)
    assert report["summary"][0]["dead_letters"] == 1
    receiver.stop()
    # The platform comes back at a new address with the same store: retried, stored once.
    receiver = d.receiver("lossy", "--seed", "7")
    d.subscribers.update(d.admin, "lossy", endpoint=receiver.url, reason="新地址")
    unchanged(d.t.w, lambda: d.subscribers.retry(d.admin, "lossy", [1]), FieldError)
    assert d.subscribers.retry(d.admin, "lossy") == [dead["seq"]]
    worker.run(once=True)
    assert d.statuses("lossy") == {dead["seq"]: "delivered"}
    assert len(receiver.rows()) == 1  # the second delivery was a duplicate: answered, not stored


def test_a_report_leaves_the_outbox_as_its_outcomes_applied_in_order_would(
    d: Deliveries,
) -> None:
    """The outbox takes a report in two statements, not one per outcome; its rows must be
    what applying the outcomes one by one gives: a record that failed and was then delivered
    in the same turn is delivered, one dead-lettered is dead with its last try's error."""
    for n in range(6):
        d.published(n)
    receiver = d.receiver("flaky", "--fail-rate", "0.6", "--seed", "8")
    d.register("flaky", receiver.url, max_tries=3)
    d.worker().run(once=True)
    expected: dict[int, dict[str, Any]] = {}
    for o in reports(d):
        row = expected.setdefault(o["seq"], {"status": "pending"})
        if o["outcome"] == "delivered":
            row.update(status="delivered", tries=o["try"], next_at=None, last_error=None)
        elif row["status"] != "delivered":
            if row["status"] == "pending" and o["outcome"] == "dead_letter":
                row["status"] = "dead"
            row.update(tries=o["try"], next_at=o["next_at"], last_error=o["error"])
    d.s.refresh()
    _, rows = outbox.outbox_rows(d.s.store, subscriber="flaky")
    columns = ("status", "tries", "next_at", "last_error")
    found = {r["seq"]: {c: r[c] for c in columns} for r in rows if r["seq"] in expected}
    assert found == expected
    outcomes = [(o["seq"], o["outcome"]) for o in reports(d)]
    assert any(
        (seq, "failed") in outcomes and (seq, "delivered") in outcomes for seq, _ in outcomes
    )
    assert {row["status"] for row in expected.values()} == {"delivered", "dead"}


def test_a_dead_letter_blocks_later_records_until_retried(d: Deliveries) -> None:
    first, second = d.published(0), d.published(1)
    receiver = d.receiver("refusing", "--refuse")
    d.register("refusing", receiver.url, max_tries=2)
    d.worker().run(once=True)
    states = d.statuses("refusing")
    assert sorted(states.values()) == ["dead", "pending"]  # the second never went out of order
    assert [o["status"] for o in reports(d)] == [403, 403]
    assert d.worker().undelivered() == 2
    receiver.stop()
    receiver = d.receiver("refusing2")
    d.subscribers.update(d.admin, "refusing", endpoint=receiver.url, reason="平台已修复")
    d.subscribers.retry(d.admin, "refusing")
    d.worker().run(once=True)
    assert set(d.statuses("refusing").values()) == {"delivered"}
    tasks = [e["data"]["fields"]["task_id"] for e in receiver.events()]
    assert tasks == [d.t.tasks.resolve(first), d.t.tasks.resolve(second)]


def test_paused_and_removed_platforms(d: Deliveries) -> None:
    d.published(0)
    receiver = d.receiver()
    d.register("a", receiver.url)
    d.register("b", receiver.url.replace("/ingest", "/b"))
    d.subscribers.pause(d.admin, "a", "平台维护")
    d.subscribers.remove(d.admin, "b", "不再接收")
    summary = d.worker().run(once=True)
    assert summary.attempted == 0 and receiver.rows() == []
    assert set(d.statuses("a").values()) == {"pending"}
    assert set(d.statuses("b").values()) == {"cancelled"}
    assert d.worker().undelivered() == 1  # the paused platform still waits; the removed not
    d.published(1)
    assert len(d.statuses("b")) == 1  # nothing new for a removed platform
    unchanged(d.t.w, lambda: d.subscribers.pause(d.admin, "b", "x"), ConflictError)
    d.subscribers.resume(d.admin, "a")
    d.worker().run(once=True)
    assert set(d.statuses("a").values()) == {"delivered"} and len(receiver.rows()) == 2


def test_departments_kinds_and_starting_seq_choose_the_records(d: Deliveries) -> None:
    d.published(0)
    d.penalised(1)
    receiver = d.receiver()
    d.register("results-only", receiver.url, kinds=["results"], departments=[OWN])
    d.register("penalties-only", receiver.url, kinds=["penalties"])
    d.register("new-only", receiver.url, kinds=["results"], from_seq=None)
    assert len(d.statuses("results-only")) == 1 and len(d.statuses("penalties-only")) == 1
    assert d.statuses("new-only") == {}
    d.published(2)
    assert len(d.statuses("new-only")) == 1


def test_penalty_corrections_and_revocations_are_records_of_their_own(d: Deliveries) -> None:
    ref = d.penalised(0)
    d.penalised(1, case_no="常市监罚〔2026〕2号", publish=False)
    f = d.followups
    case = "常市监罚〔2026〕1号"
    unchanged(d.t.w, lambda: f.correct_case(d.t.operator, ref, case, {}, "x"), FieldError)
    unchanged(
        d.t.w,
        lambda: f.correct_case(d.t.operator, ref, case, {"penalty_types": ["警告"]}, "x"),
        FieldError,  # a fine without 罚款 among the types
    )
    f.correct_case(
        d.t.operator,
        ref,
        case,
        {"fine": "1.5", "notes": "金额笔误"},
        "罚款金额更正",
        on="2026-03-20",
    )
    # Corrected before publication: nothing had gone out, so no record.
    f.correct_case(
        d.t.operator, d.t.ref_of(1), "常市监罚〔2026〕2号", {"notes": "补充"}, "补充备注"
    )
    f.revoke_case(d.t.operator, ref, case, "经行政复议撤销", on="2026-04-01")
    unchanged(
        d.t.w, lambda: f.correct_case(d.t.operator, ref, case, {"notes": "y"}, "x"), ConflictError
    )
    receiver = d.receiver()
    d.register("p", receiver.url, kinds=["penalties"])
    d.worker().run(once=True)
    events = receiver.events()
    assert [e["type"] for e in events] == [
        "cn.ssj.penalty.published.v1",
        "cn.ssj.penalty.corrected.v1",
        "cn.ssj.penalty.withdrawn.v1",
    ]
    published, corrected, withdrawn = (e["data"] for e in events)
    assert published["fields"]["CF_NR_FK"] == "2" and corrected["fields"]["CF_NR_FK"] == "1.5"
    assert corrected["corrects"] == withdrawn["corrects"] == events[0]["ssjseq"]
    assert corrected["reason"] == "罚款金额更正" and withdrawn["reason"] == "经行政复议撤销"
    assert d.followups.row(ref)["cases"][0]["revoked_on"] == "2026-04-01"


def test_deadlines_are_measured_to_delivery(d: Deliveries) -> None:
    d.published(0)
    d.penalised(1)
    receiver = d.receiver()
    d.register("p", receiver.url)
    overdue = OverdueService(d.s, clock=lambda: TODAY)
    report = overdue.report(d.admin, on="2026-06-30")
    states = sorted((r["kind"], r["state"]) for r in report["deliveries"])
    # Published on time, but not delivered: both deadlines (20 and 7 working days) passed.
    assert states == [("penalties", "overdue"), ("results", "overdue")]
    assert report["summary"][0]["delivery_overdue"] == 2
    d.worker().run(once=True)
    report = overdue.report(d.admin, on="2026-06-30")
    assert sorted(r["state"] for r in report["deliveries"]) == ["late", "late"]
    assert all(
        r["done_on"] == r["done_on"] and r["working_days_late"] > 0 for r in report["deliveries"]
    )
    assert report["summary"][0]["delivered_late"] == 2
    # The annual assessment counts the same deliveries.
    assessed = AssessmentService(d.s, clock=lambda: TODAY).department(
        d.admin, 2026, OWN, on="2026-06-30"
    )
    delivery = assessed["figures"]["delivery"]
    assert (delivery["records"], delivery["late"], delivery["on_time"]) == (2, 2, 0)
    assert delivery["share_on_time"] == 0.0


def test_feed_and_export_carry_the_same_records(d: Deliveries) -> None:
    d.published(0)
    d.penalised(1)
    feeds = FeedService(d.s)
    page = feeds.feed(d.admin, "penalties", after_seq=-1, limit=10)
    (event,) = page["items"]
    assert verify_event(event, d.keys()) == page["next_after_seq"]
    assert feeds.feed(d.admin, "penalties", after_seq=page["next_after_seq"])["items"] == []
    unchanged(d.t.w, lambda: feeds.feed(d.admin, "licences"), FieldError)
    body, count = feeds.export(d.admin, "penalties", "2026-01-01", "2099-12-31", "xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    assert sheet is not None and count == 1
    header, row = (list(r) for r in sheet.iter_rows(values_only=True))
    assert header[:4] == ["账本序号", "操作", "更正/撤回的记录序号", "行政相对人名称"]
    values = dict(zip(header, row, strict=True))
    assert values["罚款金额（万元）"] == 2 and values["处罚类别"] == "罚款"
    assert values["行政处罚决定书文号"] == "常市监罚〔2026〕1号"
    body, count = feeds.export(d.admin, "results", "2026-01-01", "2099-12-31", "csv")
    assert count == 1 and body.startswith("\ufeff".encode()) and "检查结果" in body.decode()
    _, count = feeds.export(d.admin, "results", "2000-01-01", "2000-12-31", "csv")
    assert count == 0
    unchanged(
        d.t.w,
        lambda: feeds.export(d.admin, "results", "2026-02-01", "2026-01-01", "csv"),
        ValidationError,
    )


def test_the_outbox_is_rebuilt_the_same_from_the_ledger(d: Deliveries) -> None:
    d.published(0)
    d.penalised(1)
    receiver = d.receiver("r", "--fail-first", "1")
    d.register("p", receiver.url)
    d.register("q", receiver.url, kinds=["results"])
    d.subscribers.pause(d.admin, "q", "暂停")
    d.worker().run(once=True)

    def dump() -> list[Any]:
        return [
            d.s.store.query(f"SELECT * FROM {table} ORDER BY 1, 2")
            for table in ("delivery_records", "delivery_subscribers", "delivery_outbox")
        ]

    d.s.refresh()
    before = dump()
    assert before[2]
    d.s.runner.rebuild()
    assert dump() == before


def test_the_trail_shows_platforms_and_deliveries(d: Deliveries) -> None:
    from tests.projections.test_trail import model_rows, replay, replay_rows

    ref = d.published(0)
    receiver = d.receiver("r", "--fail-first", "1")
    d.register("信用常州", receiver.url)
    d.subscribers.pause(d.admin, "信用常州", "维护")
    d.subscribers.resume(d.admin, "信用常州")
    d.worker().run(once=True)
    d.s.refresh()
    expected = replay_rows(replay(d.s))
    assert model_rows(d.s) == expected
    platform = [r["kind"] for r in expected[("subscriber", "信用常州")]]
    assert platform == [
        "Subscriber.Registered",
        "Subscriber.Paused",
        "Subscriber.Resumed",
        "DeliveryReport.Recorded",  # the failed try and the retry, one turn
    ]
    (report,) = [r for r in expected[("subscriber", "信用常州")] if "Delivery" in r["kind"]]
    assert report["summary"] == "推送至 信用常州：已送达 1 条，发送失败（待重试） 1 条"
    task = expected[("task", d.t.tasks.resolve(ref))]
    (delivered,) = [r for r in task if r["kind"] == "DeliveryReport.Recorded"]
    assert "归集至 信用常州：已送达（第 2 次，回执 R1）" in delivered["summary"]
    assert delivered["actor"] == "ssj-deliver" and delivered["role"] == "system"


def _certificates(directory: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    files: dict[str, Path] = {}

    def issue(name: str, key: Any, issuer: Any, issuer_key: Any, **kw: Any) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        if kw.get("ca"):
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        if kw.get("ip"):
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(kw["ip"]))]),
                False,
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ssj test CA")])
    ca = issue("ssj test CA", ca_key, ca_name, ca_key, ca=True)
    for name, kw in (("server", {"ip": "127.0.0.1"}), ("client", {})):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = issue(f"ssj {name}", key, ca_name, ca_key, **kw)
        files[f"{name}_cert"] = directory / f"{name}.pem"
        files[f"{name}_key"] = directory / f"{name}.key"
        files[f"{name}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[f"{name}_key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    files["ca"] = directory / "ca.pem"
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return files


def test_mutual_tls(d: Deliveries, tmp_path: Path) -> None:
    import ssl

    import httpx

    d.published(0)
    tls = _certificates(tmp_path)
    receiver = d.receiver(
        "tls",
        *("--tls-cert", str(tls["server_cert"]), "--tls-key", str(tls["server_key"])),
        *("--client-ca", str(tls["ca"])),
    )
    url = receiver.url.replace("http://", "https://")
    with pytest.raises(httpx.HTTPError):  # no client certificate: the platform refuses
        httpx.post(url, content=b"{}", verify=ssl.create_default_context(cafile=tls["ca"]))
    d.register(
        "tls",
        url,
        auth="mtls",
        cert=str(tls["client_cert"]),
        key=str(tls["client_key"]),
        ca=str(tls["ca"]),
    )
    unchanged(  # a certificate file that is not there: refused now, not at the first delivery
        d.t.w,
        lambda: d.subscribers.add(
            d.admin, "tls2", url, ["results"], auth="mtls", cert="/nonexistent.pem", key="k"
        ),
        FieldError,
    )
    assert d.worker().run(once=True).delivered == 1
    assert len(receiver.rows()) == 1


@pytest.mark.slow
def test_a_ledger_under_the_national_suite(tmp_path: Path, settings: Settings) -> None:
    """sm2-sm3: the events are signed with SM2 and proved in the SM3 tree; the receiver's
    checks follow the log's key."""
    from ssj.ledger import suite as suites
    from tests.services.conftest import Jurisdiction

    services = Services(settings)
    try:
        services.ledger.initialise(suite=suites.get("sm2-sm3"))
        world = World(Jurisdiction(services))
        world.publish()
        found = Deliveries(Tasks(world), tmp_path / "receivers")
        try:
            found.published(0)
            found.penalised(1)
            receiver = found.receiver()
            found.register("p", receiver.url)
            assert found.worker().run(once=True).delivered == 2
            events = receiver.events()
            keys = found.keys()
            assert all(k.split("+")[2] for k in keys)
            assert [verify_event(e, keys) for e in events] == [e["ssjseq"] for e in events]
            assert "sm2" in services.ledger.suite.name
        finally:
            found.close()
    finally:
        services.close()


def test_identity_numbers_are_masked_unless_a_platform_has_a_legal_basis(
    d: Deliveries, tmp_path: Path
) -> None:
    """An individual business known by its operator's resident identity number: results,
    penalties, the feed and the export carry the number masked; only a platform registered
    with a legal basis (https) gets it whole, in 证件号码 of penalty records and nowhere else."""
    import json

    from tests.api.test_pages import resident_id
    from tests.services.conftest import item_row, target_row

    world, t = d.t.w, d.t
    item = f"{OWN}/TZ-002"
    world.j.registry.save_item(world.operator, item_row("TZ-002", target_type="个体工商户"))
    for n in range(3):
        world.j.registry.save_target(
            world.operator,
            target_row(
                900 + n,
                identifier=resident_id(n),
                id_kind="resident_id",
                target_type="个体工商户",
                name=f"常州某某小吃店{n}",
            ),
        )
    world.publish("2026-09", items=["TZ-002"], fixed_count=2, ratios=None)
    drawn = world.draws.draw(world.run("2026-09"))
    assert drawn.outcome is not None
    number = drawn.outcome["strata"][0]["sample"][0]
    shown = number[:6] + "********" + number[-4:]
    ref = f"{OWN}/2026-09/第1轮/{number}"
    first, second = t.team(ref)
    t.tasks.notify(t.operator, ref, "2026-03-03", "电话通知")
    t.draft(first, ref, item=item, category="违法违规 (立案)")
    t.tasks.sign_result(second, ref, item)
    t.tasks.complete(first, ref, "2026-03-05")
    t.tasks.inform(t.operator, ref, "2026-03-06")
    t.tasks.confirm(t.operator, ref)
    t.tasks.publish(t.operator, ref, on="2026-03-10", public_summary="已立案")
    case_no = "常市监罚〔2026〕5号"
    d.followups.file_case(
        t.operator,
        ref,
        case_no=case_no,
        decision="罚款人民币0.5万元",
        decided_on="2026-03-09",
        violation_type="未按规定公示信息",
        facts="未按规定公示",
        basis="《市场主体登记管理条例》",
        penalty_types=["罚款"],
        fine="0.5",
        authority_code=AUTHORITY_CODE,
        legal_representative="张某",
    )
    d.followups.publish_case(t.operator, ref, case_no, "2026-03-12")

    plain = d.receiver("plain")
    d.register("plain", plain.url)
    tls = _certificates(tmp_path)
    full = d.receiver(
        "full",
        *("--tls-cert", str(tls["server_cert"]), "--tls-key", str(tls["server_key"])),
        *("--client-ca", str(tls["ca"])),
    )
    basis = "《个人信息保护法》第十三条第一款第三项"
    d.register(
        "full",
        full.url.replace("http://", "https://"),
        auth="mtls",
        cert=str(tls["client_cert"]),
        key=str(tls["client_key"]),
        ca=str(tls["ca"]),
        full_ids=True,
        legal_basis=basis,
    )
    assert d.worker().run(once=True).delivered == 4

    def text(event: dict[str, Any]) -> str:
        return json.dumps(event, ensure_ascii=False)

    result, penalty = plain.events()
    assert number not in text(result) + text(penalty)
    assert result["data"]["fields"]["target_id"] == shown and result["subject"] == shown
    assert penalty["data"]["fields"]["CF_XDR_ZJHM"] == shown
    assert penalty["data"]["fields"]["CF_XDR_LB"] == "个体工商户"
    assert penalty["data"]["fields"]["CF_XDR_ZJLX"] == "身份证"
    result, penalty = full.events()
    assert number not in text(result)  # results never carry it
    assert penalty["data"]["fields"]["CF_XDR_ZJHM"] == number
    assert text(penalty).count(number) == 1 and penalty["subject"] == shown
    assert verify_event(penalty, d.keys()) == penalty["ssjseq"]  # signed as sent
    assert d.subscribers.show(d.admin, "full")["legal_basis"] == basis
    # Pulled or exported, always masked.
    feeds = FeedService(d.s)
    for kind in ("results", "penalties"):
        (event,) = feeds.feed(d.admin, kind)["items"]
        assert number not in text(event) and shown in text(event)
        body, count = feeds.export(d.admin, kind, "2026-01-01", "2099-12-31", "csv")
        assert count == 1 and number not in body.decode() and shown in body.decode()
