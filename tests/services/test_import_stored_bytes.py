"""What an import stores, byte for byte: the events and envelopes of a small registry export
(120 rows, one with a bad check character, 15-digit 注册号 among them) compared with the
recording made before the import was made faster (tests/data/golden/import_export_120.json).
Checked in the importing process or in a checker process while it writes: the same events.
Only what differs on every run is masked: the event's `timestamp`, the envelope's
`recorded_at`, `prev`, `key_id` (a fresh key per test) and its state digest, which is checked
against the stored state instead. Both backends, CSV (GBK) and XLSX: the same events."""

from __future__ import annotations

import csv
import hashlib
import itertools
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from ops.bench.registry import EXPORT_HEADER, export_rows, write_xlsx
from ssj.domain.organisation import Role
from ssj.services.imports import Options, import_file
from tests.services.conftest import OWN, Jurisdiction

GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "import_export_120.json"
ROWS = 120
_TIMESTAMP = re.compile(rb'("timestamp":\{"_type_":"datetime_iso","_data_":")[^"]+"')


def _export(tmp_path: Path, fmt: str) -> Path:
    path = tmp_path / f"export.{fmt}"
    rows = export_rows(ROWS, 2026)
    if fmt == "csv":
        with path.open("w", encoding="gbk", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(EXPORT_HEADER)
            writer.writerows(rows)
    else:
        write_xlsx(path, itertools.chain([list(EXPORT_HEADER)], rows))
    return path


def stored_after(j: Jurisdiction, start: int) -> list[dict[str, Any]]:
    """The events and envelopes from seq `start`, with what varies per run masked."""
    recorder = j.services.ledger.ledger_recorder
    envelopes = recorder.select_envelopes(start, 10_000)
    events = {e[0]: e for e in recorder.select_event_rows(envelopes[0][1], 10_000)}
    found = []
    for seq, nid, data, signature in envelopes:
        _, originator, version, topic, state = events[nid]
        envelope = orjson.loads(data)
        assert envelope.pop("state_sha256") == hashlib.sha256(state).hexdigest()
        for name in ("recorded_at", "prev", "key_id"):
            assert envelope.pop(name)
        assert len(signature) == 64
        assert envelope["seq"] == seq
        envelope["seq"] -= start
        found.append(
            {
                "originator_id": originator,
                "originator_version": version,
                "topic": topic,
                "state": _TIMESTAMP.sub(rb'\1*"', state, count=1).decode(),
                "envelope": envelope,
            }
        )
    return found


@pytest.mark.parametrize("checker", ["inline", "process"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_stored_events_of_an_import_are_unchanged(
    jurisdiction: Jurisdiction,
    tmp_path: Path,
    fmt: str,
    checker: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Checked in this process or in a checker process (SSJ_IMPORT_CHECKER): the same bytes."""
    monkeypatch.setenv("SSJ_IMPORT_CHECKER", checker)
    j = jurisdiction
    start = j.services.ledger.size()
    options = Options(department=OWN, skip_invalid=True, rejects=tmp_path / f"rejects.{fmt}")
    report = import_file(
        j.services, j.as_role(Role.ADMIN), "targets", _export(tmp_path, fmt), options=options
    )
    assert (report.created, report.rejected) == (ROWS - 1, 1)
    found = stored_after(j, start)
    assert found == orjson.loads(GOLDEN.read_bytes())
