"""A draw (随机抽取) as a seed ceremony: commit, then entropy, then reveal; or abandonment.

The Committed event fixes everything the outcome depends on (population roots, sizes, k, pools,
rules, the entropy sources to come and a hash of the server's nonce) before anyone can know the
seed. Witnesses' dice and an optional drand beacon arrive as events; the reveal records the nonce,
the seed and what it selected. The aggregate refuses any step out of order, so a draw cannot be
revealed twice, revealed after abandonment, or abandoned without a reason. Recusals (回避) after
the reveal are recorded here too, because replacements follow from the draw's own ranking.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson
from eventsourcing.domain import Aggregate, event

from ssj.domain import fields
from ssj.draw import seed as seeds
from ssj.draw.facts import DrawFacts, label_of
from ssj.errors import ConflictError, ValidationError

DRAW_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ssj:draw")
MIN_DICE_DIGITS = 20
DICE = re.compile(r"[0-9]+")


class DrawStatus(StrEnum):
    COMMITTED = "committed"
    REVEALED = "revealed"
    ABANDONED = "abandoned"


STATUS_LABELS_ZH = {
    DrawStatus.COMMITTED: "已封存待揭示",
    DrawStatus.REVEALED: "已抽取",
    DrawStatus.ABANDONED: "已作废",
}


class RecusalKind(StrEnum):
    DECLARED = "declared"  # the inspector declares a conflict
    REQUESTED = "requested"  # the target asked, a leader approved


def draw_id(plan_id: UUID | str, round: int) -> UUID:
    """One id per (plan, round): two concurrent commits of one round cannot both succeed."""
    return uuid5(DRAW_NAMESPACE, f"{plan_id}/{round}")


def draw_label(facts: Mapping[str, Any]) -> str:
    """The label of facts as stored, read leniently (the trail and read models describe any
    stored event; `DrawFacts.label` for typed facts)."""
    plan = facts["plan"]
    return label_of(plan["department"], plan["code"], facts["round"])


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def commit_digest(facts: dict[str, Any]) -> str:
    """What the seed is bound to: the SHA-256 of the committed facts, canonically encoded."""
    return hashlib.sha256(canonical(facts)).hexdigest()


def parse_dice(digits: object) -> str:
    raw = fields.text("digits", digits, max_length=200).replace(" ", "")
    if not DICE.fullmatch(raw):
        raise fields.FieldError(
            "digits",
            f"骰子点数只能是十进制数字，实际为“{raw}”",
            f"dice must be decimal digits only, got {raw!r}",
        )
    return raw


class Draw(Aggregate):
    """One draw under a plan; its id follows from the plan and the round."""

    @staticmethod
    def create_id(plan_id: str, round: int, **_: Any) -> UUID:
        return draw_id(plan_id, round)

    class Committed(Aggregate.Created):
        plan_id: str
        round: int
        facts: dict[str, Any]

    @event(Committed)
    def __init__(self, plan_id: str, round: int, facts: dict[str, Any]) -> None:
        self.plan_id = plan_id
        self.round = round
        self.facts = facts
        self.status = DrawStatus.COMMITTED
        self.dice: list[tuple[str, str]] = []
        self.drand: dict[str, Any] | None = None
        self.nonce: str | None = None
        self.seed: str | None = None
        self.outcome: dict[str, Any] | None = None
        self.abandoned_reason: str | None = None
        self.recusals: list[dict[str, Any]] = []
        self.requests: dict[str, dict[str, Any]] = {}

    @property
    def committed(self) -> DrawFacts:
        """The committed facts, typed (`facts` is their stored form, hashed into the seed)."""
        return DrawFacts.of(self.facts)

    # The ceremony ------------------------------------------------------------------------------

    @property
    def witnesses(self) -> list[str]:
        return list(self.committed.entropy.witnesses)

    @property
    def drand_round(self) -> int | None:
        drand = self.committed.entropy.drand
        return None if drand is None else drand.round

    def repeats_commit(
        self, plan_version: int, witnesses: list[str], drand_round: int | None, drawn_on: str
    ) -> bool:
        """A commit with these inputs would repeat this one (a retried command): it is still
        committed — not revealed, not abandoned — under the same plan version, on the same day,
        with the same witnesses in the same order and the same drand round."""
        facts = self.committed
        return (
            self.status is DrawStatus.COMMITTED
            and facts.plan.version == plan_version
            and facts.drawn_on == drawn_on
            and self.witnesses == witnesses
            and self.drand_round == drand_round
        )

    def _require(self, status: DrawStatus, doing_zh: str, doing_en: str) -> None:
        if self.status is not status:
            raise ConflictError(
                f"本次抽取状态为“{STATUS_LABELS_ZH[self.status]}”，不能{doing_zh}",
                f"the draw is {self.status.value}: cannot {doing_en}",
            )

    def record_dice(self, witness: str, digits: str) -> None:
        self._require(DrawStatus.COMMITTED, "录入骰子点数", "record dice")
        witness = fields.text("witness", witness, max_length=100)
        if witness not in self.witnesses:
            raise ValidationError(
                f"见证人“{witness}”不在封存时登记的名单中：{'、'.join(self.witnesses)}",
                f"witness {witness!r} was not named at commit: {', '.join(self.witnesses)}",
            )
        if any(w == witness for w, _ in self.dice):
            raise ConflictError(
                f"见证人“{witness}”已录入点数", f"witness {witness!r} has already given dice"
            )
        self._dice_recorded(witness=witness, digits=parse_dice(digits))

    class DiceRecorded(Aggregate.Event):
        witness: str
        digits: str

    @event(DiceRecorded)
    def _dice_recorded(self, witness: str, digits: str) -> None:
        self.dice.append((witness, digits))

    def record_drand(self, beacon: dict[str, Any], bls_verified: bool) -> None:
        self._require(DrawStatus.COMMITTED, "录入 drand 随机数", "record a drand beacon")
        if self.drand_round is None:
            raise ValidationError(
                "封存时未登记 drand 轮次，不能录入", "no drand round was named at commit"
            )
        if self.drand is not None:
            raise ConflictError("drand 随机数已录入", "the drand beacon is already recorded")
        if int(beacon["round"]) != self.drand_round:
            raise ValidationError(
                f"drand 轮次应为 {self.drand_round}，实际为 {beacon['round']}",
                f"the drand round must be {self.drand_round}, got {beacon['round']}",
            )
        self._drand_recorded(beacon=beacon, bls_verified=bls_verified)

    class DrandRecorded(Aggregate.Event):
        beacon: dict[str, Any]
        bls_verified: bool

    @event(DrandRecorded)
    def _drand_recorded(self, beacon: dict[str, Any], bls_verified: bool) -> None:
        self.drand = {**beacon, "bls_verified": bls_verified}

    def entropy_missing(self) -> list[str]:
        """What the reveal still waits for, in words officials read."""
        missing = [f"见证人“{w}”的骰子点数" for w in self.witnesses if w not in dict(self.dice)]
        digits = sum(len(d) for _, d in self.dice)
        if not missing and digits < MIN_DICE_DIGITS:
            missing.append(f"骰子点数合计至少 {MIN_DICE_DIGITS} 位（现有 {digits} 位）")
        if self.drand_round is not None and self.drand is None:
            missing.append(f"drand 第 {self.drand_round} 轮随机数")
        return missing

    def seed_for(self, nonce: str) -> str:
        """The seed the recorded inputs give with `nonce` (checked against the commitment)."""
        missing = self.entropy_missing()
        if missing:
            raise ConflictError(
                "熵源尚未齐备，不能揭示：" + "；".join(missing),
                f"entropy incomplete, cannot reveal: {len(missing)} input(s) missing",
            )
        try:
            committed = seeds.nonce_commitment(nonce) == self.committed.nonce_commitment
        except ValueError:
            committed = False
        if not committed:
            raise ValidationError(
                "服务器随机数与封存时的承诺不符", "the server nonce does not match its commitment"
            )
        ordered = [(w, dict(self.dice)[w]) for w in self.witnesses]
        randomness = None if self.drand is None else str(self.drand["randomness"])
        return seeds.draw_seed(str(self.id), commit_digest(self.facts), nonce, ordered, randomness)

    def check_revealable(self) -> None:
        """Before any work: only a committed draw can be revealed (once)."""
        self._require(DrawStatus.COMMITTED, "揭示", "reveal")

    def reveal(self, nonce: str, seed: str, outcome: dict[str, Any]) -> None:
        """Record the seed and what it selected; the service computed `outcome` from it."""
        self.check_revealable()
        if seed != self.seed_for(nonce):
            raise ValidationError(
                "种子与记录的输入不符", "the seed does not follow from the inputs"
            )
        self._revealed(nonce=nonce, seed=seed, outcome=outcome)

    class Revealed(Aggregate.Event):
        nonce: str
        seed: str
        outcome: dict[str, Any]

    @event(Revealed)
    def _revealed(self, nonce: str, seed: str, outcome: dict[str, Any]) -> None:
        self.nonce = nonce
        self.seed = seed
        self.outcome = outcome
        self.status = DrawStatus.REVEALED

    def abandon(self, reason: str) -> None:
        self._require(DrawStatus.COMMITTED, "作废", "abandon")
        self._abandoned(reason=fields.prose("reason", reason))

    class Abandoned(Aggregate.Event):
        reason: str

    @event(Abandoned)
    def _abandoned(self, reason: str) -> None:
        self.abandoned_reason = reason
        self.status = DrawStatus.ABANDONED

    # Recusal (回避) -----------------------------------------------------------------------------

    def current_team(self, target: str) -> dict[str, list[str]]:
        """A drawn target's team after every recusal, inspectors and experts apart."""
        if self.outcome is None or target not in self.outcome["teams"]:
            raise ValidationError(
                f"{target} 不是本次抽取的检查对象", f"{target} was not drawn in this draw"
            )
        drawn = self.outcome["teams"][target]
        team = {role: list(drawn[role]) for role in ("inspectors", "experts")}
        for r in self.recusals:
            if r["target"] != target:
                continue
            for members in team.values():
                if r["certificate_no"] in members:
                    members[members.index(r["certificate_no"])] = r["replacement"]
        return team

    def team_of(self, target: str) -> list[str]:
        """Everyone on a drawn target's current team."""
        team = self.current_team(target)
        return [*team["inspectors"], *team["experts"]]

    def recused_from(self, target: str) -> list[str]:
        return [r["certificate_no"] for r in self.recusals if r["target"] == target]

    def _check_member(self, target: str, certificate_no: str) -> None:
        self._require(DrawStatus.REVEALED, "回避", "recuse")
        if certificate_no not in self.team_of(target):
            raise ValidationError(
                f"{certificate_no} 不在 {target} 的检查组中",
                f"{certificate_no} is not on the team for {target}",
            )

    def recuse(self, target: str, certificate_no: str, reason: str, replacement: str) -> None:
        """An inspector's own declaration: recused at once, replaced by the next ranked."""
        self._check_member(target, certificate_no)
        self._recused(
            target=target,
            certificate_no=certificate_no,
            kind=RecusalKind.DECLARED.value,
            reason=fields.prose("reason", reason),
            request_id=None,
            replacement=replacement,
        )

    def request_recusal(self, target: str, certificate_no: str, reason: str) -> tuple[str, bool]:
        """A target's request, on file until a leader decides it: its id, and False if the same
        request (target, inspector, reason) is on file undecided already (nothing recorded)."""
        why = fields.prose("reason", reason)
        for request_id, request in self.requests.items():
            same = (request["target"], request["certificate_no"], request["reason"])
            if request["decision"] is None and same == (target, certificate_no, why):
                return request_id, False
        self._check_member(target, certificate_no)
        request_id = f"{len(self.requests) + 1}"
        self._recusal_requested(
            request_id=request_id, target=target, certificate_no=certificate_no, reason=why
        )
        return request_id, True

    class RecusalRequested(Aggregate.Event):
        request_id: str
        target: str
        certificate_no: str
        reason: str

    @event(RecusalRequested)
    def _recusal_requested(
        self, request_id: str, target: str, certificate_no: str, reason: str
    ) -> None:
        self.requests[request_id] = {
            "target": target,
            "certificate_no": certificate_no,
            "reason": reason,
            "decision": None,
        }

    def pending_request(self, request_id: str) -> dict[str, Any]:
        request = self.requests.get(request_id)
        if request is None:
            raise ValidationError(
                f"回避申请 {request_id} 不存在", f"no recusal request {request_id}"
            )
        if request["decision"] is not None:
            raise ConflictError(
                f"回避申请 {request_id} 已决定", f"recusal request {request_id} is decided"
            )
        return request

    def decide_recusal(
        self, request_id: str, approved: bool, reason: str, replacement: str | None
    ) -> None:
        request = self.pending_request(request_id)
        reason = fields.prose("reason", reason)
        self._recusal_decided(request_id=request_id, approved=approved, reason=reason)
        if approved:
            assert replacement is not None
            self._recused(
                target=request["target"],
                certificate_no=request["certificate_no"],
                kind=RecusalKind.REQUESTED.value,
                reason=request["reason"],
                request_id=request_id,
                replacement=replacement,
            )

    class RecusalDecided(Aggregate.Event):
        request_id: str
        approved: bool
        reason: str

    @event(RecusalDecided)
    def _recusal_decided(self, request_id: str, approved: bool, reason: str) -> None:
        self.requests[request_id]["decision"] = {"approved": approved, "reason": reason}

    class Recused(Aggregate.Event):
        target: str
        certificate_no: str
        kind: str
        reason: str
        request_id: str | None
        replacement: str

    @event(Recused)
    def _recused(
        self,
        target: str,
        certificate_no: str,
        kind: str,
        reason: str,
        request_id: str | None,
        replacement: str,
    ) -> None:
        self.recusals.append(
            {
                "target": target,
                "certificate_no": certificate_no,
                "kind": kind,
                "reason": reason,
                "request_id": request_id,
                "replacement": replacement,
            }
        )
