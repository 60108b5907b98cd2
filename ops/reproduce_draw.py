#!/usr/bin/env python3
"""复核一次双随机抽取 / Re-check one 双随机 draw, independently of ssj.

给纪检监察人员 / For discipline-inspection auditors
----------------------------------------------------
本脚本只用 Python 标准库（不导入 ssj，也不需要任何第三方包），可在任何装有 Python 3.9 及以上版本
的电脑上运行。输入是 `ssj draws export 抽取编号` 导出的 JSON 文件。脚本会：
  1. 由种子输入（抽取编号、承诺摘要、服务器随机数、各见证人的骰子、drand 随机数）重新计算种子；
  2. 核对服务器随机数与事先公布的承诺值；
  3. 对每个分层重新计算派生种子、名录默克尔根（RFC 9162）和抽取结果（Rivest 一致抽样）；
  4. 对每个检查组重新计算各部门执法人员排序和专家排序；
全部一致时退出码为 0，否则为 1，并指出第一处不一致。

    python3 reproduce_draw.py 导出文件.json
    python3 reproduce_draw.py - < 导出文件.json

This script uses the Python standard library only (no ssj, no third-party package) and runs on
any Python 3.9 or later. Its input is the JSON written by `ssj draws export DRAW_ID`. It
recomputes the seed from its inputs (draw id, commit digest, server nonce, every witness's dice,
drand randomness), checks the nonce against the commitment published before the draw, then for
every stratum its derived seed, the population's Merkle root (RFC 9162) and the sample (Rivest's
consistent sampler), and for every team the inspector and expert rankings. Exit status 0 when
everything matches; 1 otherwise, naming the first mismatch.

    python3 reproduce_draw.py export.json
    python3 reproduce_draw.py - < export.json

For a second opinion on a stratum, the script prints a one-line command that redoes it with
Rivest's own package (`pip install consistent-sampler==1.0.10`).

The export and these formulas are the same for a ledger of either cryptographic suite
(ed25519-sha256, or sm2-sm3 for GB/T 39786 密评): the seed, the population roots and the sampler
are SHA-256 by design, so anyone can re-run a draw with standard tools. The ledger's own seals of
the draw's events (SM3 digests and SM2 signatures under sm2-sm3) are checked by `ssj verify` or
`ssj audit verify`, not here.

Formulas (the same as ssj/draw/seed.py, sampler.py and population.py):
  seed    = SHA-256 of the length-prefixed (8-byte big-endian byte length, then UTF-8) list
            ["ssj-draw-seed/1", draw_id, commit_digest, nonce, str(len(dice)),
             witness_1, digits_1, ..., drand_randomness or ""], as 64 hex digits
  stratum seed = seed + "/" + name; team seed = seed + "/team/" + target;
  expert seed  = seed + "/expert/" + target
  ticket(s, id) = "0." + reversed("{:064d}".format(int(SHA-256(hex(SHA-256(s)) + id))))
  sample  = the k ids with the smallest (ticket, id), in that order
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
import unicodedata
from typing import Any

FORMAT = "ssj-draw-export/1"
SEED_DOMAIN = "ssj-draw-seed/1"


class Malformed(Exception):
    """The file is not a well-formed export: nothing can be checked."""


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def draw_seed(
    draw_id: str,
    commit_digest: str,
    nonce: str,
    dice: list[tuple[str, str]],
    drand_randomness: str | None,
) -> str:
    parts = [SEED_DOMAIN, draw_id, commit_digest, nonce, str(len(dice))]
    for witness, digits in dice:
        parts += [witness, digits]
    parts.append(drand_randomness or "")
    encoded = b"".join(len(p.encode("utf-8")).to_bytes(8, "big") + p.encode("utf-8") for p in parts)
    return hashlib.sha256(encoded).hexdigest()


def ticket(seed: str, id: str) -> str:
    digits = f"{int(sha256_hex(sha256_hex(seed) + id), 16):064d}"
    return "0." + digits[::-1]


def ranked(seed: str, ids: set[str]) -> list[str]:
    return [i for _, i in sorted((ticket(seed, i), i) for i in ids)]


def merkle_root(entries: list[str]) -> bytes:
    """RFC 9162 section 2.1.1: MTH of the UTF-8 entries, by its recursive definition."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + entries[0].encode("utf-8")).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    left, right = merkle_root(entries[:k]), merkle_root(entries[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


class Report:
    """Prints each check as it is made and remembers the first mismatch, with its section."""

    def __init__(self) -> None:
        self.first: str | None = None
        self.count = 0
        self.where = ("", "")

    def section(self, zh: str, en: str, note: str = "") -> None:
        self.where = (zh, en)
        print(f"{zh} / {en}" + (f": {note}" if note else ""))

    def check(self, label: str, ok: bool, detail: str = "") -> bool:
        """`label` is "中文 / English"; the section's names are put in front of each half."""
        self.count += 1
        mark = "通过 OK" if ok else "不符 MISMATCH"
        print(f"  [{mark}] {label}" + (f": {detail}" if detail else ""))
        if not ok and self.first is None:
            zh, en = label.split(" / ", 1)
            where_zh, where_en = self.where
            self.first = f"{where_zh} {zh} / {where_en} {en}".strip()
            self.first += f": {detail}" if detail else ""
        return ok


def field(obj: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise Malformed(f"{where} 缺少 {key} / {where} has no {key}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Malformed(f"{where}.{key} 类型错误 / {where}.{key} has the wrong type")
    return value


def strings(values: Any, where: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise Malformed(f"{where} 应为字符串列表 / {where} must be a list of strings")
    return values


def short(ids: list[str], n: int = 5) -> str:
    return ", ".join(ids[:n]) + (f", … ({len(ids)})" if len(ids) > n else "")


def first_difference(recorded: list[Any], recomputed: list[Any]) -> str:
    for i in range(min(len(recorded), len(recomputed))):
        a, b = recorded[i], recomputed[i]
        if a != b:
            return f"第 {i + 1} 位 / position {i + 1}: 记录 recorded {a!r}, 复算 recomputed {b!r}"
    return f"长度 / length: 记录 recorded {len(recorded)}, 复算 recomputed {len(recomputed)}"


def check_seed(export: dict[str, Any], report: Report) -> str:
    inputs = field(export, "seed_inputs", dict, "export")
    draw_id = field(inputs, "draw_id", str, "seed_inputs")
    commit = field(inputs, "commit_digest", str, "seed_inputs")
    nonce = field(inputs, "nonce", str, "seed_inputs")
    commitment = field(inputs, "nonce_commitment", str, "seed_inputs")
    dice: list[tuple[str, str]] = []
    for n, d in enumerate(field(inputs, "dice", list, "seed_inputs")):
        where = f"seed_inputs.dice[{n}]"
        dice.append((field(d, "witness", str, where), field(d, "digits", str, where)))
    drand = inputs.get("drand")
    randomness = None
    if drand is not None:
        field(drand, "round", int, "seed_inputs.drand")
        randomness = field(drand, "randomness", str, "seed_inputs.drand")

    report.section("种子", "seed")
    # one spelling only: fromhex ignores case and spaces, but the seed hashes the text
    try:
        nonce_bytes = bytes.fromhex(nonce)
    except ValueError:
        nonce_bytes = None
    if nonce_bytes is None or nonce_bytes.hex() != nonce:
        nonce_hash = "(不是小写十六进制 / not lower-case hex)"
    else:
        nonce_hash = hashlib.sha256(nonce_bytes).hexdigest()
    report.check(
        "随机数承诺 / nonce commitment",
        nonce_hash == commitment,
        "" if nonce_hash == commitment else f"SHA-256(nonce) = {nonce_hash} ≠ {commitment}",
    )
    print(
        "  见证人骰子 / witnesses' dice: "
        + ("; ".join(f"{w} = {d}" for w, d in dice) or "(无 / none)")
    )
    if drand is not None and randomness is not None:
        print(f"  drand 第 {drand['round']} 轮 / round {drand['round']}: {randomness}")
        canonical = len(randomness) == 64 and all(c in "0123456789abcdef" for c in randomness)
        report.check(
            "drand 随机数为 64 位小写十六进制 / drand randomness is 64 lower-case hex digits",
            canonical,
        )
    seed = draw_seed(draw_id, commit, nonce, dice, randomness)
    recorded = field(export, "seed", str, "export")
    report.check(
        "种子 / seed",
        seed == recorded,
        seed if seed == recorded else f"复算 recomputed {seed} ≠ 记录 recorded {recorded}",
    )
    return seed


def check_stratum(n: int, stratum: dict[str, Any], seed: str, source: str, report: Report) -> None:
    where = f"strata[{n}]"
    name = field(stratum, "name", str, where)
    k = field(stratum, "k", int, where)
    ids = strings(field(stratum, "ids", list, where), where + ".ids")
    recorded = strings(field(stratum, "sample", list, where), where + ".sample")
    report.section(f"分层 {name}", f"stratum {name}", f"总体 population {len(ids)}, 抽取 k = {k}")

    derived = seed + "/" + name
    recorded_seed = field(stratum, "seed", str, where)
    report.check(
        "派生种子 / derived seed",
        recorded_seed == derived,
        "" if recorded_seed == derived else f"应为 expected {derived!r}",
    )
    size = field(stratum, "size", int, where)
    report.check(
        "总体数量 / size", size == len(ids), "" if size == len(ids) else f"{size} ≠ {len(ids)}"
    )
    canonical = sorted(unicodedata.normalize("NFC", i) for i in ids)
    distinct = len(set(canonical)) == len(canonical)
    report.check(
        "名录规范排序且无重复 / ids NFC, sorted, distinct",
        canonical == ids and distinct,
    )
    root = merkle_root(ids).hex()
    recorded_root = field(stratum, "population_root", str, where)
    report.check(
        "名录默克尔根 / population root",
        root == recorded_root,
        root
        if root == recorded_root
        else f"复算 recomputed {root} ≠ 记录 recorded {recorded_root}",
    )
    if k < 0:
        report.check("抽取数量 / k", False, f"k = {k} < 0")
        return
    again = ranked(derived, set(ids))[:k]
    report.check(
        "抽取结果 / sample",
        again == recorded,
        short(again) if again == recorded else first_difference(recorded, again),
    )
    print(
        "  用参考实现复算 / redo with the reference package (pip install consistent-sampler==1.0.10):\n"
        f'    python3 -c "import json,sys; from consistent_sampler import sampler; '
        f"s=json.load(open(sys.argv[1]))['strata'][{n}]; "
        "print(list(sampler(s['ids'], s['seed'], with_replacement=False, take=s['k'], "
        f"output='id')) == s['sample'])\" {source}"
    )


def check_team(n: int, team: dict[str, Any], seed: str, report: Report) -> None:
    where = f"teams[{n}]"
    target = field(team, "target", str, where)
    report.section(f"检查对象 {target}", f"target {target}")
    derived = seed + "/team/" + target
    recorded_seed = field(team, "seed", str, where)
    report.check(
        "检查组种子 / team seed",
        recorded_seed == derived,
        "" if recorded_seed == derived else f"应为 expected {derived!r}",
    )
    rankings = field(team, "rankings", dict, where)
    listed = set()
    for department, order in rankings.items():
        order = strings(order, f"{where}.rankings[{department}]")
        listed.update(order)
        again = ranked(derived, set(order))
        report.check(
            f"部门 {department} 执法人员排序 / inspector ranking of {department}",
            again == order and len(set(order)) == len(order),
            "" if again == order else first_difference(order, again),
        )
    members = strings(field(team, "team", list, where), where + ".team")
    outside = [m for m in members if m not in listed]
    report.check(
        "检查组成员均在排序中 / team members all ranked",
        not outside and len(set(members)) == len(members),
        short(members) if not outside else "不在排序中 / not ranked: " + short(outside),
    )
    experts = strings(field(team, "expert_ranking", list, where), where + ".expert_ranking")
    again = ranked(seed + "/expert/" + target, set(experts))
    report.check(
        "专家排序 / expert ranking",
        again == experts and len(set(experts)) == len(experts),
        "" if again == experts else first_difference(experts, again),
    )
    chosen = strings(field(team, "experts", list, where), where + ".experts")
    outside = [e for e in chosen if e not in set(experts)]
    report.check(
        "专家均在排序中 / experts all ranked",
        not outside,
        "" if not outside else "不在排序中 / not ranked: " + short(outside),
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 2
    source = argv[1]
    try:
        if source == "-":
            export = json.load(sys.stdin)
        else:
            with open(source, encoding="utf-8") as f:
                export = json.load(f)
    except (OSError, ValueError) as e:
        print(f"无法读取导出文件 / cannot read the export: {e}")
        return 1
    report = Report()
    try:
        if not isinstance(export, dict) or export.get("format") != FORMAT:
            raise Malformed(f"不是 {FORMAT} 导出文件 / not an {FORMAT} export")
        draw = field(export, "draw", dict, "export")
        print(f"抽取复核 / draw reproduction: {draw.get('id')} {draw.get('label', '')}")
        for key in ("plan", "department", "drawn_on", "as_of_seq", "commit_seq", "reveal_seq"):
            print(f"  {key}: {draw.get(key)}")
        print(f"  抽样方法 / sampler: {export.get('sampler')}")
        seed = check_seed(export, report)
        for n, stratum in enumerate(field(export, "strata", list, "export")):
            path = "export.json" if source == "-" else shlex.quote(source)
            check_stratum(n, stratum, seed, path, report)
        for n, team in enumerate(field(export, "teams", list, "export")):
            check_team(n, team, seed, report)
    except Malformed as e:
        print(f"导出文件格式错误 / malformed export: {e}")
        return 1
    print()
    if report.first is not None:
        print(f"结论：不一致 / RESULT: MISMATCH — 第一处 / first: {report.first}")
        return 1
    print(f"结论：全部 {report.count} 项一致 / RESULT: all {report.count} checks match")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
