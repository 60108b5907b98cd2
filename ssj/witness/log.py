"""The log's side of witnessing: configure witnesses, send each checkpoint, keep the answers.

Each issued checkpoint goes to every active witness with an RFC 9162 consistency proof from the
size that witness last cosigned (C2SP tlog-witness `add-checkpoint`); a 409 naming another size
is answered once more from that size when the log can prove it. A cosignature that verifies with
the witness's configured key is recorded in the ledger (`WitnessSet.Cosigned`) and served with
the checkpoint on `/log/checkpoint`; anything else is recorded as a refusal
(`WitnessSet.Refused`, with the witness's status and answer) and reported loudly by the caller,
by `ssj witnesses status` and by `GET /log/witnesses`.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from ssj.errors import ValidationError
from ssj.ledger import note
from ssj.ledger.checkpoint import Checkpoint
from ssj.ledger.envelope import SYSTEM, Actor
from ssj.ledger.witnesses import WITNESSES_ID, WitnessSet
from ssj.witness import cosignature
from ssj.witness.server import SIZE_TYPE, request_body

if TYPE_CHECKING:
    from ssj.ledger.application import Ledger

TIMEOUT_SECONDS = 10.0

STATUS_ZH = {
    "cosigned": "已联署",
    "refused": "拒绝联署",
    "unreachable": "无法连接",
    "up-to-date": "已是最新",
}


@dataclass(frozen=True)
class Outcome:
    """What one witness answered to one checkpoint."""

    name: str
    size: int
    status: str  # cosigned, refused, unreachable, up-to-date
    http_status: int = 0
    answer: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("cosigned", "up-to-date")

    def line(self) -> str:
        zh = STATUS_ZH[self.status]
        extra = f" — HTTP {self.http_status} {self.answer.strip()}" if self.http_status else ""
        extra += f" ({self.detail})" if self.detail else ""
        return (
            f"见证方 {self.name} {zh} / witness {self.name} {self.status} size {self.size}{extra}"
        )


def witness_set(ledger: Ledger) -> WitnessSet | None:
    try:
        return cast(WitnessSet, ledger.repository.get(WITNESSES_ID))
    except Exception as e:
        if type(e).__name__ == "AggregateNotFoundError":
            return None
        raise


def add(ledger: Ledger, actor: Actor, verifier_key: str, url: str) -> str:
    """Configure a witness by its cosignature key (its name is the key's); returns the name."""
    try:
        key = cosignature.parse_key(verifier_key)
    except note.NoteError as e:
        raise ValidationError(f"见证方公钥无效：{e.zh}", f"invalid witness key: {e.en}") from None
    found = witness_set(ledger) or WitnessSet()
    found.add(key.name, key.to_key(), url)
    ledger.save(found, actor=actor)
    return key.name


def remove(ledger: Ledger, actor: Actor, name: str, reason: str) -> None:
    found = witness_set(ledger)
    if found is None:
        from ssj.errors import NotFoundError

        raise NotFoundError(f"没有见证方 {name}", f"no witness {name}")
    found.remove(name, reason)
    ledger.save(found, actor=actor)


def listing(ledger: Ledger) -> list[dict[str, Any]]:
    """Every witness ever configured: key, URL, whether active, last cosigned size, problem."""
    found = witness_set(ledger)
    if found is None:
        return []
    return [
        {
            "name": name,
            "key": w["key"],
            "url": w["url"],
            "active": w["active"],
            "cosigned_size": found.cosigned.get(name),
            "problem": found.problems.get(name),
        }
        for name, w in sorted(found.witnesses.items())
    ]


def _post(url: str, body: bytes, timeout: float) -> tuple[int, str, str]:
    request = urllib.request.Request(
        url + "/add-checkpoint", data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace"), ""
    except urllib.error.HTTPError as e:
        content_type = e.headers.get("Content-Type", "") if e.headers else ""
        return e.code, e.read().decode("utf-8", "replace"), content_type


def _ask(
    ledger: Ledger, name: str, w: dict[str, Any], old: int, signed: str, cp: Checkpoint
) -> Outcome:
    """add-checkpoint from `old`, and once more from the size a 409 names if we can prove it."""
    key = cosignature.parse_key(w["key"])
    for _ in range(2):
        proof = ledger.consistency_proof(old, cp.size) if old else []
        try:
            status, answer, content_type = _post(
                w["url"], request_body(old, proof, signed), TIMEOUT_SECONDS
            )
        except (OSError, ValueError) as e:
            return Outcome(name, cp.size, "unreachable", detail=str(e))
        if status == 409 and content_type.startswith(SIZE_TYPE):
            try:
                theirs = int(answer.strip())
            except ValueError:
                theirs = -1
            if 0 <= theirs <= cp.size and theirs != old:
                old = theirs
                continue
            detail = (
                f"the witness cosigned size {theirs}, larger than this checkpoint: "
                "the log was truncated or forked"
                if theirs > cp.size
                else "the witness's size cannot be proven"
            )
            return Outcome(name, cp.size, "refused", status, answer, detail)
        if status != 200:
            return Outcome(name, cp.size, "refused", status, answer)
        try:
            _, sigs = note.parse_note(cp.to_text() + "\n" + answer)
            valid, problems = cosignature.verify_lines(cp.to_text(), sigs, [key])
        except note.NoteError as e:
            valid, problems = [], [e.en]
        if not valid:
            detail = "; ".join(problems) or "no cosignature by the configured key"
            return Outcome(name, cp.size, "refused", status, answer, detail)
        return Outcome(name, cp.size, "cosigned", status, valid[0].line, str(valid[0].timestamp))
    return Outcome(name, cp.size, "refused", 409, "", "the witness's size kept changing")


def send(ledger: Ledger, signed: str) -> list[Outcome]:
    """Send a signed checkpoint to every active witness; record and return what each said."""
    found = witness_set(ledger)
    if found is None or not found.active():
        return []
    text, _ = note.parse_note(signed)
    cp = Checkpoint.from_text(text)
    outcomes = []
    for name, w in sorted(found.active().items()):
        old = found.cosigned.get(name, 0)
        if old == cp.size and name in found.lines.get(cp.size, {}):
            outcomes.append(Outcome(name, cp.size, "up-to-date"))
            continue
        outcome = _ask(ledger, name, w, min(old, cp.size), signed, cp)
        outcomes.append(outcome)
        if outcome.status == "cosigned":
            found.record_cosignature(
                name=name, size=cp.size, timestamp=int(outcome.detail), line=outcome.answer
            )
        else:
            found.record_refusal(
                name=name,
                size=cp.size,
                status=outcome.http_status,
                answer=outcome.answer[:2000],
                detail=outcome.detail or outcome.status,
            )
    ledger.save(found, actor=SYSTEM)
    return outcomes


def cosigned_note(ledger: Ledger) -> str | None:
    """The newest checkpoint with every cosignature recorded for it, as extra signature lines."""
    signed = ledger.latest_checkpoint()
    if signed is None:
        return None
    found = witness_set(ledger)
    if found is None:
        return signed
    cp = Checkpoint.from_text(note.parse_note(signed)[0])
    return cosignature.with_lines(signed, found.lines.get(cp.size, {}).values())


def status(ledger: Ledger) -> list[dict[str, Any]]:
    """Monitoring: each active witness against the newest checkpoint. A witness has a problem
    if its last answer was a refusal (or it was unreachable), or it has not cosigned the newest
    checkpoint."""
    found = witness_set(ledger)
    if found is None:
        return []
    checkpoints = ledger.checkpoints()
    newest = checkpoints[-1][0] if checkpoints else 0
    rows = []
    for name, w in sorted(found.active().items()):
        cosigned = found.cosigned.get(name, 0)
        problem = found.problems.get(name)
        if problem is not None:
            state = "refused" if problem["status"] else "unreachable"
        elif cosigned < newest:
            state = "behind"
        else:
            state = "ok"
        rows.append(
            {
                "name": name,
                "url": w["url"],
                "state": state,
                "cosigned_size": cosigned,
                "newest_checkpoint": newest,
                "problem": problem,
            }
        )
    return rows


def problems(ledger: Ledger) -> list[dict[str, Any]]:
    """Only the witnesses with a problem (what `ssj overdue`-style monitoring alerts on)."""
    return [r for r in status(ledger) if r["state"] != "ok"]
