"""ops/reproduce_draw.py, run as an auditor would: a bare interpreter, stdlib only, on an export
built with ssj's own functions; every tampered field must be caught and named."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ssj.draw.population import frozen, population_root
from ssj.draw.sampler import ranked, sample
from ssj.draw.seed import draw_seed, expert_seed, nonce_commitment, stratum_seed, team_seed

SCRIPT = Path(__file__).resolve().parents[2] / "ops" / "reproduce_draw.py"
# -I: no environment variables, user site or script directory; -S: no site-packages at all,
# so the script can only import the standard library
PYTHON = [shutil.which("python3") or sys.executable, "-I", "-S"]

NONCE = "5f" * 32
DRAND = {
    "round": 657413,
    "randomness": "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587",
}


def build_export() -> dict[str, Any]:
    dice = [{"witness": "王纪检", "digits": "482913"}, {"witness": "Li Notary", "digits": "07"}]
    inputs = {
        "draw_id": "draw-2024-07-食品",
        "commit_digest": "9a" * 32,
        "nonce": NONCE,
        "nonce_commitment": nonce_commitment(NONCE),
        "dice": dice,
        "drand": DRAND,
    }
    seed = draw_seed(
        inputs["draw_id"],
        inputs["commit_digest"],
        NONCE,
        [(d["witness"], d["digits"]) for d in dice],
        DRAND["randomness"],
    )
    pools = {
        "A类": [f"91310000{i:09d}X" for i in range(300)],
        "餐饮": [f"餐饮店{i}" for i in range(30)] + ["Café\u0301", "小吃-é"],
    }
    strata = []
    for (name, pool), k in zip(pools.items(), (12, 5), strict=True):
        ids = frozen(pool)
        strata.append(
            {
                "name": name,
                "seed": stratum_seed(seed, name),
                "size": len(ids),
                "k": k,
                "population_root": population_root(ids),
                "ids": ids,
                "sample": sample(stratum_seed(seed, name), ids, k),
            }
        )
    teams = []
    for target in strata[0]["sample"][:2]:
        tseed = team_seed(seed, target)
        rankings = {
            "市场监管局": ranked(tseed, [f"3101{i:06d}" for i in range(15)]),
            "卫健委": ranked(tseed, [f"WJ-{i}" for i in range(6)]),
        }
        experts = ranked(expert_seed(seed, target), [f"专家{i}" for i in range(8)])
        teams.append(
            {
                "target": target,
                "seed": tseed,
                "rankings": rankings,
                "team": rankings["市场监管局"][:2] + rankings["卫健委"][:1],
                "expert_ranking": experts,
                "experts": experts[:1],
            }
        )
    return {
        "format": "ssj-draw-export/1",
        "draw": {
            "id": inputs["draw_id"],
            "label": "2024年7月食品经营抽查",
            "plan": "plan-2024-07",
            "department": "市场监管局",
            "drawn_on": "2024-07-15",
            "as_of_seq": 1200,
            "commit_seq": 1201,
            "reveal_seq": 1205,
        },
        "sampler": "consistent-sampler 1.0.10 sampler(ids, seed, with_replacement=False, take=k, output='id')",
        "seed": seed,
        "seed_inputs": inputs,
        "strata": strata,
        "teams": teams,
    }


def run(export: Any, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "export 导出.json"
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    return subprocess.run(
        [*PYTHON, str(SCRIPT), str(path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )


@pytest.fixture(scope="module")
def export() -> dict[str, Any]:
    return build_export()


def test_untouched_export_reproduces(export: dict[str, Any], tmp_path: Path) -> None:
    out = run(export, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "RESULT: all" in out.stdout
    assert "MISMATCH" not in out.stdout
    assert out.stderr == ""
    assert out.stdout.count("consistent_sampler") == len(export["strata"])


def test_printed_reference_command_agrees(export: dict[str, Any], tmp_path: Path) -> None:
    """The one-liner an auditor copies, run with the reference package installed."""
    out = run(export, tmp_path)
    commands = [
        line.strip() for line in out.stdout.splitlines() if "from consistent_sampler" in line
    ]
    assert len(commands) == 2
    for command in commands:
        assert command.startswith("python3 -c ")
        redo = subprocess.run(
            command.replace("python3", f"'{sys.executable}'", 1),
            shell=True,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert redo.stdout.strip() == "True", redo.stderr


def test_reads_stdin(export: dict[str, Any]) -> None:
    out = subprocess.run(
        [*PYTHON, str(SCRIPT), "-"],
        input=json.dumps(export),
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout


def _set_sample_id(e: dict[str, Any]) -> None:
    stratum = e["strata"][0]
    stratum["sample"][3] = next(i for i in stratum["ids"] if i not in stratum["sample"])


def _set_root(e: dict[str, Any]) -> None:
    e["strata"][1]["population_root"] = "00" * 32


def _set_seed(e: dict[str, Any]) -> None:
    e["seed"] = "0" + e["seed"][1:] if e["seed"][0] != "0" else "1" + e["seed"][1:]


def _set_dice(e: dict[str, Any]) -> None:
    e["seed_inputs"]["dice"][0]["digits"] = "482914"


def _set_ranking(e: dict[str, Any]) -> None:
    r = e["teams"][1]["rankings"]["卫健委"]
    r[0], r[1] = r[1], r[0]


def _set_nonce(e: dict[str, Any]) -> None:
    e["seed_inputs"]["nonce"] = "5e" + NONCE[2:]


def _nonce_spelling(e: dict[str, Any]) -> None:
    e["seed_inputs"]["nonce"] = NONCE.upper()  # same bytes, same commitment, another seed


def _drand_spelling(e: dict[str, Any]) -> None:
    e["seed_inputs"]["drand"] = {**DRAND, "randomness": DRAND["randomness"].upper()}


def _add_id(e: dict[str, Any]) -> None:
    e["strata"][0]["ids"].append("99999999999999999Z")
    e["strata"][0]["size"] += 1


def _swap_ids(e: dict[str, Any]) -> None:
    ids = e["strata"][0]["ids"]
    ids[0], ids[1] = ids[1], ids[0]


def _team_outsider(e: dict[str, Any]) -> None:
    e["teams"][0]["team"][1] = "3101999999"


def _expert_order(e: dict[str, Any]) -> None:
    e["teams"][0]["expert_ranking"].reverse()


def _stratum_seed(e: dict[str, Any]) -> None:
    e["strata"][1]["seed"] += "x"


@pytest.mark.parametrize(
    ("tamper", "first"),
    [
        (_set_sample_id, "stratum A类 sample: 第 4 位 / position 4"),
        (_set_root, "stratum 餐饮 population root"),
        (_set_seed, "种子 / seed"),
        (_set_dice, "种子 / seed"),
        (_set_ranking, "inspector ranking of 卫健委: 第 1 位 / position 1"),
        (_set_nonce, "nonce commitment: SHA-256(nonce) = "),
        (
            _nonce_spelling,
            "nonce commitment: SHA-256(nonce) = (不是小写十六进制 / not lower-case hex)",
        ),
        (_drand_spelling, "drand randomness is 64 lower-case hex digits"),
        (_add_id, "stratum A类 population root"),
        (_swap_ids, "stratum A类 ids NFC, sorted, distinct"),
        (_team_outsider, "team members all ranked: 不在排序中 / not ranked: 3101999999"),
        (_expert_order, "expert ranking"),
        (_stratum_seed, "stratum 餐饮 derived seed"),
    ],
)
def test_tampering_is_caught_and_named(
    export: dict[str, Any],
    tmp_path: Path,
    tamper: Callable[[dict[str, Any]], None],
    first: str,
) -> None:
    changed = copy.deepcopy(export)
    tamper(changed)
    out = run(changed, tmp_path)
    assert out.returncode == 1, out.stdout
    verdict = out.stdout.strip().splitlines()[-1]
    assert verdict.startswith("结论：不一致 / RESULT: MISMATCH")
    assert first in verdict, verdict


@pytest.mark.parametrize(
    "export_text",
    [
        "not json",
        "[]",
        json.dumps({"format": "other"}),
        json.dumps({"format": "ssj-draw-export/1"}),
    ],
)
def test_malformed_export_fails(tmp_path: Path, export_text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(export_text, encoding="utf-8")
    out = subprocess.run(
        [*PYTHON, str(SCRIPT), str(path)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 1
    assert "export" in out.stdout
