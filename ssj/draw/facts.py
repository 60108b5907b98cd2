"""A draw's facts as one typed, versioned structure: what a commit records and hashes.

The facts fix everything a draw's outcome depends on before the seed exists (see
`ssj.draw.procedure.freeze`); their canonical bytes (sorted-key compact JSON) are hashed into the
commit digest the seed is bound to, stored in the Committed event, and exported to auditors. So
the structure has exactly one dict form: `as_dict` gives the keys in the order the Committed event
has always stored them, and `of` reads that form back, refusing anything else (an unknown
version, a missing or extra key), so `of(d).as_dict() == d`, key order included. `ALGORITHM` is the
version: a change of shape or meaning is a new algorithm name, never a silent change of this one.
The plan's rules stay a mapping: their keys and types belong to the plan (`RULE_KEYS`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

ALGORITHM = "ssj-draw/1"
SAMPLER = (
    "consistent-sampler 1.0.10 sampler(ids, seed, with_replacement=False, take=k, output='id')"
)


def label_of(department: str, code: str, round: int | str) -> str:
    """`CZ-SJJ-TZ/2026-01/第1轮`: how officials name a draw (it resolves back to its id)."""
    return f"{department}/{code}/第{round}轮"


class FactsError(ValueError):
    """Stored facts that are not the shape this version of ssj writes."""


def _keys(where: str, value: Any, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or tuple(value) != keys:
        found = list(value) if isinstance(value, Mapping) else type(value).__name__
        raise FactsError(f"{where}: expected keys {list(keys)}, found {found}")
    return value


def _int(where: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise FactsError(f"{where}: expected an integer, found {value!r}")
    return value


def _str(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise FactsError(f"{where}: expected text, found {value!r}")
    return value


def _strs(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise FactsError(f"{where}: expected a list, found {value!r}")
    return tuple(_str(where, v) for v in value)


def _lists(where: str, value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise FactsError(f"{where}: expected a mapping, found {value!r}")
    return {_str(where, k): _strs(f"{where}.{k}", v) for k, v in value.items()}


@dataclass(frozen=True)
class PlanRef:
    """The plan, at the version the draw froze."""

    id: str
    department: str
    code: str
    version: int
    year: int

    KEYS = ("id", "department", "code", "version", "year")

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "department": self.department,
            "code": self.code,
            "version": self.version,
            "year": self.year,
        }

    @classmethod
    def of(cls, value: Any) -> PlanRef:
        d = _keys("plan", value, cls.KEYS)
        return cls(
            _str("plan.id", d["id"]),
            _str("plan.department", d["department"]),
            _str("plan.code", d["code"]),
            _int("plan.version", d["version"]),
            _int("plan.year", d["year"]),
        )


@dataclass(frozen=True)
class Stratum:
    """One stratum's committed size, sample size k and Merkle root of its sorted ids."""

    name: str
    size: int
    k: int
    root: str

    KEYS = ("name", "size", "k", "root")

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "k": self.k, "root": self.root}

    @classmethod
    def of(cls, value: Any, where: str) -> Stratum:
        d = _keys(where, value, cls.KEYS)
        return cls(
            _str(f"{where}.name", d["name"]),
            _int(f"{where}.size", d["size"]),
            _int(f"{where}.k", d["k"]),
            _str(f"{where}.root", d["root"]),
        )


@dataclass(frozen=True)
class Pool:
    """An inspector or expert pool: its size and the Merkle root of its members."""

    size: int
    root: str

    KEYS = ("size", "root")

    def as_dict(self) -> dict[str, Any]:
        return {"size": self.size, "root": self.root}

    @classmethod
    def of(cls, value: Any, where: str) -> Pool:
        d = _keys(where, value, cls.KEYS)
        return cls(_int(f"{where}.size", d["size"]), _str(f"{where}.root", d["root"]))


@dataclass(frozen=True)
class Pools:
    inspectors: dict[str, Pool]  # department -> its inspectors' pool
    experts: Pool

    KEYS = ("inspectors", "experts")

    def as_dict(self) -> dict[str, Any]:
        return {
            "inspectors": {d: p.as_dict() for d, p in self.inspectors.items()},
            "experts": self.experts.as_dict(),
        }

    @classmethod
    def of(cls, value: Any) -> Pools:
        d = _keys("pools", value, cls.KEYS)
        inspectors = d["inspectors"]
        if not isinstance(inspectors, Mapping):
            raise FactsError(f"pools.inspectors: expected a mapping, found {inspectors!r}")
        return cls(
            {
                _str("pools.inspectors", k): Pool.of(v, f"pools.inspectors.{k}")
                for k, v in inspectors.items()
            },
            Pool.of(d["experts"], "pools.experts"),
        )


@dataclass(frozen=True)
class DrandRound:
    """The future drand round named at commit time (its randomness arrives later)."""

    chain: str
    round: int
    round_time: int  # Unix seconds at which the round is published

    KEYS = ("chain", "round", "round_time")

    def as_dict(self) -> dict[str, Any]:
        return {"chain": self.chain, "round": self.round, "round_time": self.round_time}

    @classmethod
    def of(cls, value: Any) -> DrandRound:
        d = _keys("entropy.drand", value, cls.KEYS)
        return cls(
            _str("entropy.drand.chain", d["chain"]),
            _int("entropy.drand.round", d["round"]),
            _int("entropy.drand.round_time", d["round_time"]),
        )


@dataclass(frozen=True)
class Entropy:
    """The entropy sources to come: witnesses in order, their minimum digits, a drand round."""

    witnesses: tuple[str, ...]
    min_dice_digits: int
    drand: DrandRound | None

    KEYS = ("witnesses", "min_dice_digits", "drand")

    def as_dict(self) -> dict[str, Any]:
        return {
            "witnesses": list(self.witnesses),
            "min_dice_digits": self.min_dice_digits,
            "drand": None if self.drand is None else self.drand.as_dict(),
        }

    @classmethod
    def of(cls, value: Any) -> Entropy:
        d = _keys("entropy", value, cls.KEYS)
        return cls(
            _strs("entropy.witnesses", d["witnesses"]),
            _int("entropy.min_dice_digits", d["min_dice_digits"]),
            None if d["drand"] is None else DrandRound.of(d["drand"]),
        )


@dataclass(frozen=True)
class DrawFacts:
    """Everything a commit fixes, in the order the Committed event stores it."""

    plan: PlanRef
    round: int
    drawn_on: str  # ISO date
    window: tuple[str, str]  # the inspection window, ISO dates
    as_of_seq: int  # the registry as of this ledger seq
    departments: tuple[str, ...]  # the lead first, then cooperating departments
    items: dict[str, tuple[str, ...]]  # department -> item codes
    specialties: dict[str, tuple[str, ...]]  # item key -> required specialties
    rules: Mapping[str, Any]  # the plan's rules (RULE_KEYS)
    considered: int  # targets of the departments considered
    eligible: int  # targets eligible after exclusions
    exclusions: dict[str, int]  # reason -> targets excluded, sorted by reason
    strata: tuple[Stratum, ...]
    pools: Pools
    entropy: Entropy
    nonce_commitment: str
    algorithm: str = ALGORITHM
    sampler: str = SAMPLER

    KEYS = (
        "algorithm",
        "sampler",
        "plan",
        "round",
        "drawn_on",
        "window",
        "as_of_seq",
        "departments",
        "items",
        "specialties",
        "rules",
        "registry",
        "exclusions",
        "strata",
        "pools",
        "entropy",
        "nonce_commitment",
    )

    def as_dict(self) -> dict[str, Any]:
        """The stored form: what the Committed event holds and the commit digest hashes."""
        return {
            "algorithm": self.algorithm,
            "sampler": self.sampler,
            "plan": self.plan.as_dict(),
            "round": self.round,
            "drawn_on": self.drawn_on,
            "window": list(self.window),
            "as_of_seq": self.as_of_seq,
            "departments": list(self.departments),
            "items": {d: list(codes) for d, codes in self.items.items()},
            "specialties": {k: list(v) for k, v in self.specialties.items()},
            "rules": dict(self.rules),
            "registry": {"considered": self.considered, "eligible": self.eligible},
            "exclusions": dict(self.exclusions),
            "strata": [s.as_dict() for s in self.strata],
            "pools": self.pools.as_dict(),
            "entropy": self.entropy.as_dict(),
            "nonce_commitment": self.nonce_commitment,
        }

    @classmethod
    def of(cls, value: Any) -> DrawFacts:
        """Stored facts read back; a FactsError unless they are exactly this version's shape."""
        if isinstance(value, DrawFacts):
            return value
        d = _keys("facts", value, cls.KEYS)
        if d["algorithm"] != ALGORITHM:
            raise FactsError(f"facts: unknown algorithm {d['algorithm']!r} (this is {ALGORITHM})")
        window = _strs("window", d["window"])
        if len(window) != 2:
            raise FactsError(f"window: expected two dates, found {list(window)}")
        registry = _keys("registry", d["registry"], ("considered", "eligible"))
        exclusions = d["exclusions"]
        if not isinstance(exclusions, Mapping):
            raise FactsError(f"exclusions: expected a mapping, found {exclusions!r}")
        rules = d["rules"]
        if not isinstance(rules, Mapping):
            raise FactsError(f"rules: expected a mapping, found {rules!r}")
        strata = d["strata"]
        if not isinstance(strata, list):
            raise FactsError(f"strata: expected a list, found {strata!r}")
        return cls(
            plan=PlanRef.of(d["plan"]),
            round=_int("round", d["round"]),
            drawn_on=_str("drawn_on", d["drawn_on"]),
            window=(window[0], window[1]),
            as_of_seq=_int("as_of_seq", d["as_of_seq"]),
            departments=_strs("departments", d["departments"]),
            items=_lists("items", d["items"]),
            specialties=_lists("specialties", d["specialties"]),
            rules=dict(rules),
            considered=_int("registry.considered", registry["considered"]),
            eligible=_int("registry.eligible", registry["eligible"]),
            exclusions={
                _str("exclusions", k): _int(f"exclusions.{k}", v) for k, v in exclusions.items()
            },
            strata=tuple(Stratum.of(s, f"strata[{n}]") for n, s in enumerate(strata)),
            pools=Pools.of(d["pools"]),
            entropy=Entropy.of(d["entropy"]),
            nonce_commitment=_str("nonce_commitment", d["nonce_commitment"]),
            algorithm=ALGORITHM,
            sampler=_str("sampler", d["sampler"]),
        )

    def canonical(self) -> bytes:
        """Sorted-key compact JSON of the stored form: the bytes the commit digest hashes."""
        return orjson.dumps(self.as_dict(), option=orjson.OPT_SORT_KEYS)

    def digest(self) -> str:
        """The commit digest: SHA-256 of the canonical bytes, hex."""
        return hashlib.sha256(self.canonical()).hexdigest()

    @property
    def label(self) -> str:
        return label_of(self.plan.department, self.plan.code, self.round)

    def stratum(self, name: str) -> Stratum:
        return next(s for s in self.strata if s.name == name)
