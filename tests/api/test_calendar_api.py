"""The working-day endpoints over CalendarService, on both backends, through TestClient:
public deadlines and arrangements, registration by administrators only."""

from __future__ import annotations

from typing import Any

from ssj.domain.access import Refusal
from tests.api.test_registry_api import Api, api, assert_bilingual
from tests.services.conftest import jurisdiction

__all__ = ["api", "jurisdiction"]  # the registry API tests' fixtures, shared here

BODY: dict[str, Any] = {
    "document": "国办发明电〔2030〕99号 国务院办公厅关于2031年部分节假日安排的通知",
    "holidays": ["2031-01-01", "2031-01-22..2031-01-28", "2031-10-01..2031-10-07"],
    "workdays": ["2031-01-19", "2031-02-08", "2031-09-28", "2031-10-11"],
}


def deadline(api: Api, start: str, n: object, **params: object) -> Any:
    return api.get("/calendar/deadline", who=None, params={"start": start, "n": n, **params})


def test_public_deadlines(api: Api) -> None:
    found = deadline(api, "2024-02-08", 2)
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["deadline"] == "2024-02-18" and body["n"] == 2 and body["start"] == "2024-02-08"
    assert isinstance(body["as_of"], int)
    assert deadline(api, "2025-09-26", 20).json()["deadline"] == "2025-10-30"
    assert deadline(api, "2026-09-30", 20).json()["deadline"] == "2026-11-03"
    assert deadline(api, "2026-02-10", 0).json()["deadline"] == "2026-02-10"

    unknown = assert_bilingual(deadline(api, "2031-01-17", 4), 409, "calendar_year_unknown")
    assert "ssj calendar register 2031" in unknown["message_en"]
    assert_bilingual(deadline(api, "2024-02-30", 1), 422)
    assert_bilingual(deadline(api, "2024-02-08", -1), 422)
    assert_bilingual(deadline(api, "2024-02-08", "x"), 422)
    assert_bilingual(api.get("/calendar/deadline", who=None, params={"n": 1}), 422)

    shown = api.get("/calendar/2024", who=None)
    assert shown.status_code == 200, shown.text
    year = shown.json()
    assert year["source"] == "package" and year["versions"] == []
    assert "2024-02-04" in year["workdays"] and "2024-10-07" in year["holidays"]
    assert_bilingual(api.get("/calendar/2031", who=None), 409, "calendar_year_unknown")


def test_registration_by_administrators(api: Api) -> None:
    before_seq = api.head_seq()
    assert_bilingual(api.post("/calendar/2031", BODY, who=None), 401, "unauthenticated")
    size = api.size()
    assert_bilingual(api.post("/calendar/2031", BODY, who="leader"), 403, "forbidden")
    assert api.size() == size + 1
    logged = api.j.services.ledger.read(size, 1)[0].event
    assert isinstance(logged, Refusal.Recorded) and logged.command == "manage_calendar"  # type: ignore[attr-defined]

    size = api.size()
    bad = {**BODY, "workdays": ["2031-01-01"]}
    assert assert_bilingual(api.post("/calendar/2031", bad), 422)["field"] == "workdays"
    outside = {**BODY, "holidays": ["2032-01-01"]}
    assert assert_bilingual(api.post("/calendar/2031", outside), 422)["field"] == "holidays"
    assert_bilingual(api.post("/calendar/2031", {**BODY, "extra": 1}), 422)
    assert api.size() == size

    created = api.post("/calendar/2031", BODY)
    assert created.status_code == 201, created.text
    registered = created.json()
    assert registered["outcome"] == "created"
    assert registered["arrangement"]["source"] == "ledger"
    assert registered["arrangement"]["versions"][0]["recorded_by"] == "root"
    registered_seq = registered["seq"]
    assert deadline(api, "2031-01-17", 4).json()["deadline"] == "2031-01-29"
    # Replayable: as of a seq before the registration the year was unknown.
    old = deadline(api, "2031-01-17", 4, at_seq=before_seq)
    assert_bilingual(old, 409, "calendar_year_unknown")
    assert deadline(api, "2031-01-17", 4, at_seq=registered_seq).status_code == 200

    # Registering again amends, with a reason; the same again writes nothing.
    assert api.post("/calendar/2031", BODY).json()["outcome"] == "unchanged"
    corrected = {**BODY, "workdays": ["2031-01-19", "2031-02-08", "2031-09-28"]}
    assert assert_bilingual(api.post("/calendar/2031", corrected), 422)["field"] == "reason"
    amended = api.post("/calendar/2031", {**corrected, "reason": "更正"})
    assert amended.status_code == 200, amended.text
    assert amended.json()["outcome"] == "updated"

    public = api.get("/calendar/2031", who=None).json()
    assert public["source"] == "ledger" and "2031-10-11" not in public["workdays"]
    assert [v["version"] for v in public["versions"]] == [1, 2]
    assert public["versions"][1]["reason"] == "更正"
    assert all("recorded_by" not in v for v in public["versions"])  # the public sees no names
    at_seq = api.get("/calendar/2031", who=None, params={"as_of": registered_seq}).json()
    assert "2031-10-11" in at_seq["workdays"] and len(at_seq["versions"]) == 1
    assert deadline(api, "2031-10-10", 1).json()["deadline"] == "2031-10-13"
    assert deadline(api, "2031-10-10", 1, at_seq=registered_seq).json()["deadline"] == "2031-10-11"
