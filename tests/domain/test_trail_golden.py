"""The trail's text stays byte-identical: every event class, described with and without what the
trail remembers of its aggregate, and a representative history replayed, against a golden file.

The golden file was written by the trail as it stood before its descriptions moved beside their
aggregates (issue #15 item 6); any change to what officials read shows here as a diff. After an
intended change of wording, rewrite it with `SSJ_WRITE_GOLDEN=1` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ssj.domain.trail import Described, Memo, Replay, describe
from tests.domain.test_trail import EVENT_CLASSES, representative_history, synthetic

GOLDEN = Path(__file__).with_name("trail_golden.json")
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MEMO: Memo = {
    "subjects": [["target", "T-1"], ["task", "K-1"]],
    "team": ["I-1", "I-2"],
    "label": "D0/2026-01/第1轮",
    "department": "D0",
    "departments": ["D0", "D1"],
    "requests": {"x": {"target": "T-9", "certificate_no": "C-9"}},
    "draw": "R-1",
    "identifier": "T-1",
}


def shown(described: Described) -> dict[str, Any]:
    return {
        "kind": described.kind,
        "kind_zh": described.kind_zh,
        "summary": described.summary,
        "subjects": [list(s) for s in described.subjects],
        "notes": [[list(s), text] for s, text in described.notes.items()],
        "remember": described.remember,
        "departments": [[list(s), list(d)] for s, d in described.departments.items()],
    }


def stable(text: str) -> str:
    """UUIDs numbered by first appearance: aggregates made afresh get new ones each run."""
    seen: dict[str, str] = {}
    return UUID_TEXT.sub(lambda m: seen.setdefault(m.group(), f"uuid-{len(seen) + 1}"), text)


def current() -> str:
    found: dict[str, Any] = {"events": {}, "replay": {}}
    for n, cls in enumerate(EVENT_CLASSES, start=1):
        event = synthetic(cls, fixed=n)
        found["events"][cls.__qualname__] = {
            "forgotten": shown(describe(event, lambda _: None)),
            "remembered": shown(describe(event, lambda _: MEMO)),
        }
    replay = Replay()
    described = representative_history(replay)
    found["replay"] = {
        "described": [shown(d) for d in described],
        "rows": [[list(s), [vars(r) for r in rows]] for s, rows in replay.rows.items()],
        "memos": replay.memos,
        "departments": [[list(s), list(d)] for s, d in replay.departments.items()],
    }
    return stable(json.dumps(found, ensure_ascii=False, indent=1, default=str))


def test_trail_text_matches_the_golden_file() -> None:
    text = current()
    if os.environ.get("SSJ_WRITE_GOLDEN") == "1":
        GOLDEN.write_text(text + "\n", encoding="utf-8")
    assert text + "\n" == GOLDEN.read_text(encoding="utf-8")
