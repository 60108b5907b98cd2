"""The log's witnesses, recorded in the ledger: who they are, what they cosigned, what they refused.

A witness (见证方) is another organisation's service that cosigns a checkpoint only if it is
consistent with every checkpoint it cosigned before (C2SP tlog-witness). Adding or removing one is
an event with its actor, and so is every cosignature received (the line itself, verifiable by
anyone with the witness's key, so an audit bundle carries them) and every refusal (the witness's
HTTP status and answer: evidence of a split view, a truncation or a fork).
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ssj.errors import ConflictError, NotFoundError, ValidationError

WITNESSES_ID = uuid5(NAMESPACE_URL, "urn:ssj:witnesses")


class WitnessSet(Aggregate):
    """The configured witnesses and the last word each gave."""

    @staticmethod
    def create_id(*_: Any, **__: Any) -> UUID:
        return WITNESSES_ID

    class Started(Aggregate.Created):
        pass

    @event(Started)
    def __init__(self) -> None:
        self.witnesses: dict[str, dict[str, Any]] = {}  # name -> key, url, active
        self.cosigned: dict[str, int] = {}  # name -> largest size it cosigned
        self.lines: dict[int, dict[str, str]] = {}  # checkpoint size -> name -> cosignature line
        self.problems: dict[
            str, dict[str, Any]
        ] = {}  # name -> the last refusal, if not since cosigned

    def add(self, name: str, verifier_key: str, url: str) -> None:
        if name in self.witnesses and self.witnesses[name]["active"]:
            raise ConflictError(f"见证方 {name} 已存在", f"witness {name} is already configured")
        if not url.startswith(("http://", "https://")):
            raise ValidationError(
                f"见证方地址必须以 http:// 或 https:// 开头：{url!r}",
                f"a witness URL must start with http:// or https://: {url!r}",
            )
        self._added(name=name, verifier_key=verifier_key, url=url.rstrip("/"))

    class Added(Aggregate.Event):
        name: str
        verifier_key: str
        url: str

    @event(Added)
    def _added(self, name: str, verifier_key: str, url: str) -> None:
        self.witnesses[name] = {"key": verifier_key, "url": url, "active": True}

    def remove(self, name: str, reason: str) -> None:
        if name not in self.witnesses or not self.witnesses[name]["active"]:
            raise NotFoundError(f"没有见证方 {name}", f"no witness {name}")
        if not reason.strip():
            raise ValidationError("移除见证方必须说明理由", "removing a witness needs a reason")
        self._removed(name=name, reason=reason)

    class Removed(Aggregate.Event):
        name: str
        reason: str

    @event(Removed)
    def _removed(self, name: str, reason: str) -> None:
        self.witnesses[name]["active"] = False

    class Cosigned(Aggregate.Event):
        name: str
        size: int
        timestamp: int  # type: ignore[assignment]  # the witness's time, as stored
        line: str

    @event(Cosigned)
    def record_cosignature(self, name: str, size: int, timestamp: int, line: str) -> None:
        self.cosigned[name] = max(self.cosigned.get(name, 0), size)
        self.lines.setdefault(size, {})[name] = line
        self.problems.pop(name, None)

    class Refused(Aggregate.Event):
        name: str
        size: int
        status: int
        answer: str
        detail: str

    @event(Refused)
    def record_refusal(self, name: str, size: int, status: int, answer: str, detail: str) -> None:
        self.problems[name] = {"size": size, "status": status, "answer": answer, "detail": detail}

    def active(self) -> dict[str, dict[str, Any]]:
        return {n: w for n, w in self.witnesses.items() if w["active"]}
